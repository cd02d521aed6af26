"""Group extractor-N: one forward at N x N, PyTorch eager vs channels_last vs ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort
import pytest
import torch

from export.profiling import session_options
from stylecore import vgg19_extractor
from stylecore.model.onnx import OnnxExtractor

from .conftest import rounds, square

ORT_PROVIDERS = ("CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider")


@pytest.fixture(scope="module")
def onnx_path(exported: Path) -> Path:
    """The session's export (seeded random weights, the five default layers, every check passed)."""
    return exported / "vgg19_extractor.onnx"


def _run(benchmark, fn, size: int, variant: str, **info: object) -> dict[str, torch.Tensor]:
    benchmark.group = f"extractor-{size}"
    benchmark.extra_info.update(kind="extractor", size=size, variant=variant, **info)
    benchmark.pedantic(fn, rounds=rounds(size), warmup_rounds=1)
    return fn()


def _same_features(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """What was timed computes the eager extractor's features (a fast wrong answer is no result)."""
    assert list(got) == list(expected)
    for name, value in expected.items():
        torch.testing.assert_close(torch.as_tensor(got[name]).contiguous(), value, rtol=1e-3, atol=1e-4)


def test_torch_eager(benchmark, extractor, size: int) -> None:
    image = square(size, 0)
    with torch.no_grad():
        features = _run(benchmark, lambda: extractor(image), size, "torch eager")
    assert list(features) == list(extractor.layers) and all(bool(f.isfinite().all()) for f in features.values())


def test_torch_channels_last(benchmark, extractor, size: int) -> None:
    model = extractor.to(memory_format=torch.channels_last)
    image = square(size, 0).contiguous(memory_format=torch.channels_last)
    try:
        with torch.no_grad():
            features = _run(benchmark, lambda: model(image), size, "torch channels_last")
    finally:
        extractor.to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        _same_features(features, extractor(square(size, 0)))


@pytest.mark.parametrize("provider", ORT_PROVIDERS)
def test_onnxruntime(benchmark, onnx_path: Path, size: int, provider: str) -> None:
    if provider != "CPUExecutionProvider" and not torch.cuda.is_available():
        pytest.skip(f"{provider} needs a GPU")
    if provider not in ort.get_available_providers():
        pytest.skip(f"this onnxruntime build has no {provider}")
    model = OnnxExtractor(onnx_path, providers=[provider], session_options=session_options("all"))
    assert model.providers[0] == provider  # onnxruntime-gpu falls back to the CPU silently
    image = square(size, 0)
    features = _run(benchmark, lambda: model(image), size, f"onnxruntime {provider.removesuffix('ExecutionProvider')}")
    with torch.no_grad():
        _same_features(
            {n: features[n].cpu() for n in model.layers},
            vgg19_extractor(layers=model.layers, weights="random:0")(image),
        )  # the export's weights
