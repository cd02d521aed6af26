"""Gradio app: interactive style transfer, the ONNX extractor API, and both as MCP tools.

``make demo`` (or ``python demo/app.py``) serves it on 127.0.0.1:7860; set
GRADIO_SERVER_NAME / GRADIO_SERVER_PORT to change that. On a Hugging Face Space
this file is the ``app_file``. :func:`create_app` builds the page for a host and
its models; nothing is loaded at import. The module's ``demo`` (what Gradio's
reload mode and Spaces look for) is built on first use.

This file is the wiring. A run goes one way: upload check (:mod:`demo.uploads`) →
request check, settings parsed once (:mod:`demo.checks`) → decode, ``stylecore`` and
files (:mod:`demo.updates`, :mod:`demo.service`). Each client's share of the queue is
checked at its door and counted where the call runs (:class:`demo.limits.FairQueue`);
Stop and the last step are :mod:`demo.runs`.
The API's signature is generated in :mod:`demo.api`; every word is in :mod:`demo.words`.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Spaces run `python demo/app.py`, which puts demo/ (not the repo) on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from demo import hosting  # noqa: I001 - first: it imports `spaces` before torch can touch CUDA

import functools
import importlib.util
import os
from collections.abc import Generator, Iterator
from typing import Any

import gradio as gr
from gradio.context import LocalContext
from starlette.middleware import Middleware

from demo import api, checks, inputs, layout, models, service, settings, updates, words
from demo.checks import IMAGE_INPUTS, Problem, Request
from demo.hosting import Hardware
from demo.inputs import Input, Upload
from demo.limits import BodyLimit, ClientLimit, FairQueue, UploadQuota, client_keys, pending_keys
from demo.models import Models
from demo.outputs import OutputDir
from demo.runs import ClientRuns
from demo.uploads import MAX_UPLOAD, MAX_UPLOAD_BYTES, as_input, exit_on_sigterm, hold_results
from stylecore import ConfigError, StylecoreError

#: Results, Grams and uploads live at most this long (Gradio's cache and ours).
CACHE_S = 3600
#: JSON bodies (queue joins, MCP calls) up to a base64-encoded upload, and a little more.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES * 4 // 3 + 2**20
#: Where a problem with each input is shown: next to its box, else next to Run.
MESSAGES = {"content": "content-message", "style": "style-message", "style2": "style2-message",
            "region": "region-message", "painted": "region-message"}  # fmt: skip
BOXES = ("content-message", "style-message", "style2-message", "region-message")


def run_idle() -> Any:
    """Run as it is between runs (a fresh update each time: Gradio consumes the dict it is given)."""
    return gr.update(interactive=True, value="Run")


def _error(exc: Exception) -> gr.Error:
    return gr.Error(words.sentence(str(exc)), print_exception=False)


def lease(request: Request, *_args: Any, **_kwargs: Any) -> int:
    """ZeroGPU's ``duration``: called with the run's arguments, which were already checked."""
    return hosting.lease_seconds(request.config.size, request.config.iterations)


class StyleApp:
    """The page and its callbacks for one host and one set of models; :attr:`demo` is the Blocks."""

    def __init__(self, hardware: Hardware, loaded: Models) -> None:
        self.hardware, self.models = hardware, loaded
        self.settings = settings.table(hardware)
        self.defaults = settings.defaults(self.settings)
        self.outputs = OutputDir(keep_s=CACHE_S)
        hold_results(self.outputs.root)  # and remove the folders of apps that ended without cleaning up
        runs = ClientLimit(hardware.per_client)
        extracts = ClientLimit(hardware.per_client, what="extractions", stop=False)
        #: The one counting door: every call of either group is checked as it joins the queue.
        self.fair = FairQueue({"stylize": runs, "extract": extracts})
        self.runs = ClientRuns(runs)  # Stop and the last step; it only looks at the limit
        self.names = [*IMAGE_INPUTS, *(s.name for s in self.settings)]
        #: The API's (and MCP's) inputs: the page's painted region is the page's; callers send ``region``.
        self.api_names = [name for name in self.names if name != "painted"]
        #: What Run runs: on ZeroGPU, inside a GPU lease sized by :func:`lease`.
        self.gpu_run = hosting.gpu_task(duration=lease)(self.run)
        docs = "".join(f"    {s.name}: {s.doc}\n" for s in self.settings)
        self.stylize = api.stylize_function(self.api_names, self.defaults, docs, self.prepare, self._counted)
        self.demo = self._build()

    def prepare(self, values: dict[str, Any]) -> Request:
        """The request check (:func:`demo.checks.prepare`) on raw values; :class:`Problem` says why not."""
        images = {name: as_input(values.get(name)) for name in IMAGE_INPUTS}
        return checks.prepare(images, values, self.settings, self.hardware, self.models)

    def run(self, request: Request, progress: Any = None) -> Iterator[tuple[Any, ...]]:
        """Decode, run and write one checked request (:func:`demo.updates.run`)."""
        try:
            yield from updates.run(request, self.models, self.outputs, progress)
        except StylecoreError as exc:
            raise _error(exc) from None

    def _counted(self, request: Request, progress: Any) -> Generator[tuple[Any, ...], None, None]:
        keys = client_keys(LocalContext.request.get(None))
        return self.runs.tracked(keys, self.gpu_run(request, progress))

    def notice(self) -> str:
        return words.notice(self.models.weights_label, self.models.trained, self.offline)

    @property
    def offline(self) -> bool:
        return self.models.extractor is None

    # --- the page: its own check first (no queue), then the checked request runs --------------------------

    def page_check(self, *values: Any) -> tuple[Any, ...]:
        """Run, first: (message next to Run, status, the checked request, each box's message, result, download,
        plot, Run). The old result goes at once (it no longer matches the inputs). It never raises."""
        cleared = (None, None, gr.update(value=None, visible=False))
        boxes = dict.fromkeys(BOXES, "")
        try:
            checked = self.prepare(dict(zip(self.names, values, strict=True)))
        except Problem as problem:
            where = MESSAGES.get(problem.where, "run-message")
            if where in boxes:
                boxes[where] = problem.message
            said = problem.message if where == "run-message" else ""
            return (said, words.not_started(where), None, *boxes.values(), *cleared, run_idle())
        keys = client_keys(LocalContext.request.get(None))
        busy = self.runs.check(keys, pending_keys(self.demo._queue, "stylize"))  # the queue's door counts
        if busy:
            return (busy, words.not_started("run-message"), None, *boxes.values(), *cleared, run_idle())
        self.runs.start(keys)
        running = gr.update(interactive=False, value="Running…")
        return ("", words.STARTING, checked, *boxes.values(), *cleared, running)

    def page_stylize(self, request: Request | None, progress: Any = gr.Progress()) -> Iterator[tuple[Any, ...]]:
        """The run of the request :meth:`page_check` let through; an error lands next to Run and in the status."""
        if request is None:  # the page check said why; a generator with no yield would clear it
            yield (gr.skip(),) * 5
            return
        keys = client_keys(LocalContext.request.get(None))
        run = self._counted(request, progress)
        try:
            for update in run:
                yield (*update, "")
        except gr.Error as exc:
            yield gr.skip(), gr.skip(), words.not_started("run-message", ran=True), gr.skip(), exc.message
        finally:
            run.close()  # after Stop: ends the optimisation (and frees the worker) now
        if self.runs.is_stopped(keys):  # the last word in this run's own stream, after any update under way
            yield gr.skip(), gr.skip(), self.stop()[0], gr.skip(), ""

    def stop(self) -> tuple[str, str]:
        """Stop: the run sends nothing more and ends at its next step; the status says where it stopped.

        Not Gradio's ``cancels``: an update already on its way would then land after this one
        and the status would say "Running" again. The run's own stream ends with the same words.
        """
        return self.runs.stop(client_keys(LocalContext.request.get(None))), ""

    # --- the other callbacks ------------------------------------------------------------------------------

    def box_problem(self, name: str) -> Any:
        """The check on upload for one box: its message, from the header alone (nothing is decoded)."""
        return lambda image, size: checks.upload_problem(name, as_input(image), size, self.settings) or ""

    def memory_estimate(self, content: Input, size: Any, preset: Any, optimizer: Any) -> str:
        """Markdown under the size slider, from the upload's header (nothing is decoded)."""
        content = as_input(content)
        raw = {"size": size, "preset": preset, "optimizer": optimizer}
        try:
            config = settings.partial_config(self.settings, raw, self.hardware)
        except ConfigError as exc:
            return str(exc)
        size_hw = content.size if isinstance(content, Upload) else None
        return service.memory_note(size_hw, config.size, config, self.hardware.on_gpu)

    def extract(self, image: Input) -> tuple[str, dict[str, Any], str]:
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

    def code_text(self, request: gr.Request) -> str:
        """ "Use it from code", with this page's own address (as the visitor reached it)."""
        return words.code_text(page_url(request))

    # --- the page ---------------------------------------------------------------------------------------------

    def _build(self) -> gr.Blocks:
        with gr.Blocks(title=words.TITLE, analytics_enabled=False, delete_cache=(CACHE_S // 4, CACHE_S)) as blocks:
            ui = layout.page_top(self.notice(), words.offline_details(self.models.weights_error or "")
                                 if self.offline else None)  # fmt: skip
            page = layout.Layout(self.settings, self.defaults)
            with gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=320):
                    ui |= page.inputs(self.offline, words.RUN_OFF if self.offline else "")
                with gr.Column(scale=1, min_width=320):
                    ui |= layout.outputs(ui["content"], ui["style"])
            ui |= page.folded(words.limits(self.hardware))
            ui["plot"] = layout.plot()
            ui |= layout.code_section(words.video_text())
            tab = layout.extract_section()
            self._wire(blocks, ui, tab)
        blocks.queue(max_size=self.hardware.queue_size, default_concurrency_limit=1)
        self.fair.install(blocks)
        assert isinstance(blocks, gr.Blocks)
        return blocks

    def _wire(self, blocks: gr.Blocks, ui: dict[str, Any], tab: dict[str, Any]) -> None:
        hw = self.hardware
        private: dict[str, Any] = {"api_visibility": "private"}
        tab["button"].click(self.fair.counted("extract", self.extract), tab["probe"], tab["outputs"],
                            api_name="extract", concurrency_limit=4, concurrency_id="extract")  # fmt: skip
        ui["content"].change(_paint_over, ui["content"], ui["painted"], **private)
        run_inputs = [ui[name] for name in self.names]
        outputs = [ui["result"], ui["plot"], ui["status"], ui["download"]]
        checked = gr.State(None)
        # The page checks first, without the queue, so a problem lands next to its cause at once and
        # the old result goes; the checked request goes on in a State, so settings are parsed once.
        check_outputs = [ui["run-message"], ui["status"], checked, *(ui[b] for b in BOXES), ui["result"],
                         ui["download"], ui["plot"], ui["run"]]  # fmt: skip
        clicked = ui["run"].click(self.page_check, run_inputs, check_outputs, queue=False, show_progress="hidden",
                                  **private)  # fmt: skip
        ran = clicked.then(self.page_stylize, checked, [*outputs, ui["run-message"]], **private,
                           show_progress_on=[ui["result"]],  # not a timer over the status line
                           concurrency_limit=hw.concurrency, concurrency_id="stylize")  # fmt: skip
        ran.then(run_idle, None, ui["run"], queue=False, show_progress="hidden", **private)  # however it ended
        api_button = gr.Button(visible=False)
        api_inputs = [ui[name] for name in self.api_names]
        api_button.click(self.stylize, api_inputs, outputs, api_name="stylize", concurrency_limit=hw.concurrency,
                         concurrency_id="stylize")  # fmt: skip
        ui["stop"].click(self.stop, None, [ui["status"], ui["run-message"]], queue=False, show_progress="hidden",
                         **private)  # fmt: skip
        for name in ("content", "style", "style2", "region"):
            ui[name].change(self.box_problem(name), [ui[name], ui["size"]], ui[MESSAGES[name]], queue=False,
                            show_progress="hidden", **private)  # fmt: skip
        limit = [ui["size"], ui["iterations"]]
        ui["size"].change(self.iteration_limit, limit, ui["iterations"], **private)
        blocks.load(self.iteration_limit, limit, ui["iterations"], **private)
        moved = [ui[s.name] for s in self.settings if s.follows_preset]
        ui["preset"].change(self.preset_values, ui["preset"], moved, **private)
        memory_inputs = [ui[n] for n in ("content", "size", "preset", "optimizer")]
        for trigger in memory_inputs:
            trigger.change(self.memory_estimate, memory_inputs, ui["memory"], **private)
        blocks.load(self.memory_estimate, memory_inputs, ui["memory"], **private)
        blocks.load(self.code_text, None, ui["code"], **private)

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


StyleApp.extract.__doc__ = words.EXTRACT_DOC  # the MCP tool's description, with the page's other words


def page_url(request: Any) -> str:
    """The address the visitor reached this page at (behind a proxy, the one it forwarded)."""
    headers = getattr(request, "headers", {}) or {}
    host = headers.get("x-forwarded-host") or headers.get("host") or "127.0.0.1:7860"
    scheme = (headers.get("x-forwarded-proto") or "http").split(",")[0].strip()
    return f"{scheme}://{host.split(',')[0].strip()}/"


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
