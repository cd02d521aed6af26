"""What the app does, without Gradio: load models once, stream a run, extract Grams.

Gradio callbacks in ``app.py`` are thin adapters over these functions.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from stylecore import (
    DEFAULT_LAYERS,
    PRESETS,
    StyleConfig,
    StylecoreError,
    VGGExtractor,
    WeightsError,
    gram_matrix,
    open_image,
    pil_to_tensor,
    save_image,
    tensor_to_pil,
    vgg19_extractor,
)
from stylecore.engine import Progress
from stylecore.imageio import resize_long_side
from stylecore.memory import estimate_peak_bytes
from stylecore.onnx_extractor import DEFAULT_ONNX_PATH, OnnxExtractor
from stylecore.run import StyleRun

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
#: Every layer any preset uses, so one extractor serves all runs.
APP_LAYERS = tuple(dict.fromkeys(name for preset in PRESETS.values() for name in preset.layers))
OUTPUT_DIR = Path(tempfile.gettempdir()) / "stylecore-demo"
KEEP_OUTPUTS_S = 3600


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


def load_models(onnx_path: Path = REPO / DEFAULT_ONNX_PATH) -> Models:
    """The torch extractor for runs and the ONNX one for /extract (exported if missing)."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        extractor = vgg19_extractor(layers=APP_LAYERS, device=device)
    except WeightsError as exc:
        return Models(None, None, weights_error=str(exc), onnx_error="needs the VGG19 weights first")
    try:
        return Models(extractor, ensure_onnx(extractor, onnx_path))
    except Exception as exc:  # the app still serves stylisation without the ONNX endpoint
        return Models(extractor, None, onnx_error=f"ONNX extractor unavailable: {exc}")


def ensure_onnx(extractor: VGGExtractor, path: Path) -> OnnxExtractor:
    """Reuse ``path`` if it was exported from these weights, else export it now (a few seconds)."""
    from export.model import export_onnx, metadata_for, weights_record, write_metadata

    meta_path = path.with_suffix(".json")
    current = weights_record(extractor.weights)
    fresh = path.is_file() and meta_path.is_file() and json.loads(meta_path.read_text())["weights"] == current
    if not fresh:  # the loaded extractor serves DEFAULT_LAYERS too: no second read of the weights
        export_onnx(extractor, path, layers=DEFAULT_LAYERS)
        write_metadata(metadata_for(path, extractor, opset=18), meta_path)
    onnx = OnnxExtractor(path)
    onnx.session  # noqa: B018 - load and check now, not on the first request
    return onnx


def read_upload(path: str | None, what: str, max_side: int) -> Image.Image:
    """An uploaded file as RGB, its long side at most ``max_side``."""
    if not path:
        raise StylecoreError(f"please upload {what}")
    image = open_image(path)
    return resize_long_side(image, max_side) if max(image.size) > max_side else image


@dataclass(frozen=True)
class Update:
    """One step of a streamed run, for the UI."""

    progress: Progress
    preview: Image.Image | None  # set on snapshot steps only
    losses: list[dict[str, Any]]  # rows for the loss plot: iteration, term, loss
    notes: list[str]  # notices and why the run stopped early, if it did


def stream(models: Models, content: Image.Image, styles: list[Image.Image], config: StyleConfig) -> Iterator[Update]:
    """Run one stylisation, yielding after every step so a Stop lands within one step."""
    if models.extractor is None:
        raise StylecoreError(models.weights_error or "no weights")
    content_t = pil_to_tensor(resize_long_side(content, config.size))
    style_side = round(config.size * config.style_scale)
    style_ts = [pil_to_tensor(resize_long_side(style, style_side)) for style in styles]
    run = StyleRun(content_t, style_ts, config, extractor=models.extractor)
    rows: list[dict[str, Any]] = []
    for progress in run:
        losses = progress.losses
        for term in ("content", "style", "tv", "total"):
            rows.append({"iteration": progress.iteration, "term": term, "loss": getattr(losses, term)})
        preview = tensor_to_pil(progress.image) if progress.snapshot else None
        yield Update(progress, preview, rows, run.notices + ([run.stopped] if run.stopped else []))
    if run.diverged:
        raise StylecoreError(run.stopped or "the loss became non-finite")


def save_result(image: Image.Image, config: StyleConfig, models: Models) -> Path:
    """The final PNG, with the weights and settings in its metadata."""
    meta = {"stylecore:weights": models.weights_label, "stylecore:config": json.dumps(asdict(config))}
    return save_image(image, _output_path(".png"), meta)


def extract_grams(models: Models, image: Image.Image) -> tuple[Path, dict[str, Any]]:
    """Gram matrices of the five default layers via ONNX Runtime: an .npz and a summary."""
    if models.onnx is None:
        raise StylecoreError(models.weights_error or models.onnx_error or "ONNX extractor unavailable")
    features = models.onnx(pil_to_tensor(image))
    grams = {name: gram_matrix(f)[0].numpy() for name, f in features.items()}
    path = _output_path(".npz")
    np.savez_compressed(path, **grams)
    summary = {
        "provider": models.onnx.providers[0],
        "weights": models.weights_label,
        "input_size": list(image.size),
        "layers": [
            {"layer": n, "shape": list(g.shape), "mean": float(g.mean()), "std": float(g.std()), "max": float(g.max())}
            for n, g in grams.items()
        ],
    }
    return path, summary


def memory_note(content: Image.Image | None, size: int, config: StyleConfig) -> str:
    """The estimated peak memory of a run, shown next to the size slider."""
    width, height = content.size if content else (size, size)
    scale = size / max(width, height)
    estimate = estimate_peak_bytes(max(1, round(height * scale)), max(1, round(width * scale)), config)
    where = "GPU" if torch.cuda.is_available() else "RAM"
    return f"Estimated peak {where} for this run: **{estimate / 2**30:.2f} GiB** (plus ~0.7 GiB for PyTorch itself)."


def gpu_seconds(size: int, iterations: int) -> int:
    """ZeroGPU slot for a run: start-up plus a generous per-step guess (not yet measured on a GPU)."""
    seconds_per_step = 0.03 * (size / 512) ** 2
    return int(min(300, 20 + iterations * seconds_per_step))


def _output_path(suffix: str) -> Path:
    """A fresh file in the demo's output folder; files older than an hour are removed."""
    OUTPUT_DIR.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - KEEP_OUTPUTS_S
    for old in OUTPUT_DIR.iterdir():
        if old.stat().st_mtime < cutoff:
            old.unlink(missing_ok=True)
    return OUTPUT_DIR / f"{uuid.uuid4().hex}{suffix}"
