"""Gradio app: interactive style transfer and the ONNX extractor API.

``make demo`` (or ``python demo/app.py``) serves it on 127.0.0.1:7860; set
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change that. On a Hugging Face GPU
Space this file is the ``app_file``. Callbacks only adapt types; the work is
in ``demo/service.py`` and ``stylecore``.
"""

from __future__ import annotations

import inspect
import math
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

# Spaces run `python demo/app.py`, which puts demo/ (not the repo) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import gradio as gr
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError

from demo import service
from stylecore import PRESETS, StyleConfig, StylecoreError

ON_GPU = torch.cuda.is_available()
MAX_SIDE = int(os.environ.get("STYLECORE_MAX_SIDE", 1024 if ON_GPU else 512))
MAX_UPLOAD = "20mb"
#: Runs stop cleanly, with the image so far, after this many seconds (Space request limits).
TIME_BUDGET = float(os.environ.get("STYLECORE_TIME_BUDGET", 600))
MODELS = service.load_models(Path(os.environ.get("STYLECORE_ONNX", service.REPO / "artifacts/vgg19_extractor.onnx")))


def checked_image(**kwargs: Any) -> gr.Image:
    """A gr.Image whose unreadable uploads become one clear sentence, not a stack trace.

    It hands over the file as uploaded (image_mode=None); stylecore decodes it,
    honours EXIF and composites alpha onto white. The preprocess hook is set on
    the instance: a subclass would make Gradio write a .pyi stub into demo/.
    """
    image = gr.Image(type="filepath", image_mode=None, **kwargs)
    decode = image.preprocess

    def preprocess(payload: Any) -> Any:
        try:
            return decode(payload)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError):
            message = "That file is not an image we can read; upload a PNG, JPEG or WebP."
            raise gr.Error(message, print_exception=False) from None

    image.preprocess = preprocess  # type: ignore[method-assign]
    return image


def _error(exc: Exception) -> gr.Error:
    return gr.Error(str(exc), print_exception=False)


def _config(settings: dict[str, Any]) -> StyleConfig:
    """The UI's controls on top of the preset (layers come from the preset)."""
    blend = float(settings["blend"])
    return PRESETS[settings["preset"]].with_overrides(
        iterations=int(settings["iterations"]),
        size=min(int(settings["size"]), MAX_SIDE),
        content_weight=10 ** float(settings["log_cw"]),
        style_weight=10 ** float(settings["log_sw"]),
        tv_weight=10 ** float(settings["log_tv"]),
        save_every=int(settings["preview_every"]),
        optimizer=settings["optimizer"],
        init=settings["init"],
        seed=int(settings["seed"]),
        style_scale=float(settings["style_scale"]),
        preserve_colors=settings["preserve_colors"],
        scales=int(settings["scales"]),
        style_blend=(blend, 1 - blend) if settings.get("style2") else None,
        time_budget=TIME_BUDGET,
        lr=None,
    )


def _plot(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["iteration", "term", "loss"])


def _status(done: int, total: int, seconds: float, final: bool = False, notes: list[str] | None = None) -> str:
    note = "" if MODELS.trained else " **Untrained random weights: a smoke test, not real style transfer.**"
    verb = "Done" if final else "Running"
    extra = "".join(f" Note: {n}." for n in notes or [])
    return f"{verb}: step {done} / {total}, {seconds:.1f} s.{note}{extra}"


def run(content: str | None, style: str | None, style2: str | None, blend: float, preset: str, iterations: float,
        size: float, log_cw: float, log_sw: float, log_tv: float, preview_every: float, optimizer: str, init: str,
        seed: float, style_scale: float, preserve_colors: str, scales: float,
        progress: gr.Progress = gr.Progress()) -> Iterator[tuple[Any, Any, str, Any]]:  # fmt: skip
    """Stream (preview, loss plot, status, download) while the optimisation runs."""
    settings = dict(locals())
    try:
        config = _config(settings)
        if MODELS.extractor is None:
            raise StylecoreError(MODELS.weights_error)
        content_image = service.read_upload(content, "a content image", MAX_SIDE * 4)
        styles = [service.read_upload(style, "a style image", MAX_SIDE * 4)]
        if style2:
            styles.append(service.read_upload(style2, "a second style image", MAX_SIDE * 4))
        update = None
        for update in service.stream(MODELS, content_image, styles, config):
            p = update.progress
            progress((p.iteration, p.iterations), desc="Stylising", unit="steps")
            preview, plot = (update.preview, _plot(update.losses)) if update.preview else (gr.skip(), gr.skip())
            yield preview, plot, _status(p.iteration, p.iterations, p.elapsed, notes=update.notes), gr.skip()
        assert update is not None and update.preview is not None  # the last step is always a snapshot
        path = service.save_result(update.preview, config, MODELS)
        p = update.progress
        yield (
            update.preview,
            _plot(update.losses),
            _status(p.iteration, p.iterations, p.elapsed, True, update.notes),
            str(path),
        )
    except StylecoreError as exc:
        raise _error(exc) from None


def memory_estimate(content: str | None, size: float, preset: str, optimizer: str) -> str:
    """Markdown next to the size slider; a bad upload just gives the square-image estimate."""
    try:
        image = service.read_upload(content, "", MAX_SIDE * 4) if content else None
    except StylecoreError:
        image = None
    return service.memory_note(image, min(int(size), MAX_SIDE), PRESETS[preset].with_overrides(optimizer=optimizer))


def extract(image: str | None) -> tuple[str, dict[str, Any], str]:
    """Gram matrices of conv1_1 … conv5_1 (ONNX Runtime) as .npz, plus a JSON summary."""
    try:
        picture = service.read_upload(image, "an image", MAX_SIDE)
        path, summary = service.extract_grams(MODELS, picture)
    except StylecoreError as exc:
        raise _error(exc) from None
    return str(path), summary, f"Served by ONNX Runtime on **{summary['provider']}**."


def preset_values(preset: str) -> tuple[Any, ...]:
    """Move the controls to a preset's values when it is picked."""
    c = PRESETS[preset]
    return (c.iterations if ON_GPU else min(c.iterations, 100), math.log10(c.content_weight),
            math.log10(c.style_weight), math.log10(c.tv_weight), c.optimizer, c.init)  # fmt: skip


if ON_GPU:
    try:  # ZeroGPU Spaces: ask for a GPU slot sized to the run
        import spaces

        def _duration(*args: Any, **kwargs: Any) -> int:
            bound = inspect.signature(run).bind(*args, **kwargs).arguments
            return service.gpu_seconds(int(bound["size"]), int(bound["iterations"]))

        run = spaces.GPU(duration=_duration)(run)
    except ImportError:
        pass


def _notice() -> str:
    if MODELS.weights_error:
        return f"⚠️ **Style transfer is unavailable: no VGG19 weights.** {MODELS.weights_error}"
    if not MODELS.trained:
        return "⚠️ Running with **untrained random VGG19 weights** (`STYLECORE_WEIGHTS=random`): results are not art."
    return f"Weights: {MODELS.weights_label}. Device: {'GPU' if ON_GPU else 'CPU (keep sizes small)'}."


def _images() -> dict[str, Any]:
    with gr.Row():
        content = checked_image(label="Content photo", sources=["upload", "clipboard"], height=320)
        with gr.Column():
            style = checked_image(label="Style image", sources=["upload", "clipboard"], height=320)
            with gr.Accordion("Blend a second style", open=False):
                style2 = checked_image(label="Second style image (optional)", height=200)
                blend = gr.Slider(0, 1, value=0.5, step=0.05, label="Share of the first style")
        result = gr.Image(label="Result", type="pil", format="png", interactive=False, height=320, elem_id="result")
    examples = [
        [str(service.EXAMPLES / "chelsea.jpg"), str(service.EXAMPLES / f)] for f in ("strokes.png", "hubble.jpg")
    ]
    gr.Examples(examples, inputs=[content, style])
    return {"content": content, "style": style, "style2": style2, "blend": blend, "result": result}


def _settings() -> dict[str, Any]:
    """The run settings, named as run()'s parameters."""
    with gr.Accordion("Settings", open=True):
        with gr.Row():
            preset = gr.Dropdown(
                sorted(PRESETS), value="seed", label="Preset", info="seed: the design; gatys: the paper"
            )
            iterations = gr.Slider(
                1, 2000, value=1000 if ON_GPU else 100, step=1, label="Iterations", elem_id="iterations"
            )
            with gr.Column():
                default_size = 512 if ON_GPU else 256
                size = gr.Slider(64, MAX_SIDE, value=default_size, step=32, label="Output size (px)", elem_id="size")
                memory = gr.Markdown(elem_id="memory")
            preview_every = gr.Slider(1, 200, value=10, step=1, label="Preview every N steps")
        with gr.Row():
            log_cw = gr.Slider(-2, 3, value=0, step=0.1, label="Content weight (log10)")
            log_sw = gr.Slider(-2, 4, value=1, step=0.1, label="Style weight (log10)")
            log_tv = gr.Slider(-4, 2, value=0, step=0.1, label="Smoothness / TV weight (log10)")
            style_scale = gr.Slider(0.25, 2, value=1, step=0.05, label="Style scale", info="> 1: bigger brush strokes")
        with gr.Row():
            preserve_colors = gr.Radio(["none", "luminance", "match"], value="none", label="Keep the photo's colours")
            scales = gr.Slider(0, 4, value=1, step=1, label="Coarse-to-fine scales", info="0: automatic")
            optimizer = gr.Radio(["adam", "lbfgs"], value="adam", label="Optimiser")
            init = gr.Radio(["content", "noise", "style"], value="content", label="Start from")
            seed = gr.Number(0, precision=0, label="Seed")
    return dict(locals())


def _extract_tab() -> None:
    with gr.Tab("Extractor API"):
        gr.Markdown("Gram matrices of `conv1_1 … conv5_1`, computed with the exported ONNX model.")
        with gr.Row():
            probe = checked_image(label="Image")
            with gr.Column():
                button = gr.Button("Extract", variant="primary")
                provider = gr.Markdown()
                grams_file = gr.File(label="Gram matrices (.npz)")
                summary = gr.JSON(label="Summary")
    button.click(extract, probe, [grams_file, summary, provider], api_name="extract", concurrency_limit=4)


def build() -> gr.Blocks:
    with gr.Blocks(title="stylecore: neural style transfer", analytics_enabled=False) as demo:
        gr.Markdown("# Neural style transfer\nGatys et al. on VGG19: pick a photo and a painting, press Run.")
        gr.Markdown(_notice())
        with gr.Tab("Stylise"):
            ui = _images()
            with gr.Row():
                run_button = gr.Button("Run", variant="primary", elem_id="run")
                stop_button = gr.Button("Stop", variant="stop")
            status = gr.Markdown()
            with gr.Row():
                plot = gr.LinePlot(x="iteration", y="loss", color="term", label="Weighted loss terms", height=260)
                download = gr.File(label="Download PNG", interactive=False)
            ui |= _settings()
        _extract_tab()
        inputs = [ui[name] for name in inspect.signature(run).parameters if name != "progress"]
        run_event = run_button.click(run, inputs, [ui["result"], plot, status, download], api_name="stylize")
        stop_button.click(None, cancels=[run_event])
        preset_outputs = [ui[n] for n in ("iterations", "log_cw", "log_sw", "log_tv", "optimizer", "init")]
        ui["preset"].change(preset_values, ui["preset"], preset_outputs, api_visibility="private")
        memory_inputs = [ui[n] for n in ("content", "size", "preset", "optimizer")]
        for trigger in memory_inputs:
            trigger.change(memory_estimate, memory_inputs, ui["memory"], api_visibility="private")
        demo.load(memory_estimate, memory_inputs, ui["memory"], api_visibility="private")
    return demo


demo = build()
demo.queue(max_size=16, default_concurrency_limit=1)  # one run at a time fits one GPU


def launch(**overrides: Any) -> Any:
    """Start serving; host and port default to $GRADIO_SERVER_NAME / $GRADIO_SERVER_PORT."""
    options: dict[str, Any] = {"max_file_size": MAX_UPLOAD, "enable_monitoring": False, "show_error": False}
    return demo.launch(**{**options, **overrides})


if __name__ == "__main__":
    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"stylecore demo: http://{host}:{port}", flush=True)
    launch(server_name=host, server_port=port)
