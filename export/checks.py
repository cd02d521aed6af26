"""Checks every export runs: ONNX validity, parity with torch, a second runtime, providers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import onnx
import torch
from onnx.reference import ReferenceEvaluator
from torch import Tensor

from stylecore.model.extractor import VGGExtractor
from stylecore.model.onnx import OnnxExtractor

#: max|onnx - torch| / max|torch| per layer. fp32 on the CPU lands near 1e-6;
#: 1e-4 leaves room for other kernels (CUDA, other CPUs) without hiding real bugs.
PARITY_TOLERANCE = 1e-4
#: (batch, height, width): square, odd non-square, and a batch of two.
PARITY_CASES: tuple[tuple[int, int, int], ...] = ((1, 64, 64), (1, 67, 101), (2, 96, 80))


class ExportCheckError(AssertionError):
    """An export check failed; the message says which and by how much."""


@dataclass(frozen=True)
class ParityRow:
    runtime: str  # which runtime was compared with torch
    case: str  # "BxHxW"
    layer: str
    rel_error: float


def check_model(path: Path) -> None:
    """``onnx.checker`` (full) and strict shape inference; raises on any problem."""
    try:
        onnx.checker.check_model(str(path), full_check=True)
        model = onnx.load(str(path))
        onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as exc:
        raise ExportCheckError(f"{path} fails ONNX validation: {exc}") from exc


def relative_error(ours: Tensor, reference: Tensor) -> float:
    return float((ours - reference).abs().max() / reference.abs().max().clamp(min=1e-12))


def _inputs(cases: Iterable[tuple[int, int, int]]) -> Iterable[tuple[str, Tensor]]:
    generator = torch.Generator().manual_seed(0)
    for batch, height, width in cases:
        yield f"{batch}x{height}x{width}", torch.rand(batch, 3, height, width, generator=generator)


def ort_parity(
    extractor: VGGExtractor, onnx_extractor: OnnxExtractor, cases: Iterable[tuple[int, int, int]] = PARITY_CASES
) -> list[ParityRow]:
    """Relative error of ONNX Runtime against the torch extractor, per case and layer."""
    rows = []
    for case, image in _inputs(cases):
        with torch.no_grad():
            expected = extractor(image)
        got = onnx_extractor(image)
        runtime = f"onnxruntime ({onnx_extractor.providers[0]})"
        rows += [ParityRow(runtime, case, n, relative_error(got[n], expected[n])) for n in extractor.layers]
    return rows


def reference_parity(path: Path, extractor: VGGExtractor, side: int = 16) -> list[ParityRow]:
    """Same, with onnx's pure-numpy ReferenceEvaluator: an independent runtime (tiny input)."""
    ((case, image),) = _inputs([(1, side, side)])
    with torch.no_grad():
        expected = extractor(image)
    outputs = ReferenceEvaluator(str(path)).run(None, {"image": image.numpy()})
    got = dict(zip(extractor.layers, outputs, strict=True))
    return [ParityRow("onnx.reference", case, n, relative_error(torch.from_numpy(got[n]), expected[n])) for n in got]


def assert_parity(rows: Iterable[ParityRow], tolerance: float = PARITY_TOLERANCE) -> None:
    bad = [r for r in rows if not r.rel_error <= tolerance]  # `not <=` also catches NaN
    if bad:
        worst = max(bad, key=lambda r: r.rel_error)
        raise ExportCheckError(
            f"{len(bad)} parity checks above {tolerance:g}; worst {worst.layer} at {worst.case} "
            f"on {worst.runtime}: {worst.rel_error:.3g}"
        )


def expected_providers() -> list[str]:
    return ["CUDAExecutionProvider"] if torch.cuda.is_available() else ["CPUExecutionProvider"]


def assert_providers(onnx_extractor: OnnxExtractor) -> list[str]:
    """onnxruntime-gpu falls back to the CPU silently; make the fallback loud."""
    used = onnx_extractor.providers
    if used[0] != expected_providers()[0]:
        raise ExportCheckError(f"ONNX Runtime runs on {used}, expected {expected_providers()[0]} first")
    return used
