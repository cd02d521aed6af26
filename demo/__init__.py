"""The Gradio app (app.py) and the engine glue it adapts (service.py)."""
