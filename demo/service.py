"""What the app does, without Gradio: stream a run, write its outputs, extract Grams.

It takes a checked config, tensors and regions (decoded by :mod:`demo.inputs`)
and returns results; the Gradio callbacks in ``app.py`` adapt types around it.
``tests/test_demo.py`` checks that importing it imports no Gradio.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from torch import Tensor

from stylecore import StyleConfig, StylecoreError, gram_matrix, save_image, tensor_to_pil
from stylecore.config import provenance
from stylecore.imaging.images import resize_long_side
from stylecore.optim.memory import estimate_peak_bytes
from stylecore.optim.run import Progress, StyleRun

from .models import Models
from .outputs import OutputDir, seal


@dataclass(frozen=True)
class Update:
    """One step of a streamed run, for the UI."""

    progress: Progress
    preview: Image.Image | None  # set on snapshot steps, and the final result
    losses: list[dict[str, Any]]  # rows for the loss plot: iteration, term, loss
    notes: list[str]  # notices and why the run stopped early, if it did
    final: bool = False
    precision: str = "fp32"  # the precision the run used, and why (the result's own on the final update)


#: A preview at least this often, whatever "Preview every N steps" says: a slow host still shows a picture.
PREVIEW_S = 3.0


def stream(
    models: Models,
    content: Tensor,
    styles: list[Tensor],
    config: StyleConfig,
    regions: list[Tensor | None] | None = None,
    *,
    preview_s: float = PREVIEW_S,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[Update]:
    """Run one stylisation, yielding after every step; the last update carries ``run.result()``.

    A preview goes with the first step, every ``config.save_every`` steps, and whenever
    ``preview_s`` seconds (by ``clock``) passed since the last one. A run whose loss turns
    non-finite ends with the last finite image, as the core keeps it.
    """
    if models.extractor is None:
        raise StylecoreError(models.weights_error or "no weights")
    run = StyleRun(content, styles, config, extractor=models.extractor, regions=regions)
    rows: list[dict[str, Any]] = []
    progress: Progress | None = None
    last_preview: float | None = None
    for progress in run:
        losses = {**progress.losses.values, "total": progress.losses.total}
        rows.extend({"iteration": progress.iteration, "term": term, "loss": value} for term, value in losses.items())
        now = clock()
        due = last_preview is None or now - last_preview >= preview_s
        preview = tensor_to_pil(progress.image) if progress.snapshot or due else None
        if preview is not None:
            last_preview = now
        yield Update(progress, preview, rows, _notes(run.notices, run.stopped), precision=progress.precision)
    result = run.result()
    if progress is None:  # not one finite step
        raise StylecoreError(result.stopped or "the loss was non-finite from the first step")
    notes = _notes(result.notices, result.stopped)
    yield Update(progress, tensor_to_pil(result.image), rows, notes, final=True, precision=result.precision)


def _notes(notices: list[str], stopped: str | None) -> list[str]:
    return notices + ([stopped] if stopped else [])


def save_result(image: Image.Image, config: StyleConfig, models: Models, outputs: OutputDir, name: str) -> Path:
    """The final PNG, with the weights and settings in its metadata, owner-readable only."""
    return seal(save_image(image, outputs.new_file(name), provenance(config, models.weights_label)))


def save_input(image: Tensor, outputs: OutputDir, name: str, size: int) -> Path:
    """An input at the result's size (the slider's "before"), owner-readable only."""
    return seal(save_image(resize_long_side(tensor_to_pil(image), size), outputs.new_file(name)))


def extract_grams(models: Models, image: Tensor, outputs: OutputDir) -> tuple[Path, dict[str, Any]]:
    """Gram matrices of the five default layers via ONNX Runtime: an .npz and a summary."""
    if models.onnx is None:
        raise StylecoreError(models.weights_error or models.onnx_error or "ONNX extractor unavailable")
    features = models.onnx(image)
    grams = {name: gram_matrix(f)[0].numpy() for name, f in features.items()}
    path = outputs.new_file("grams.npz")
    np.savez_compressed(path, **grams)  # type: ignore[arg-type]
    summary = {
        "provider": models.onnx.providers[0],
        "weights": models.weights_label,
        "input_size": [image.shape[-1], image.shape[-2]],
        "layers": [
            {"layer": n, "shape": list(g.shape), "mean": float(g.mean()), "std": float(g.std()), "max": float(g.max())}
            for n, g in grams.items()
        ],
    }
    return seal(path), summary


def memory_note(size: tuple[int, int] | None, side: int, config: StyleConfig, on_gpu: bool) -> str:
    """The estimated peak memory of a run (content ``size`` as width, height), shown under the size slider."""
    width, height = size or (side, side)
    scale = side / max(width, height)
    estimate = estimate_peak_bytes(max(1, round(height * scale)), max(1, round(width * scale)), config)
    where = "GPU" if on_gpu else "RAM"
    return f"Estimated peak {where} for this run: **{estimate / 2**30:.2f} GiB** (plus ~0.7 GiB for PyTorch itself)."


class Throttle:
    """True at most every ``interval`` seconds (and always when forced): UI updates, not one per GPU step."""

    def __init__(self, interval: float, clock: Callable[[], float]) -> None:
        self.interval, self.clock = interval, clock
        self._last = -float("inf")

    def __call__(self, force: bool = False) -> bool:
        now = self.clock()
        if force or now - self._last >= self.interval:
            self._last = now
            return True
        return False
