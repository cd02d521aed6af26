"""Shared fixtures: seeded random weights and small images, no network."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from stylecore import VGG19_LAYERS, VGGExtractor, vgg19_extractor

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def _no_weights_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the user's weights or hub cache."""
    monkeypatch.delenv("STYLECORE_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


@pytest.fixture(scope="session")
def full_extractor() -> VGGExtractor:
    """Every VGG19 layer, seeded random weights."""
    return vgg19_extractor(layers=list(VGG19_LAYERS), weights="random:0")


@pytest.fixture(scope="session")
def extractor() -> VGGExtractor:
    """The design's five taps plus relu4_2, seeded random weights."""
    return vgg19_extractor(
        layers=["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv4_2", "relu4_2", "conv5_1"], weights="random:0"
    )


@pytest.fixture
def content() -> torch.Tensor:
    """A smooth 48x64 RGB image in [0, 1] with some structure."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 48), torch.linspace(0, 1, 64), indexing="ij")
    return torch.stack([x, y, (x * y * 6).sin() * 0.5 + 0.5]).unsqueeze(0)


@pytest.fixture
def style() -> torch.Tensor:
    """A 56x40 high-frequency pattern, deliberately a different shape."""
    generator = torch.Generator().manual_seed(1)
    return torch.rand(1, 3, 56, 40, generator=generator)
