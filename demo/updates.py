"""A checked request's run, as updates for the page's outputs: decode → ``stylecore`` → files.

Each update is (before/after, plot, status, download, (step, steps)); the last item is
for :class:`demo.runs.ClientRuns`, which strips it. Gradio appears only as ``gr.skip()``
(an output left as it is) and ``gr.update`` (the plot shown once it has a line).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import gradio as gr
import pandas as pd

from stylecore import StyleConfig, StylecoreError
from stylecore.model.layers import MIN_SIDE

from . import inputs, service, words
from .checks import Request
from .models import Models
from .outputs import OutputDir

#: UI updates per second at most (plus every preview): on a GPU a step takes milliseconds.
UPDATE_INTERVAL_S = 0.25


def plot(rows: list[dict[str, Any]]) -> Any:
    """The loss rows, plus log10 of each loss (the terms differ by orders of magnitude); shown from two steps."""
    frame = pd.DataFrame(rows, columns=["iteration", "term", "loss"])
    frame["log10 loss"] = frame["loss"].clip(lower=1e-12).map(math.log10)
    return gr.update(value=frame, visible=frame["iteration"].nunique() > 1)  # one step draws no line


def regions(request: Request) -> list[Any] | None:
    """[None, mask]: the first style fills what the second style's region leaves (painting wins)."""
    mask = inputs.read_region(request.painted, painted=True) if request.painted is not None else None
    if mask is None:
        mask = inputs.read_region(request.region, painted=False)
    if mask is None:
        return None
    if request.style2 is None:
        raise StylecoreError("a region places the second style: add a second style image too")
    return [None, mask]


def run(request: Request, models: Models, outputs: OutputDir, progress: Any = None) -> Iterator[tuple[Any, ...]]:
    """Decode, run and write one checked request (see the module docstring for the updates)."""
    config = request.config
    photo = inputs.read_upload(request.content, "a content photo", config.size)
    style_side = max(MIN_SIDE, round(config.size * config.style_scale))  # decode no larger than used
    uploads = [request.style] + ([request.style2] if request.style2 else [])
    styles = [inputs.read_upload(u, "a style image", style_side) for u in uploads]
    name = inputs.result_name(request.content, request.style)
    page = _Page(models, outputs, config, name, list(request.notes))
    yield from page.stream(photo, styles, regions(request), progress)


class _Page:
    """The files and words of one run's updates."""

    def __init__(self, models: Models, outputs: OutputDir, config: StyleConfig, name: str, notes: list[str]) -> None:
        self.models, self.outputs, self.config, self.name, self.notes = models, outputs, config, name, notes

    def stream(self, photo: Any, styles: list[Any], region: list[Any] | None,
               progress: Any) -> Iterator[tuple[Any, ...]]:  # fmt: skip
        """Images that repeat go out as files written once.

        Gradio re-writes a PIL output's cache file on every yield, which truncates it under a
        browser still downloading it. Every preview is such a file, with the settings in its
        metadata, and is the download until the next one: after Stop, the download is the
        image of the last step shown.
        """
        config = self.config
        before = str(service.save_input(photo, self.outputs, "before.png", config.size))
        throttle = service.Throttle(UPDATE_INTERVAL_S, time.monotonic)
        for update in service.stream(self.models, photo, styles, config, region):
            p, said = update.progress, self.notes + update.notes
            step = (p.iteration, p.iterations)
            if update.final and update.preview is not None:  # the final update always carries the result
                path = self.save(update.preview, self.name)
                yield (before, path), plot(update.losses), self.status(update, said, final=True), path, step
            elif throttle(force=update.preview is not None):
                if progress is not None:
                    progress(step, desc="Stylising", unit="steps")
                pair, download, chart = gr.skip(), gr.skip(), gr.skip()
                if update.preview:
                    shot = self.save(update.preview, self.name.replace(".png", f"-step{p.iteration}.png"))
                    pair, download, chart = (before, shot), shot, plot(update.losses)
                yield pair, chart, self.status(update, said), download, step

    def save(self, image: Any, name: str) -> str:
        return str(service.save_result(image, self.config, self.models, self.outputs, name))

    def status(self, update: service.Update, notes: list[str], final: bool = False) -> str:
        p = update.progress
        return words.status(p.iteration, p.iterations, p.elapsed, update.precision, final=final,
                            trained=self.models.trained, notes=notes)  # fmt: skip
