"""What the app does, without Gradio: load models once, stream a run, extract Grams.

Gradio callbacks in ``app.py`` are thin adapters over these functions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from stylecore import (
    DEFAULT_LAYERS,
    PRESETS,
    StyleConfig,
    StylecoreError,
    VGGExtractor,
    WeightsError,
    WeightsSource,
    gram_matrix,
    open_image,
    pil_to_tensor,
    save_image,
    tensor_to_pil,
    vgg19_extractor,
)
from stylecore.config import provenance
from stylecore.imaging.images import load_mask, resize_long_side
from stylecore.model.layers import MIN_SIDE
from stylecore.model.onnx import OnnxExtractor, file_sha256
from stylecore.objective.regions import check_mask
from stylecore.optim.memory import estimate_peak_bytes
from stylecore.optim.run import Progress, StyleRun

from .outputs import OutputDir, seal
from .uploads import MAX_INPUT_PIXELS, Rejected, Upload

REPO = Path(__file__).resolve().parent.parent
ONNX_NAME = "vgg19_extractor.onnx"
#: Every layer any preset uses, so one extractor serves all runs.
APP_LAYERS = tuple(dict.fromkeys(name for preset in PRESETS.values() for name in preset.layers))
EXPORT_TIMEOUT_S = 900


@dataclass
class Models:
    """Loaded once at start-up. Without weights the app still starts and explains."""

    extractor: VGGExtractor | None
    onnx: OnnxExtractor | None
    weights_error: str | None = None
    onnx_error: str | None = None

    @property
    def weights_label(self) -> str:
        return self.extractor.weights.label if self.extractor else "no weights"

    @property
    def trained(self) -> bool:
        return bool(self.extractor and self.extractor.weights.trained)


def load_models(onnx_dir: Path, *, device: str = "cpu", onnx_providers: list[str] | None = None) -> Models:
    """The torch extractor for runs, and the ONNX one for /extract (exported and checked if stale)."""
    try:
        extractor = vgg19_extractor(layers=APP_LAYERS, device=device)
    except WeightsError as exc:
        return Models(None, None, weights_error=str(exc), onnx_error="needs the VGG19 weights first")
    try:
        onnx = prepare_onnx(onnx_dir / ONNX_NAME, extractor.weights, providers=onnx_providers)
    except StylecoreError as exc:  # the app still serves stylisation without the ONNX endpoint
        return Models(extractor, None, onnx_error=f"ONNX extractor unavailable: {exc}")
    return Models(extractor, onnx)


def prepare_onnx(path: Path, weights: WeightsSource, *, providers: list[str] | None = None) -> OnnxExtractor:
    """A checked ONNX extractor made from ``weights``: reused when its sidecar vouches for it, else exported.

    The export runs as ``python -m export`` in a child process with no GPU visible:
    the same checks as ``make export``, and none of the parent's GPU patching (ZeroGPU).
    """
    from export.model import weights_record  # export/ needs onnx; the app has it

    record = weights_record(weights)
    meta = _sidecar(path)
    if not _vouches_for(meta, path, record):
        _export(path.parent, weights.spec)
        meta = _sidecar(path)
        if not _vouches_for(meta, path, record):
            raise StylecoreError("the exported model does not match its sidecar")
    assert meta is not None
    onnx = OnnxExtractor(path, sha256=meta["sha256"], providers=providers)
    onnx.session  # noqa: B018 - load (and hash-check) now, not on the first request
    return onnx


def _sidecar(path: Path) -> dict[str, Any] | None:
    meta_path = path.with_suffix(".json")
    try:
        return dict(json.loads(meta_path.read_text()))
    except (OSError, ValueError):
        return None


def _vouches_for(meta: dict[str, Any] | None, path: Path, weights: dict[str, Any]) -> bool:
    """The sidecar names these weights and layers, and the file still has the hash it recorded."""
    if not meta or not path.is_file() or meta.get("layers") != list(DEFAULT_LAYERS):
        return False
    return meta.get("weights") == weights and meta.get("sha256") == file_sha256(path)


def _export(out_dir: Path, weights: str) -> None:
    command = [sys.executable, "-m", "export", "--weights", weights, "--out", str(out_dir), "--no-profile"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    try:
        done = subprocess.run(
            command, cwd=REPO, env=env, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        raise StylecoreError(f"the ONNX export took over {EXPORT_TIMEOUT_S} s") from None
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines()
        raise StylecoreError(lines[-1] if lines else f"the ONNX export failed (exit {done.returncode})")


#: Photos up to this many pixels are decoded whole, as the CLI decodes them, and the engine
#: resizes them: the page and ``stylecore`` then start from the same pixels and give the same
#: image. Larger ones are decoded at reduced scale (JPEG ``draft``, then LANCZOS) to bound
#: memory, which changes the starting pixels slightly (README, *Known limits*).
FULL_DECODE_PIXELS = 4_000_000


def read_upload(upload: Upload | Rejected | None, what: str, max_side: int, *, like_cli: bool = True) -> Image.Image:
    """An uploaded file as RGB: whole when small (``like_cli``: as the CLI reads it), else at most ``max_side``."""
    if upload is None:
        raise StylecoreError(f"please upload {what}")
    if isinstance(upload, Rejected):
        raise StylecoreError(upload.message)
    whole = like_cli and upload.size[0] * upload.size[1] <= FULL_DECODE_PIXELS
    side = None if whole else max_side
    return open_image(upload.path, max_pixels=MAX_INPUT_PIXELS, max_side=side, name=upload.name)


def size_problem(upload: Upload | Rejected | None, what: str, size: int) -> str | None:
    """Why an image this size cannot make a ``size`` px result (from its header), or None.

    A side under MIN_SIDE is refused outright; at ``size`` (0: any size), the short
    side must still reach MIN_SIDE, or the run would have to change the aspect ratio.
    """
    if not isinstance(upload, Upload):
        return None
    width, height = upload.size
    if min(width, height) < MIN_SIDE:
        return f"The {what} is {width}x{height} pixels; use one at least {MIN_SIDE} pixels on each side."
    short = min(width, height) * size / max(width, height)
    if size and short < MIN_SIDE:
        return (
            f"The {what} is {width}x{height} pixels: at size {size} its short side would be {short:.0f} px, "
            f"under {MIN_SIDE}; use a photo closer to square, or a larger size."
        )
    return None


def read_region(upload: Upload | Rejected | None, *, painted: bool) -> Tensor | None:
    """A region mask (1, 1, H, W) in [0, 1]: a painted layer's alpha, or an uploaded greyscale mask."""
    if upload is None:
        return None
    if isinstance(upload, Rejected):
        raise StylecoreError(upload.message)
    if not painted:  # an uploaded mask follows the core's rule (all black is refused)
        return check_mask(load_mask(upload.path), upload.name)
    with Image.open(upload.path) as layer:  # its size was checked from the header
        alpha = layer.getchannel("A") if "A" in layer.getbands() else layer.convert("L")
        mask = torch.from_numpy(np.asarray(alpha, dtype=np.float32) / 255.0)[None, None]
    if float(mask.max()) == 0:
        return None  # nothing painted: no region, which is not an all-black mask
    return mask


@dataclass(frozen=True)
class Update:
    """One step of a streamed run, for the UI."""

    progress: Progress
    preview: Image.Image | None  # set on snapshot steps, and the final result
    losses: list[dict[str, Any]]  # rows for the loss plot: iteration, term, loss
    notes: list[str]  # notices and why the run stopped early, if it did
    final: bool = False


def stream(
    models: Models,
    content: Image.Image,
    styles: list[Image.Image],
    config: StyleConfig,
    regions: list[Tensor | None] | None = None,
) -> Iterator[Update]:
    """Run one stylisation, yielding after every step; the last update carries ``run.result()``.

    A run whose loss turns non-finite ends with the last finite image, as the core keeps it.
    """
    if models.extractor is None:
        raise StylecoreError(models.weights_error or "no weights")
    run = StyleRun(
        pil_to_tensor(content), [pil_to_tensor(s) for s in styles], config, extractor=models.extractor, regions=regions
    )
    rows: list[dict[str, Any]] = []
    progress: Progress | None = None
    for progress in run:
        losses = {**progress.losses.values, "total": progress.losses.total}
        rows.extend({"iteration": progress.iteration, "term": term, "loss": value} for term, value in losses.items())
        preview = tensor_to_pil(progress.image) if progress.snapshot else None
        yield Update(progress, preview, rows, _notes(run.notices, run.stopped))
    result = run.result()
    if progress is None:  # not one finite step
        raise StylecoreError(result.stopped or "the loss was non-finite from the first step")
    yield Update(progress, tensor_to_pil(result.image), rows, _notes(result.notices, result.stopped), final=True)


def _notes(notices: list[str], stopped: str | None) -> list[str]:
    return notices + ([stopped] if stopped else [])


def save_result(image: Image.Image, config: StyleConfig, models: Models, outputs: OutputDir, name: str) -> Path:
    """The final PNG, with the weights and settings in its metadata, owner-readable only."""
    return seal(save_image(image, outputs.new_file(name), provenance(config, models.weights_label)))


def save_input(image: Image.Image, outputs: OutputDir, name: str, size: int) -> Path:
    """An input at the result's size (the slider's "before"), owner-readable only."""
    return seal(save_image(resize_long_side(image, size), outputs.new_file(name)))


def extract_grams(models: Models, image: Image.Image, outputs: OutputDir) -> tuple[Path, dict[str, Any]]:
    """Gram matrices of the five default layers via ONNX Runtime: an .npz and a summary."""
    if models.onnx is None:
        raise StylecoreError(models.weights_error or models.onnx_error or "ONNX extractor unavailable")
    features = models.onnx(pil_to_tensor(image))
    grams = {name: gram_matrix(f)[0].numpy() for name, f in features.items()}
    path = outputs.new_file("grams.npz")
    np.savez_compressed(path, **grams)  # type: ignore[arg-type]
    summary = {
        "provider": models.onnx.providers[0],
        "weights": models.weights_label,
        "input_size": list(image.size),
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


def result_name(*uploads: Upload | Rejected | None) -> str:
    """``stylecore-<content>-<style>.png`` from the uploads' own names."""
    stems = [Path(u.name).stem for u in uploads if isinstance(u, Upload)]
    return "-".join(["stylecore", *stems]) + ".png"
