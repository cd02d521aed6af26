"""The Gradio app: app.py builds the page from the settings table (settings.py); service.py runs it without Gradio."""
