"""Gradio app: interactive style transfer, the ONNX extractor API, and both as MCP tools.

``make demo`` (or ``python demo/app.py``) serves it on 127.0.0.1:7860; set
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change that. On a Hugging Face Space
this file is the ``app_file``. :func:`create_app` builds the page for a host and
its models; nothing is loaded at import. The module's ``demo`` (what Gradio's
reload mode and Spaces look for) is built on first use.

A run goes one way: upload check (:mod:`demo.uploads`) → settings, parsed once
(:mod:`demo.settings`) → decode (:mod:`demo.inputs`) → ``stylecore``
(:mod:`demo.service`) → outputs (:mod:`demo.outputs`).
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
from dataclasses import dataclass
from typing import Any

import gradio as gr
import pandas as pd
from gradio.context import LocalContext
from starlette.middleware import Middleware

from demo import inputs, layout, models, service, settings
from demo.hosting import Hardware
from demo.inputs import Input, Rejected, Upload
from demo.limits import BodyLimit, ClientLimit, FairQueue, UploadQuota, client_keys, pending_keys
from demo.models import Models
from demo.outputs import OutputDir
from demo.uploads import MAX_UPLOAD, MAX_UPLOAD_BYTES, as_input, exit_on_sigterm, hold_results
from stylecore import ConfigError, StyleConfig, StylecoreError
from stylecore.model.layers import MIN_SIDE

#: Results, Grams and uploads live at most this long (Gradio's cache and ours).
CACHE_S = 3600
#: UI updates per second at most (plus every preview): on a GPU a step takes milliseconds.
UPDATE_INTERVAL_S = 0.25
#: JSON bodies (queue joins, MCP calls) up to a base64-encoded upload, and a little more.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES * 4 // 3 + 2**20
IMAGE_INPUTS = ("content", "style", "style2", "region", "painted")
UNTRAINED = "**Untrained random weights: a smoke test, not real style transfer.**"
RUN_DOC = """Paint a photo in the style of an artwork (Gatys et al. neural style transfer on VGG19).

Streams previews while the picture is optimised, then the finished PNG.

Args:
    content: the photo whose layout is kept.
    style: the artwork whose colours and textures are copied.
    style2: optional second artwork, blended with the first (or placed by a region).
    region: optional greyscale mask over the photo: white is where the second artwork goes.
"""


def sentence(message: str) -> str:
    """Every message the page shows in one style: a capital first letter and a full stop."""
    message = message.strip() or "Something went wrong; try again."
    return message[0].upper() + message[1:] + ("" if message[-1] in ".!?" else ".")


def _error(exc: Exception) -> gr.Error:
    return gr.Error(sentence(str(exc)), print_exception=False)


def _plot(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The loss rows, plus log10 of each loss: the terms differ by orders of magnitude."""
    frame = pd.DataFrame(rows, columns=["iteration", "term", "loss"])
    frame["log10 loss"] = frame["loss"].clip(lower=1e-12).map(math.log10)
    return frame


def _stopped(step: int, total: int) -> str:
    return f"Stopped at step {step} of {total}. The image of that step is under Download PNG."


@dataclass(frozen=True)
class Request:
    """A run that passed every check: its uploads (headers read, nothing decoded) and its config."""

    content: Upload
    style: Upload
    style2: Upload | None
    region: Upload | None
    painted: Upload | None
    config: StyleConfig
    notes: tuple[str, ...]


class Problem(Exception):
    """Why a request cannot run: one sentence, and the input it is about."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where, self.message = where, message


def lease(request: Request, *_args: Any, **_kwargs: Any) -> int:
    """ZeroGPU's ``duration``: called with the run's arguments, which were already checked."""
    return hosting.lease_seconds(request.config.size, request.config.iterations)


def _with_parameters(fn: Callable[..., Any], names: list[str], defaults: dict[str, Any], doc: str,
                     extra: list[inspect.Parameter]) -> Callable[..., Any]:  # fmt: skip
    """``fn`` with a signature of its own (Gradio reads parameter names, defaults and docs from it)."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    params = [inspect.Parameter(n, kind, default=defaults[n]) if n in defaults else inspect.Parameter(n, kind)
              for n in names]  # fmt: skip
    fn.__signature__ = inspect.Signature([*params, *extra])  # type: ignore[attr-defined]
    fn.__doc__ = doc
    fn.__annotations__ = {p.name: p.annotation for p in extra if p.annotation is not inspect.Parameter.empty}
    return fn


class StyleApp:
    """The page and its callbacks for one host and one set of models; :attr:`demo` is the Blocks."""

    def __init__(self, hardware: Hardware, loaded: Models) -> None:
        self.hardware, self.models = hardware, loaded
        self.settings = settings.table(hardware)
        self.defaults = settings.defaults(self.settings)
        self.outputs = OutputDir(keep_s=CACHE_S)
        hold_results(self.outputs.root)  # and remove the folders of apps that ended without cleaning up
        self.limit = ClientLimit(hardware.per_client)
        extracts = ClientLimit(hardware.per_client, what="extractions", stop=False)
        self.fair = FairQueue({"stylize": self.limit, "extract": extracts})  # checked as any call joins the queue
        #: The step of the last image each client was sent (its download), for Stop's status line.
        self.last_step: dict[tuple[str, ...], tuple[int, int]] = {}
        #: Clients who pressed Stop: their run sends nothing more (a late update would overwrite "Stopped").
        self.stopped: set[tuple[str, ...]] = set()
        self._lock = threading.Lock()
        self.names = [*IMAGE_INPUTS, *(s.name for s in self.settings)]
        #: The API's (and MCP's) inputs: the page's painted region is the page's; callers send ``region``.
        self.api_names = [name for name in self.names if name != "painted"]
        #: What the Run button runs: on ZeroGPU, inside a GPU lease sized by :func:`lease`.
        self.gpu_run = hosting.gpu_task(duration=lease)(self.run)
        self.stylize = self._api_function()
        self.check_run = self._validator()
        self.demo = self._build()

    # --- one request, one way: check → decode → stylecore → outputs -----------------------------------------

    def prepare(self, values: dict[str, Any]) -> Request:
        """Every check that needs no decoding, and the settings parsed once; :class:`Problem` says why not."""
        images = {name: as_input(values.get(name)) for name in IMAGE_INPUTS}
        for name, value in images.items():
            if isinstance(value, Rejected):
                raise Problem(name, value.message)
        content, style, style2 = images["content"], images["style"], images["style2"]
        if content is None or style is None:
            raise Problem("content" if content is None else "style", "Please upload a content photo and a style image.")
        if images["region"] is not None and style2 is None:
            raise Problem("region", "A region places the second style: add a second style image too.")
        try:
            checked = settings.check(self.settings, values, self.hardware, two_styles=style2 is not None)
        except ConfigError as exc:
            raise Problem(settings.blame(self.settings, str(exc)), sentence(str(exc))) from None
        if self.models.extractor is None:
            raise Problem("content", sentence(self.models.weights_error or "no weights"))
        for name, what, side in (("content", "photo", checked.config.size), ("style", "style image", 0)):
            problem = inputs.size_problem(images[name], what, side)
            if problem:
                raise Problem(name, problem)
        assert isinstance(content, Upload) and isinstance(style, Upload)  # checked above
        optional = {n: v if isinstance(v, Upload) else None for n, v in images.items()}
        return Request(content, style, optional["style2"], optional["region"], optional["painted"], checked.config,
                       checked.notes)  # fmt: skip

    def run(self, request: Request, progress: Any = None) -> Iterator[tuple[Any, ...]]:
        """Decode, run and write one checked request; the updates end with (step, steps) (see :meth:`tracked`)."""
        try:
            config = request.config
            photo = inputs.read_upload(request.content, "a content photo", config.size)
            style_side = max(MIN_SIDE, round(config.size * config.style_scale))  # decode no larger than used
            uploads = [request.style] + ([request.style2] if request.style2 else [])
            styles = [inputs.read_upload(u, "a style image", style_side) for u in uploads]
            regions = self._regions(request)
            name = inputs.result_name(request.content, request.style)
            yield from self._stream(photo, styles, config, name, progress, regions, list(request.notes))
        except StylecoreError as exc:
            raise _error(exc) from None

    def _regions(self, request: Request) -> list[Any] | None:
        """[None, mask]: the first style fills what the second style's region leaves (painting wins)."""
        mask = inputs.read_region(request.painted, painted=True) if request.painted is not None else None
        if mask is None:
            mask = inputs.read_region(request.region, painted=False)
        if mask is None:
            return None
        if request.style2 is None:
            raise StylecoreError("a region places the second style: add a second style image too")
        return [None, mask]

    def _stream(self, photo: Any, styles: list[Any], config: StyleConfig, name: str, progress: Any,
                regions: list[Any] | None, notes: list[str]) -> Iterator[tuple[Any, ...]]:  # fmt: skip
        """The run's updates for the page, each with (step, steps) last (:meth:`tracked` strips it).

        Images that repeat go out as files written once: Gradio re-writes a PIL output's cache
        file on every yield, which truncates it under a browser still downloading it. Every
        preview is such a file, with the settings in its metadata, and is the download until
        the next one: after Stop, the download is the image of the last step shown.
        """
        before = str(service.save_input(photo, self.outputs, "before.png", config.size))
        throttle = service.Throttle(UPDATE_INTERVAL_S, time.monotonic)
        for update in service.stream(self.models, photo, styles, config, regions):
            p, said = update.progress, notes + update.notes
            if update.final and update.preview is not None:  # the final update always carries the result
                path = str(service.save_result(update.preview, config, self.models, self.outputs, name))
                status = self.status(p.iteration, p.iterations, p.elapsed, update.precision, True, said)
                yield (before, path), _plot(update.losses), status, path, (p.iteration, p.iterations)
            elif throttle(force=update.preview is not None):
                if progress is not None:
                    progress((p.iteration, p.iterations), desc="Stylising", unit="steps")
                slider, download = gr.skip(), gr.skip()
                if update.preview:
                    step_name = name.replace(".png", f"-step{p.iteration}.png")
                    shot = str(service.save_result(update.preview, config, self.models, self.outputs, step_name))
                    slider, download = (before, shot), shot
                plot = _plot(update.losses) if update.preview else gr.skip()
                status = self.status(p.iteration, p.iterations, p.elapsed, update.precision, notes=said)
                yield slider, plot, status, download, (p.iteration, p.iterations)

    def status(self, done: int, total: int, seconds: float, precision: str, final: bool = False,
               notes: list[str] | None = None) -> str:  # fmt: skip
        """The status line: where the run is, how long it took, and the precision it used."""
        untrained = "" if self.models.trained else f" {UNTRAINED}"
        verb = "Done" if final else "Running"
        extra = "".join(f" Note: {n}." for n in notes or [])
        return f"{verb}: step {done} / {total} · {precision} · {seconds:.1f} s.{untrained}{extra}"

    def tracked(self, updates: Iterator[tuple[Any, ...]]) -> Generator[tuple[Any, ...], None, None]:
        """``updates``, counted as running for its client from its first step until it ends, however it ends.

        This runs in the app's own process (outside the ZeroGPU worker), so the count and the
        last step seen live where the validator and Stop read them.
        """
        keys = client_keys(LocalContext.request.get(None))
        with self.limit.running(keys):
            for *update, step in updates:
                with self._lock:
                    if keys in self.stopped:
                        return
                    if isinstance(update[3], str):  # an image went out as the download
                        self.last_step[keys] = step
                yield tuple(update)

    # --- the API: raw values in, checked by the validator before the queue and again by the run --------------

    def _api_function(self) -> Callable[..., Any]:
        def stylize(*args: Any, **kwargs: Any) -> Iterator[tuple[Any, ...]]:
            progress = kwargs.pop("progress", None)
            values = dict(zip(self.api_names, args, strict=False)) | kwargs
            try:
                request = self.prepare({n: values.get(n, self.defaults.get(n)) for n in self.names})
            except Problem as problem:
                raise gr.Error(problem.message, print_exception=False) from None
            yield from self.tracked(self.gpu_run(request, progress))

        progress = inspect.Parameter("progress", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=gr.Progress())
        docs = "".join(f"    {s.name}: {s.doc}\n" for s in self.settings)
        none = dict.fromkeys(IMAGE_INPUTS[2:])
        return _with_parameters(stylize, self.api_names, none | self.defaults, RUN_DOC + docs, [progress])

    def _validator(self) -> Callable[..., list[dict[str, Any]]]:
        """Gradio calls this before a run joins the queue: bad inputs and busy clients never wait in it.

        It takes the run's inputs (Gradio passes the request only to positional parameters) and
        returns one ``gr.validate`` per input; the first problem found is reported on its input.
        """

        def check_run(*values: Any) -> list[dict[str, Any]]:
            *raw, request = values
            where, problem = self.first_problem(dict(zip(self.api_names, raw, strict=True)), request)
            return [
                gr.validate(False, problem) if problem and name == where else gr.validate(True, "")
                for name in self.api_names
            ]

        request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)
        return _with_parameters(check_run, self.api_names, {}, "The run's check before the queue.", [request])

    def first_problem(self, values: dict[str, Any], request: Any) -> tuple[str, str | None]:
        """The input a problem is about and its sentence, or (…, None) when the run may join the queue."""
        try:
            self.prepare(values)
        except Problem as problem:
            return problem.where, problem.message
        return "content", None  # the client's share: FairQueue, before this validator runs

    # --- the page: its own check first (no queue), then the checked request runs --------------------------

    def page_check(self, *values: Any) -> tuple[str, str, Request | None]:
        """The page's Run, first: (message next to Run, status line, the checked request). It never raises."""
        request = LocalContext.request.get(None)
        try:
            checked = self.prepare(dict(zip(self.names, values, strict=True)))
        except Problem as problem:
            return problem.message, problem.message, None
        busy = self.limit.check(client_keys(request), pending_keys(self.demo._queue, "stylize"))
        if busy:
            return busy, busy, None
        keys = client_keys(request)
        with self._lock:
            self.stopped.discard(keys)
            self.last_step.pop(keys, None)
        return "", "Starting…", checked

    def page_stylize(self, request: Request | None, progress: Any = gr.Progress()) -> Iterator[tuple[Any, ...]]:
        """The run of the request :meth:`page_check` let through; an error lands next to Run and in the status."""
        if request is None:  # the page check said why, next to Run; a generator with no yield would clear it
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        keys = client_keys(LocalContext.request.get(None))
        run = self.tracked(self.gpu_run(request, progress))
        try:
            for update in run:
                yield (*update, "")
        except gr.Error as exc:
            yield gr.skip(), gr.skip(), exc.message, gr.skip(), exc.message
        finally:
            run.close()  # after Stop: ends the optimisation (and frees the worker) now
        if keys in self.stopped:  # the last word in this run's own stream, after any update already under way
            yield gr.skip(), gr.skip(), self.stop()[0], gr.skip(), ""

    def stop(self) -> tuple[str, str]:
        """Stop: the run sends nothing more and ends at its next step; the status says where it stopped.

        Not Gradio's ``cancels``: an update already on its way would then land after this one
        and the status would say "Running" again. The run's own stream ends with the same words.
        """
        keys = client_keys(LocalContext.request.get(None))
        with self._lock:
            self.stopped.add(keys)
            step = self.last_step.get(keys)
        return (_stopped(*step) if step else "Stopped before the first step."), ""

    # --- the other callbacks ------------------------------------------------------------------------------

    def memory_estimate(self, content: Input, size: Any, preset: Any, optimizer: Any) -> str:
        """Markdown under the size slider, from the upload's header (nothing is decoded)."""
        content = as_input(content)
        named = settings.by_name(self.settings)
        try:
            side = int(named["size"].control.parse(size))
            chosen = settings.preset_config(str(named["preset"].control.parse(preset)))
            optimiser = named["optimizer"].control.parse(optimizer)
            config = chosen.with_overrides(optimizer=optimiser, tile=hosting.tile_for(self.hardware, side))
        except ConfigError as exc:
            return str(exc)
        size_hw = content.size if isinstance(content, Upload) else None
        return service.memory_note(size_hw, side, config, self.hardware.on_gpu)

    def extract(self, image: Input) -> tuple[str, dict[str, Any], str]:
        """Gram matrices of VGG19's conv1_1 … conv5_1 for one image, computed with ONNX Runtime.

        Args:
            image: the image to describe; its long side is reduced to the app's size limit first.
        """
        try:
            picture = inputs.read_upload(as_input(image), "an image", self.hardware.max_side, like_cli=False)
            path, summary = service.extract_grams(self.models, picture, self.outputs)
        except StylecoreError as exc:
            raise _error(exc) from None
        return str(path), summary, f"Served by ONNX Runtime on **{summary['provider']}**."

    def iteration_limit(self, size: Any, iterations: Any) -> Any:
        """The iterations slider's maximum at this size on this host; a value above it comes down to it."""
        most = settings.max_iterations(self.settings, size, self.hardware)
        if isinstance(iterations, int | float) and iterations <= most:
            return gr.update(maximum=most)  # the value stays as the visitor left it
        return gr.update(maximum=most, value=most)

    def preset_values(self, preset: Any) -> tuple[Any, ...]:
        """Move the controls to a preset's values when it is picked."""
        try:
            return tuple(settings.preset_values(self.settings, preset).values())
        except ConfigError as exc:
            raise _error(exc) from None

    def notice(self) -> str:
        if self.models.weights_error:
            return f"⚠️ **Style transfer is unavailable: no VGG19 weights.** {self.models.weights_error}"
        weights = (
            "⚠️ Running with **untrained random VGG19 weights** (`STYLECORE_WEIGHTS=random`): results are not art."
            if not self.models.trained
            else f"Weights: {self.models.weights_label}."
        )
        return f"{weights} {self._limits_text()}"

    def _limits_text(self) -> str:
        hw = self.hardware
        where = {"zerogpu": "a shared ZeroGPU", "gpu": "a GPU", "cpu": "a CPU (keep sizes small)"}[hw.kind]
        text = f"Runs on {where}: results up to {hw.max_side} px, {hw.per_client} runs per visitor at a time."
        if hw.kind == "zerogpu":
            text += (
                f" Each run holds the GPU for at most {hosting.MAX_LEASE_S} s and stops with its picture before that;"
                " ZeroGPU gives visitors a few GPU minutes a day (more when signed in, most with PRO)."
            )
        else:
            text += f" A run stops with its picture after {hw.time_budget_s:g} s."
        return text

    # --- the page ---------------------------------------------------------------------------------------------

    def _build(self) -> gr.Blocks:
        hw = self.hardware
        with gr.Blocks(title="stylecore: neural style transfer", analytics_enabled=False,
                       delete_cache=(CACHE_S // 4, CACHE_S)) as blocks:  # fmt: skip
            gr.Markdown("# Neural style transfer\nPick a photo and a painting, press Run.")
            gr.Markdown(self.notice())
            with gr.Accordion("Use it from code", open=False):
                gr.Markdown(_video_text(), elem_id="video-note")
            page = layout.Layout(self.settings, self.defaults)
            with gr.Tab("Stylise"):
                ui = page.images()
                with gr.Row(equal_height=True):
                    run_button = gr.Button("Run", variant="primary", elem_id="run", scale=0, min_width=120)
                    stop_button = gr.Button("Stop", variant="stop", elem_id="stop", scale=0, min_width=120)
                    message = gr.Markdown(elem_id="run-message")
                status = gr.Markdown(label="Status", elem_id="status")
                out = layout.outputs() | {"status": status}
                ui |= page.settings_panel()
            tab = layout.extract_tab()
            tab["button"].click(self.fair.counted("extract", self.extract), tab["probe"], tab["outputs"],
                                api_name="extract", concurrency_limit=4, concurrency_id="extract")  # fmt: skip
            ui["content"].change(_paint_over, ui["content"], ui["painted"], api_visibility="private")
            run_inputs = [ui[name] for name in self.names]
            outputs = [out["result"], out["plot"], out["status"], out["download"]]
            checked = gr.State(None)
            # The page checks first, without the queue, so a problem lands next to Run and in the
            # status (not on a box far above Run); the checked request goes on in a State, so the
            # settings are parsed once. API callers get the same check as a validator.
            clicked = run_button.click(self.page_check, run_inputs, [message, status, checked],
                                       api_visibility="private", queue=False, show_progress="hidden")  # fmt: skip
            clicked.then(
                self.page_stylize, checked, [*outputs, message], api_visibility="private",
                show_progress_on=[out["result"]],  # not a timer over the message or the status line
                concurrency_limit=hw.concurrency, concurrency_id="stylize",
            )  # fmt: skip
            api_button = gr.Button(visible=False)
            api_inputs = [ui[name] for name in self.api_names]
            api_button.click(self.stylize, api_inputs, outputs, api_name="stylize", validator=self.check_run,
                             concurrency_limit=hw.concurrency, concurrency_id="stylize")  # fmt: skip
            stop_button.click(self.stop, None, [status, message], queue=False, api_visibility="private",
                              show_progress="hidden")  # fmt: skip
            limit = [ui["size"], ui["iterations"]]
            ui["size"].change(self.iteration_limit, limit, ui["iterations"], api_visibility="private")
            blocks.load(self.iteration_limit, limit, ui["iterations"], api_visibility="private")
            moved = [ui[s.name] for s in self.settings if s.follows_preset]
            ui["preset"].change(self.preset_values, ui["preset"], moved, api_visibility="private")
            memory_inputs = [ui[n] for n in ("content", "size", "preset", "optimizer")]
            for trigger in memory_inputs:
                trigger.change(self.memory_estimate, memory_inputs, ui["memory"], api_visibility="private")
            blocks.load(self.memory_estimate, memory_inputs, ui["memory"], api_visibility="private")
        blocks.queue(max_size=hw.queue_size, default_concurrency_limit=1)
        self.fair.install(blocks)
        assert isinstance(blocks, gr.Blocks)
        return blocks

    def launch(self, **overrides: Any) -> Any:
        """Start serving; host and port default to $GRADIO_SERVER_NAME / $GRADIO_SERVER_PORT."""
        options: dict[str, Any] = {
            "max_file_size": MAX_UPLOAD,
            "enable_monitoring": False,
            "show_error": False,
            "mcp_server": importlib.util.find_spec("mcp") is not None,  # the gradio[mcp] extra
            "app_kwargs": {
                "middleware": [
                    Middleware(BodyLimit, max_bytes=MAX_BODY_BYTES),
                    Middleware(UploadQuota, window_s=CACHE_S),
                ]
            },
            "css": layout.CSS,
            "js": layout.JS,
        }
        return self.demo.launch(**{**options, **overrides})


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


def create_app(hardware: Hardware, loaded: Models) -> StyleApp:
    """The page for ``hardware`` serving ``loaded`` (its Blocks is ``.demo``); no global state is touched."""
    return StyleApp(hardware, loaded)


@functools.cache
def default_app() -> StyleApp:
    """The app for this host and its environment (STYLECORE_WEIGHTS, STYLECORE_ONNX_DIR, ...), built once."""
    hardware = hosting.detect()
    return create_app(hardware, models.for_host(hardware.kind == "gpu"))


def __getattr__(name: str) -> Any:
    """``demo``: the module-level Blocks that Spaces and ``gradio demo/app.py`` look for, built on first use."""
    if name == "demo":
        return default_app().demo
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    host = os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT", "7860"))
    print(f"stylecore demo: http://{host}:{port}", flush=True)
    exit_on_sigterm()  # atexit then removes the results folder
    default_app().launch(server_name=host, server_port=port)
