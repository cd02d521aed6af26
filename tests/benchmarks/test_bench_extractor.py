"""Group extractor-N: one forward at N x N, PyTorch eager vs channels_last vs ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest
import torch

from export.profiling import session_options
from stylecore.onnx_extractor import OnnxExtractor

from .conftest import rounds, square

ORT_PROVIDERS = ("CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider")


@pytest.fixture(scope="module")
def onnx_path(exported: Path) -> Path:
    """The session's export (seeded random weights, the five default layers, every check passed)."""
    return exported / "vgg19_extractor.onnx"


def _run(benchmark, fn, size: int, variant: str, **info: object) -> None:
    benchmark.group = f"extractor-{size}"
    benchmark.extra_info.update(kind="extractor", size=size, variant=variant, **info)
    benchmark.pedantic(fn, rounds=rounds(size), warmup_rounds=1)


def test_torch_eager(benchmark, extractor, size: int) -> None:
    image = square(size, 0)
    with torch.no_grad():
        _run(benchmark, lambda: extractor(image), size, "torch eager")


def test_torch_channels_last(benchmark, extractor, size: int) -> None:
    model = extractor.to(memory_format=torch.channels_last)
    image = square(size, 0).contiguous(memory_format=torch.channels_last)
    try:
        with torch.no_grad():
            _run(benchmark, lambda: model(image), size, "torch channels_last")
    finally:
        extractor.to(memory_format=torch.contiguous_format)


@pytest.mark.parametrize("provider", ORT_PROVIDERS)
def test_onnxruntime(benchmark, onnx_path: Path, size: int, provider: str) -> None:
    if provider != "CPUExecutionProvider" and not torch.cuda.is_available():
        pytest.skip(f"{provider} needs a GPU")
    if provider not in ort.get_available_providers():
        pytest.skip(f"this onnxruntime build has no {provider}")
    model = OnnxExtractor(onnx_path, providers=[provider], session_options=session_options("all"))
    assert model.providers[0] == provider  # onnxruntime-gpu falls back to the CPU silently
    image = square(size, 0)
    _run(benchmark, lambda: model(image), size, f"onnxruntime {provider.removesuffix('ExecutionProvider')}")
