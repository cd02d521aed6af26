"""Write, check and profile the ONNX version of the VGG19 feature extractor.

Run ``make export`` or ``python -m export --help``.
"""
