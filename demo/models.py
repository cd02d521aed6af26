"""The app's models, loaded once at start-up: the torch extractor for runs, the ONNX one for /extract.

ONNX provisioning lives here too: a sidecar that vouches for the exported file, or a
fresh export in a child process. No Gradio here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from demo import memory
from stylecore import (
    DEFAULT_LAYERS,
    PRESETS,
    StylecoreError,
    VGGExtractor,
    WeightsError,
    WeightsSource,
    vgg19_extractor,
)
from stylecore.model.onnx import OnnxExtractor, file_sha256

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
    onnx = OnnxExtractor(path, sha256=meta["sha256"], providers=providers, session_options=memory.onnx_options())
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


def onnx_dir() -> Path:
    """Where the exported ONNX model lives (``STYLECORE_ONNX_DIR``, else ``artifacts/``)."""
    return Path(os.environ.get("STYLECORE_ONNX_DIR", REPO / "artifacts"))


def for_host(on_gpu_host: bool) -> Models:
    """The models as the app serves them on this host.

    ZeroGPU: ONNX Runtime is not patched by ``spaces``, and outside a GPU call there is
    no GPU, so /extract runs on the CPU there (a second on one image; no quota spent).
    Only a dedicated GPU host (``on_gpu_host``) lets ONNX Runtime pick its providers.
    """
    from stylecore import resolve_device

    providers = None if on_gpu_host else ["CPUExecutionProvider"]
    return load_models(onnx_dir(), device=str(resolve_device("auto")), onnx_providers=providers)
