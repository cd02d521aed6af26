"""The network: VGG19 layer names (no torch), weights, the torch and ONNX extractors."""
