"""Gradio app: interactive style transfer and the ONNX extractor API.

``make demo`` (or ``python demo/app.py``) serves it on 127.0.0.1:7860; set
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change that. On a Hugging Face GPU
Space this file is the ``app_file``. Callbacks only adapt types; the work is
in ``demo/service.py`` and ``stylecore``.
"""

from __future__ import annotations

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


def _config(preset: str, iterations: float, size: float, log_cw: float, log_sw: float, log_tv: float,
            preview_every: float, optimizer: str, init: str, seed: float) -> StyleConfig:  # fmt: skip
    """The UI's controls on top of the preset (layers come from the preset)."""
    return PRESETS[preset].with_overrides(
        iterations=int(iterations), size=min(int(size), MAX_SIDE), content_weight=10**log_cw,
        style_weight=10**log_sw, tv_weight=10**log_tv, save_every=int(preview_every), optimizer=optimizer,
        init=init, seed=int(seed), lr=None,
    )  # fmt: skip


def _plot(rows: list[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["iteration", "term", "loss"])


def _status(done: int, total: int, seconds: float, final: bool = False) -> str:
    note = "" if MODELS.trained else " **Untrained random weights: a smoke test, not real style transfer.**"
    verb = "Done" if final else "Running"
    return f"{verb}: step {done} / {total}, {seconds:.1f} s.{note}"


def run(content: str | None, style: str | None, preset: str, iterations: float, size: float, log_cw: float,
        log_sw: float, log_tv: float, preview_every: float, optimizer: str, init: str, seed: float,
        progress: gr.Progress = gr.Progress()) -> Iterator[tuple[Any, Any, str, Any]]:  # fmt: skip
    """Stream (preview, loss plot, status, download) while the optimisation runs."""
    try:
        config = _config(preset, iterations, size, log_cw, log_sw, log_tv, preview_every, optimizer, init, seed)
        if MODELS.extractor is None:
            raise StylecoreError(MODELS.weights_error)
        content_image = service.read_upload(content, "a content image", MAX_SIDE * 4)
        style_image = service.read_upload(style, "a style image", MAX_SIDE * 4)
        update = None
        for update in service.stream(MODELS, content_image, style_image, config):
            p = update.progress
            progress((p.iteration, p.iterations), desc="Stylising", unit="steps")
            preview, plot = (update.preview, _plot(update.losses)) if update.preview else (gr.skip(), gr.skip())
            yield preview, plot, _status(p.iteration, p.iterations, p.elapsed), gr.skip()
        assert update is not None and update.preview is not None  # the last step is always a snapshot
        path = service.save_result(update.preview, config, MODELS)
        final = _status(update.progress.iteration, update.progress.iterations, update.progress.elapsed, final=True)
        yield update.preview, _plot(update.losses), final, str(path)
    except StylecoreError as exc:
        raise _error(exc) from None


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

        run = spaces.GPU(duration=lambda *a, **k: service.gpu_seconds(int(a[4]), int(a[3])))(run)
    except ImportError:
        pass


def _notice() -> str:
    if MODELS.weights_error:
        return f"⚠️ **Style transfer is unavailable: no VGG19 weights.** {MODELS.weights_error}"
    if not MODELS.trained:
        return "⚠️ Running with **untrained random VGG19 weights** (`STYLECORE_WEIGHTS=random`): results are not art."
    return f"Weights: {MODELS.weights_label}. Device: {'GPU' if ON_GPU else 'CPU (keep sizes small)'}."


def build() -> gr.Blocks:
    seed_preset = PRESETS["seed"]
    with gr.Blocks(title="stylecore: neural style transfer", analytics_enabled=False) as demo:
        gr.Markdown("# Neural style transfer\nGatys et al. on VGG19: pick a photo and a painting, press Run.")
        gr.Markdown(_notice())
        with gr.Tab("Stylise"):
            with gr.Row():
                content = checked_image(label="Content photo", sources=["upload", "clipboard"], height=320)
                style = checked_image(label="Style image", sources=["upload", "clipboard"], height=320)
                result = gr.Image(
                    label="Result", type="pil", format="png", interactive=False, height=320, elem_id="result"
                )
            gr.Examples(
                [
                    [str(service.EXAMPLES / "chelsea.jpg"), str(service.EXAMPLES / f)]
                    for f in ("strokes.png", "hubble.jpg")
                ],
                inputs=[content, style],
            )
            with gr.Row():
                run_button = gr.Button("Run", variant="primary", elem_id="run")
                stop_button = gr.Button("Stop", variant="stop")
            status = gr.Markdown()
            with gr.Row():
                plot = gr.LinePlot(x="iteration", y="loss", color="term", label="Weighted loss terms", height=260)
                download = gr.File(label="Download PNG", interactive=False)
            with gr.Accordion("Settings", open=True):
                with gr.Row():
                    preset = gr.Dropdown(
                        sorted(PRESETS),
                        value="seed",
                        label="Preset",
                        info="seed: the original design; gatys: the paper",
                    )
                    iterations = gr.Slider(
                        1,
                        2000,
                        value=seed_preset.iterations if ON_GPU else 100,
                        step=1,
                        label="Iterations",
                        elem_id="iterations",
                    )
                    size = gr.Slider(
                        64,
                        MAX_SIDE,
                        value=512 if ON_GPU else 256,
                        step=32,
                        label="Output size (long side, px)",
                        elem_id="size",
                    )
                    preview_every = gr.Slider(1, 200, value=10, step=1, label="Preview every N steps")
                with gr.Row():
                    log_cw = gr.Slider(-2, 3, value=0, step=0.1, label="Content weight (log10)")
                    log_sw = gr.Slider(-2, 4, value=1, step=0.1, label="Style weight (log10)")
                    log_tv = gr.Slider(-4, 2, value=0, step=0.1, label="Smoothness / TV weight (log10)")
                with gr.Row():
                    optimizer = gr.Radio(["adam", "lbfgs"], value="adam", label="Optimiser")
                    init = gr.Radio(["content", "noise", "style"], value="content", label="Start from")
                    seed = gr.Number(0, precision=0, label="Seed")
        with gr.Tab("Extractor API"):
            gr.Markdown("Gram matrices of `conv1_1 … conv5_1`, computed with the exported ONNX model.")
            with gr.Row():
                probe = checked_image(label="Image")
                with gr.Column():
                    extract_button = gr.Button("Extract", variant="primary")
                    provider = gr.Markdown()
                    grams_file = gr.File(label="Gram matrices (.npz)")
                    summary = gr.JSON(label="Summary")

        controls = [
            content,
            style,
            preset,
            iterations,
            size,
            log_cw,
            log_sw,
            log_tv,
            preview_every,
            optimizer,
            init,
            seed,
        ]
        run_event = run_button.click(run, controls, [result, plot, status, download], api_name="stylize")
        stop_button.click(None, cancels=[run_event])
        preset.change(
            preset_values, preset, [iterations, log_cw, log_sw, log_tv, optimizer, init], api_visibility="private"
        )
        extract_button.click(extract, probe, [grams_file, summary, provider], api_name="extract", concurrency_limit=4)
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
