"""Gradio app: interactive style transfer, the ONNX extractor API, and both as MCP tools.

``make demo`` (or ``python demo/app.py``) serves it on 127.0.0.1:7860; set
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change that. On a Hugging Face Space
this file is the ``app_file``. Callbacks only adapt types; the work is in
``demo/service.py`` and ``stylecore``; hosting, uploads, limits and controls
each have their own module here.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Spaces run `python demo/app.py`, which puts demo/ (not the repo) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo import hosting  # noqa: I001 - first: it imports `spaces` before torch can touch CUDA

import functools
import importlib.util
import inspect
import math
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import Any

import gradio as gr
import pandas as pd
from gradio.context import LocalContext
from starlette.middleware import Middleware

from demo import controls, layout, service
from demo.limits import BodyLimit, ClientLimit, client_keys, pending_keys
from demo.outputs import OutputDir
from demo.uploads import (
    MAX_UPLOAD,
    MAX_UPLOAD_BYTES,
    Rejected,
    Upload,
    as_input,
)
from stylecore import PRESETS, ConfigError, StyleConfig, StylecoreError, resolve_device
from stylecore.model.layers import MIN_SIDE

HW = hosting.detect()
NUMBERS = controls.numbers(HW)
#: Results, Grams and uploads live at most this long (Gradio's cache and ours).
CACHE_S = 3600
#: UI updates per second at most (plus every preview): on a GPU a step takes milliseconds.
UPDATE_INTERVAL_S = 0.25
#: JSON bodies (queue joins, MCP calls) up to a base64-encoded upload, and a little more.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES * 4 // 3 + 2**20
DEFAULT_PRESET = "original"
ONNX_DIR = Path(os.environ.get("STYLECORE_ONNX_DIR", service.REPO / "artifacts"))
# ZeroGPU: ONNX Runtime is not patched by `spaces`, and outside a GPU call there is
# no GPU, so /extract runs on the CPU there (a second on one image; no quota spent).
ONNX_PROVIDERS = None if HW.kind == "gpu" else ["CPUExecutionProvider"]
MODELS = service.load_models(ONNX_DIR, device=str(resolve_device("auto")), onnx_providers=ONNX_PROVIDERS)
OUTPUTS = OutputDir(keep_s=CACHE_S)
LIMIT = ClientLimit(HW.per_client)


def _defaults(preset: StyleConfig) -> dict[str, Any]:
    """The controls' starting values: the preset's own, on this host's scale."""
    return {
        "blend": 0.5, "preset": DEFAULT_PRESET, "iterations": HW.default_iterations, "size": HW.default_size,
        "log_cw": math.log10(preset.content_weight), "log_sw": math.log10(preset.style_weight),
        "log_tv": math.log10(preset.tv_weight), "preview_every": 10, "optimizer": preset.optimizer,
        "init": preset.init, "seed": preset.seed, "style_scale": preset.style_scale,
        "preserve_colors": preset.preserve_colors, "scales": preset.scales, "style_loss": preset.style_loss,
    }  # fmt: skip


DEFAULTS = _defaults(PRESETS[DEFAULT_PRESET])
#: An image input as the checked component hands it over.
Input = Upload | Rejected | None
IMAGE_INPUTS = ("content", "style", "style2", "region", "painted")


def _config(settings: dict[str, Any], two_styles: bool) -> tuple[StyleConfig, list[str]]:
    """The run's config, and the notes to say aloud (a size over this host's limit is clamped, not refused)."""
    settings, notes = controls.clamp_size(settings, HW)
    size, iterations = NUMBERS["size"].parse(settings["size"]), NUMBERS["iterations"].parse(settings["iterations"])
    budget = hosting.run_budget(HW, int(size), int(iterations))
    return controls.to_config(settings, HW, two_styles=two_styles, time_budget=budget), notes


def _plot(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The loss rows, plus log10 of each loss: the terms differ by orders of magnitude."""
    frame = pd.DataFrame(rows, columns=["iteration", "term", "loss"])
    frame["log10 loss"] = frame["loss"].clip(lower=1e-12).map(math.log10)
    return frame


def sentence(message: str) -> str:
    """Every message the page shows in one style: a capital first letter and a full stop."""
    message = message.strip() or "Something went wrong; try again."
    return message[0].upper() + message[1:] + ("" if message[-1] in ".!?" else ".")


def _stopped(step: int, total: int) -> str:
    return f"Stopped at step {step} of {total}. The image of that step is under Download PNG."


def _status(done: int, total: int, seconds: float, final: bool = False, notes: list[str] | None = None) -> str:
    note = "" if MODELS.trained else " **Untrained random weights: a smoke test, not real style transfer.**"
    verb = "Done" if final else "Running"
    extra = "".join(f" Note: {n}." for n in notes or [])
    return f"{verb}: step {done} / {total}, {seconds:.1f} s.{note}{extra}"


def _lease(*args: Any, **kwargs: Any) -> int:
    """ZeroGPU's ``duration``: called with stylize()'s arguments; the validator already checked them."""
    bound = inspect.signature(stylize).bind(*args, **kwargs)
    bound.apply_defaults()
    try:
        size = NUMBERS["size"].parse(bound.arguments["size"])
        iterations = NUMBERS["iterations"].parse(bound.arguments["iterations"])
    except ConfigError:
        return hosting.MIN_LEASE_S  # the run itself will refuse these values at once
    return hosting.lease_seconds(int(size), int(iterations))


def stylize(content: Input, style: Input, style2: Input = None, region: Input = None, painted: Input = None,
            blend: float = DEFAULTS["blend"], preset: str = DEFAULTS["preset"],
            iterations: float = DEFAULTS["iterations"], size: float = DEFAULTS["size"],
            log_cw: float = DEFAULTS["log_cw"], log_sw: float = DEFAULTS["log_sw"],
            log_tv: float = DEFAULTS["log_tv"], preview_every: float = DEFAULTS["preview_every"],
            optimizer: str = DEFAULTS["optimizer"], init: str = DEFAULTS["init"], seed: float = DEFAULTS["seed"],
            style_scale: float = DEFAULTS["style_scale"], preserve_colors: str = DEFAULTS["preserve_colors"],
            scales: float = DEFAULTS["scales"], style_loss: str = DEFAULTS["style_loss"],
            progress: gr.Progress = gr.Progress()) -> Iterator[tuple[Any, Any, str, Any]]:  # fmt: skip
    """Paint a photo in the style of an artwork (Gatys et al. neural style transfer on VGG19).

    Streams previews while the picture is optimised, then the finished PNG.

    Args:
        content: the photo whose layout is kept.
        style: the artwork whose colours and textures are copied.
        style2: optional second artwork, blended with the first (or placed by a region).
        region: optional greyscale mask over the photo: white is where the second artwork goes.
        painted: the same region painted in the page's editor (its first layer; API callers use ``region``).
        blend: share of the first artwork when there are two (0 to 1).
        preset: "original" (the design this project started from) or "gatys" (the paper's settings).
        iterations: optimisation steps; more is slower and stronger.
        size: long side of the result in pixels.
        log_cw: content weight, as a power of ten.
        log_sw: style weight, as a power of ten.
        log_tv: smoothness (total variation) weight, as a power of ten.
        preview_every: send a preview every this many steps.
        optimizer: "adam" or "lbfgs".
        init: start from the "content" photo, "noise" or the "style" image.
        seed: random seed for noise.
        style_scale: artwork size relative to the result; above 1 gives bigger brush strokes.
        preserve_colors: "none", "luminance" (keep the photo's colours) or "match".
        scales: coarse-to-fine scales (0 picks automatically).
        style_loss: style statistics: "gram" (Gatys et al.), "meancov" (mean and covariance) or
            "sliced" (sliced Wasserstein: the whole distribution of features).
    """
    settings = {
        "blend": blend, "preset": preset, "iterations": iterations, "size": size, "log_cw": log_cw,
        "log_sw": log_sw, "log_tv": log_tv, "preview_every": preview_every, "optimizer": optimizer, "init": init,
        "seed": seed, "style_scale": style_scale, "preserve_colors": preserve_colors, "scales": scales,
        "style_loss": style_loss,
    }  # fmt: skip
    content, style, style2, region, painted = (as_input(v) for v in (content, style, style2, region, painted))
    try:
        config, notes = _config(settings, two_styles=style2 is not None)
        if MODELS.extractor is None:
            raise StylecoreError(MODELS.weights_error)
        problem = service.size_problem(content, "photo", config.size) or service.size_problem(style, "style image", 0)
        if problem:
            raise StylecoreError(problem)
        photo = service.read_upload(content, "a content photo", config.size)
        style_side = max(MIN_SIDE, round(config.size * config.style_scale))  # decode no larger than used
        uploads = [style] + ([style2] if style2 else [])
        styles = [service.read_upload(u, "a style image", style_side) for u in uploads]
        regions = _regions(region, painted, two_styles=style2 is not None)
        yield from _stream(photo, styles, config, service.result_name(content, style), progress, regions, notes)
    except StylecoreError as exc:
        raise gr.Error(sentence(str(exc)), print_exception=False) from None


def _regions(region: Input, painted: Input, two_styles: bool) -> list[Any] | None:
    """[None, mask]: the first style fills what the second style's region leaves (painting wins)."""
    mask = service.read_region(painted, painted=True) if painted is not None else None
    if mask is None:
        mask = service.read_region(region, painted=False)
    if mask is None:
        return None
    if not two_styles:
        raise StylecoreError("a region places the second style: add a second style image too")
    return [None, mask]


def _stream(photo: Any, styles: list[Any], config: StyleConfig, name: str, progress: gr.Progress,
            regions: list[Any] | None = None, notes: list[str] | None = None) -> Iterator[tuple[Any, ...]]:  # fmt: skip
    """The run's updates for the page, each with (step, steps) last (:func:`tracked` strips it).

    Images that repeat go out as files written once: Gradio re-writes a PIL output's cache
    file on every yield, which truncates it under a browser still downloading it. Every
    preview is such a file, with the settings in its metadata, and is the download until
    the next one: after Stop, the download is the image of the last step shown.
    """
    before = str(service.save_input(photo, OUTPUTS, "before.png", config.size))
    throttle = service.Throttle(UPDATE_INTERVAL_S, time.monotonic)
    for update in service.stream(MODELS, photo, styles, config, regions):
        p, said = update.progress, (notes or []) + update.notes
        if update.final and update.preview is not None:  # the final update always carries the result
            path = str(service.save_result(update.preview, config, MODELS, OUTPUTS, name))
            status = _status(p.iteration, p.iterations, p.elapsed, True, said)
            yield (before, path), _plot(update.losses), status, path, (p.iteration, p.iterations)
        elif throttle(force=update.preview is not None):
            progress((p.iteration, p.iterations), desc="Stylising", unit="steps")
            step_name = name.replace(".png", f"-step{p.iteration}.png")
            slider, download = gr.skip(), gr.skip()
            if update.preview:
                shot = str(service.save_result(update.preview, config, MODELS, OUTPUTS, step_name))
                slider, download = (before, shot), shot
            plot = _plot(update.losses) if update.preview else gr.skip()
            status = _status(p.iteration, p.iterations, p.elapsed, notes=said)
            yield slider, plot, status, download, (p.iteration, p.iterations)


#: What the Run button calls: on ZeroGPU, inside a GPU lease sized by _lease().
gpu_stylize = hosting.gpu_task(duration=_lease)(stylize)
#: The step of the last image each client was sent (its download), for Stop's status line.
LAST_STEP: dict[tuple[str, ...], tuple[int, int]] = {}
#: Clients who pressed Stop: their run sends nothing more (a late update would overwrite "Stopped").
STOPPED: set[tuple[str, ...]] = set()
_LAST_LOCK = threading.Lock()


def tracked(fn: Callable[..., Iterator[tuple[Any, ...]]]) -> Callable[..., Generator[tuple[Any, ...], None, None]]:
    """``fn``'s run, counted as running for its client from its first step until it ends, however it ends.

    This runs in the app's own process (outside the ZeroGPU worker), so the count and the
    last step seen live where the validator and Stop read them.
    """

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Generator[tuple[Any, ...], None, None]:
        keys = client_keys(LocalContext.request.get(None))
        with LIMIT.running(keys):
            for *update, step in fn(*args, **kwargs):
                with _LAST_LOCK:
                    if keys in STOPPED:
                        return
                    if isinstance(update[3], str):  # an image went out as the download
                        LAST_STEP[keys] = step
                yield tuple(update)

    return run


api_stylize = tracked(gpu_stylize)


def page_stylize(ok: bool, *args: Any) -> Iterator[tuple[Any, ...]]:
    """The page's run: only when :func:`page_check` passed; an error lands next to Run and in the status."""
    if not ok:  # the page check said why, next to Run; a generator with no yield would clear it
        yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return
    keys = client_keys(LocalContext.request.get(None))
    run = api_stylize(*args)
    try:
        for update in run:
            yield (*update, "")
    except gr.Error as exc:
        yield gr.skip(), gr.skip(), exc.message, gr.skip(), exc.message
    finally:
        run.close()  # after Stop: ends the optimisation (and frees the worker) now
    if keys in STOPPED:  # the last word in this run's own stream, after any update already under way
        yield gr.skip(), gr.skip(), stop()[0], gr.skip(), ""


page_stylize.__signature__ = inspect.signature(stylize).replace(  # type: ignore[attr-defined]
    parameters=[inspect.Parameter("ok", inspect.Parameter.POSITIONAL_ONLY),
                *inspect.signature(stylize).parameters.values()]
)  # fmt: skip


def page_check(*values: Any) -> tuple[str, str, bool]:
    """The page's Run, first: (message next to Run, status line, go on). It never raises: no toast."""
    names = [n for n in inspect.signature(stylize).parameters if n != "progress"]
    request = LocalContext.request.get(None)
    _name, problem = _first_problem(dict(zip(names, values, strict=True)), request)
    if problem:
        return problem, problem, False
    keys = client_keys(request)
    with _LAST_LOCK:
        STOPPED.discard(keys)
        LAST_STEP.pop(keys, None)
    return "", "Starting…", True


def stop() -> tuple[str, str]:
    """Stop: the run sends nothing more and ends at its next step; the status says where it stopped.

    Not Gradio's ``cancels``: an update already on its way would then land after this one
    and the status would say "Running" again. The run's own stream ends with the same words.
    """
    keys = client_keys(LocalContext.request.get(None))
    with _LAST_LOCK:
        STOPPED.add(keys)
        step = LAST_STEP.get(keys)
    return (_stopped(*step) if step else "Stopped before the first step."), ""


def check_run(content: Input, style: Input, style2: Input, region: Input, painted: Input, blend: Any, preset: Any,
              iterations: Any, size: Any, log_cw: Any, log_sw: Any, log_tv: Any, preview_every: Any,
              optimizer: Any, init: Any, seed: Any, style_scale: Any, preserve_colors: Any, scales: Any,
              style_loss: Any, request: gr.Request) -> list[dict[str, Any]]:  # fmt: skip
    """Gradio calls this before a run joins the queue: bad inputs and busy clients never wait in it.

    It takes stylize()'s inputs (Gradio passes the request only to positional parameters) and
    returns one ``gr.validate`` per input; the first problem found is reported on its input.
    """
    values = {
        "content": content, "style": style, "style2": style2, "region": region, "painted": painted,
        "blend": blend, "preset": preset,
        "iterations": iterations, "size": size, "log_cw": log_cw, "log_sw": log_sw, "log_tv": log_tv,
        "preview_every": preview_every, "optimizer": optimizer, "init": init, "seed": seed,
        "style_scale": style_scale, "preserve_colors": preserve_colors, "scales": scales, "style_loss": style_loss,
    }  # fmt: skip
    values = {k: as_input(v) if k in IMAGE_INPUTS else v for k, v in values.items()}
    verdicts = {name: gr.validate(True, "") for name in values}
    name, problem = _first_problem(values, request)
    if problem:
        verdicts[name] = gr.validate(False, problem)
    return list(verdicts.values())


def _first_problem(values: dict[str, Any], request: gr.Request | None) -> tuple[str, str | None]:
    for name in IMAGE_INPUTS:
        if isinstance(values[name], Rejected):
            return name, values[name].message
    if values["content"] is None or values["style"] is None:
        return ("content" if values["content"] is None else "style"), "Please upload a content photo and a style image."
    if values["region"] is not None and values["style2"] is None:
        return "region", "A region places the second style: add a second style image too."
    settings = {k: v for k, v in values.items() if k not in IMAGE_INPUTS}
    try:
        config, _notes = _config(settings, two_styles=values["style2"] is not None)
    except ConfigError as exc:
        return _blame(str(exc)), sentence(str(exc))
    for name, what, side in (("content", "photo", config.size), ("style", "style image", 0)):
        problem = service.size_problem(values[name], what, side)
        if problem:
            return name, problem
    return "content", LIMIT.admit(client_keys(request), pending_keys(demo._queue, "stylize"))


def _blame(message: str) -> str:
    """The control a config message is about (by its label or name), else the first setting."""
    labels = {n.label: name for name, n in NUMBERS.items()}
    labels |= {name.replace("_", " "): name for name in controls.CHOICES}
    return next((name for label, name in labels.items() if message.startswith(label)), "iterations")


def memory_estimate(content: Input, size: float, preset: str, optimizer: str) -> str:
    """Markdown under the size slider, from the upload's header (nothing is decoded)."""
    content = as_input(content)
    try:
        side = int(NUMBERS["size"].parse(size))
        chosen = PRESETS[controls.choice("preset", preset)]
        config = chosen.with_overrides(optimizer=controls.choice("optimizer", optimizer))
    except ConfigError as exc:
        return str(exc)
    return service.memory_note(content.size if isinstance(content, Upload) else None, side, config, HW.on_gpu)


def extract(image: Input) -> tuple[str, dict[str, Any], str]:
    """Gram matrices of VGG19's conv1_1 … conv5_1 for one image, computed with ONNX Runtime.

    Args:
        image: the image to describe; its long side is reduced to the app's size limit first.
    """
    try:
        picture = service.read_upload(as_input(image), "an image", HW.max_side, like_cli=False)
        path, summary = service.extract_grams(MODELS, picture, OUTPUTS)
    except StylecoreError as exc:
        raise gr.Error(sentence(str(exc)), print_exception=False) from None
    return str(path), summary, f"Served by ONNX Runtime on **{summary['provider']}**."


def iteration_limit(size: Any, iterations: Any) -> Any:
    """The iterations slider's maximum at this size on this host; a value above it comes down to it."""
    most = controls.max_iterations(size, HW)
    if isinstance(iterations, int | float) and iterations <= most:
        return gr.update(maximum=most)  # the value stays as the visitor left it
    return gr.update(maximum=most, value=most)


def preset_values(preset: str) -> tuple[Any, ...]:
    """Move the controls to a preset's values when it is picked."""
    try:
        c = PRESETS[controls.choice("preset", preset)]
    except ConfigError as exc:
        raise gr.Error(sentence(str(exc)), print_exception=False) from None
    return (min(c.iterations, HW.default_iterations), math.log10(c.content_weight),
            math.log10(c.style_weight), math.log10(c.tv_weight), c.optimizer, c.init)  # fmt: skip


def _notice() -> str:
    if MODELS.weights_error:
        return f"⚠️ **Style transfer is unavailable: no VGG19 weights.** {MODELS.weights_error}"
    weights = (
        "⚠️ Running with **untrained random VGG19 weights** (`STYLECORE_WEIGHTS=random`): results are not art."
        if not MODELS.trained
        else f"Weights: {MODELS.weights_label}."
    )
    return f"{weights} {_limits_text()}"


def _limits_text() -> str:
    where = {"zerogpu": "a shared ZeroGPU", "gpu": "a GPU", "cpu": "a CPU (keep sizes small)"}[HW.kind]
    text = f"Runs on {where}: results up to {HW.max_side} px, {HW.per_client} runs per visitor at a time."
    if HW.kind == "zerogpu":
        text += (
            f" Each run holds the GPU for at most {hosting.MAX_LEASE_S} s and stops with its picture before that;"
            " ZeroGPU gives visitors a few GPU minutes a day (more when signed in, most with PRO)."
        )
    else:
        text += f" A run stops with its picture after {HW.time_budget_s:g} s."
    return text


def _video_text() -> str:
    """The page stays single-image; videos and folders are the command line's (README, *Video*)."""
    url = hosting.readme_url("video")
    where = f"[the README's *Video* section]({url})" if url else "the README's *Video* section"
    return (
        "Videos and folders of photos run on your own machine: `stylecore video clip.mp4 style.jpg -o out.mp4` "
        f"(temporally consistent, with the sound) and `stylecore batch photos/ style.jpg -o out/`; see {where}."
    )


def _paint_over(content: Input) -> Any:
    """The editor's background follows the content photo."""
    content = as_input(content)
    return str(content.path) if isinstance(content, Upload) else None


def build() -> gr.Blocks:
    with gr.Blocks(title="stylecore: neural style transfer", analytics_enabled=False,
                   delete_cache=(CACHE_S // 4, CACHE_S)) as blocks:  # fmt: skip
        gr.Markdown("# Neural style transfer\nPick a photo and a painting, press Run.")
        gr.Markdown(_notice())
        with gr.Accordion("Use it from code", open=False):
            gr.Markdown(_video_text(), elem_id="video-note")
        page = layout.Layout(NUMBERS, DEFAULTS)
        with gr.Tab("Stylise"):
            ui = page.images()
            with gr.Row(equal_height=True):
                run_button = gr.Button("Run", variant="primary", elem_id="run", scale=0, min_width=120)
                stop_button = gr.Button("Stop", variant="stop", elem_id="stop", scale=0, min_width=120)
                message = gr.Markdown(elem_id="run-message")
            status = gr.Markdown(label="Status", elem_id="status")
            out = layout.outputs() | {"status": status}
            ui |= page.settings()
        tab = layout.extract_tab()
        tab["button"].click(extract, tab["probe"], tab["outputs"], api_name="extract", concurrency_limit=4)
        ui["content"].change(_paint_over, ui["content"], ui["painted"], api_visibility="private")
        inputs = [ui[name] for name in inspect.signature(stylize).parameters if name != "progress"]
        outputs = [out["result"], out["plot"], out["status"], out["download"]]
        ok = gr.State(False)
        # The page checks first, without the queue, so a problem lands next to Run and in the
        # status (not on a box far above Run); API callers get the same check as a validator.
        checked = run_button.click(page_check, inputs, [message, status, ok], api_visibility="private", queue=False,
                                   show_progress="hidden")  # fmt: skip
        checked.then(
            page_stylize, [ok, *inputs], [*outputs, message], api_visibility="private",
            show_progress_on=[out["result"]],  # not a timer over the message or the status line
            concurrency_limit=HW.concurrency, concurrency_id="stylize",
        )  # fmt: skip
        api_button = gr.Button(visible=False)
        api_button.click(api_stylize, inputs, outputs, api_name="stylize", validator=check_run,
                         concurrency_limit=HW.concurrency, concurrency_id="stylize")  # fmt: skip
        stop_button.click(stop, None, [status, message], queue=False, api_visibility="private",
                          show_progress="hidden")  # fmt: skip
        ui["size"].change(iteration_limit, [ui["size"], ui["iterations"]], ui["iterations"], api_visibility="private")
        blocks.load(iteration_limit, [ui["size"], ui["iterations"]], ui["iterations"], api_visibility="private")
        preset_outputs = [ui[n] for n in ("iterations", "log_cw", "log_sw", "log_tv", "optimizer", "init")]
        ui["preset"].change(preset_values, ui["preset"], preset_outputs, api_visibility="private")
        memory_inputs = [ui[n] for n in ("content", "size", "preset", "optimizer")]
        for trigger in memory_inputs:
            trigger.change(memory_estimate, memory_inputs, ui["memory"], api_visibility="private")
        blocks.load(memory_estimate, memory_inputs, ui["memory"], api_visibility="private")
    assert isinstance(blocks, gr.Blocks)
    return blocks


demo = build()
demo.queue(max_size=HW.queue_size, default_concurrency_limit=1)


def launch(**overrides: Any) -> Any:
    """Start serving; host and port default to $GRADIO_SERVER_NAME / $GRADIO_SERVER_PORT."""
    options: dict[str, Any] = {
        "max_file_size": MAX_UPLOAD,
        "enable_monitoring": False,
        "show_error": False,
        "mcp_server": importlib.util.find_spec("mcp") is not None,  # the gradio[mcp] extra
        "app_kwargs": {"middleware": [Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES)]},
        "css": layout.CSS,
        "js": layout.JS,
    }
    return demo.launch(**{**options, **overrides})


if __name__ == "__main__":
    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"stylecore demo: http://{host}:{port}", flush=True)
    launch(server_name=host, server_port=port)
