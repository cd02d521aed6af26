"""Benchmarks: run for real by `make bench`, once each as smoke tests in `make test`.

In smoke mode (``--benchmark-disable``) every benchmark runs once at 64 px so
the code cannot rot without slowing the test suite down.
"""

from __future__ import annotations

import os

import pytest
import torch

from stylecore import PRESETS, StyleConfig, VGGExtractor, vgg19_extractor
from stylecore.optim import precision

from ..conftest import pin_fp32

FULL_SIZES = (128, 256, 512)
SMOKE_SIZES = (64,)


def smoke(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_disable"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "size" in metafunc.fixturenames:
        metafunc.parametrize("size", SMOKE_SIZES if smoke(metafunc.config) else FULL_SIZES)


def rounds(size: int) -> int:
    """Enough rounds for a stable median on a noisy 2-core machine, within the time budget."""
    return {64: 3, 128: 10, 256: 5}.get(size, 3)


#: The user's precision cache: a real run judges what ``auto`` picks for them, measured once per machine.
USER_CACHE_PATH, USER_CACHE_ENV = precision.cache_path, os.environ.get(precision.CACHE_ENV)


@pytest.fixture(autouse=True)
def _no_bf16_units(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, _no_precision_cache: None) -> None:
    """Replaces the suite's fixture of this name: a smoke run pins ``precision="auto"`` to fp32 like every test,
    a real run (`make bench`) measures what ``auto`` picks on this CPU, with the user's cached verdict."""
    if smoke(request.config):
        pin_fp32(monkeypatch)
    else:
        monkeypatch.setattr(precision, "cache_path", USER_CACHE_PATH)
        if USER_CACHE_ENV is None:
            monkeypatch.delenv(precision.CACHE_ENV, raising=False)
        else:
            monkeypatch.setenv(precision.CACHE_ENV, USER_CACHE_ENV)


@pytest.fixture(scope="session")
def bench_config() -> StyleConfig:
    """The design's `seed` preset on the CPU: five conv taps for content and style, Adam."""
    return PRESETS["original"].with_overrides(device="cpu", save_every=0)


@pytest.fixture(scope="session")
def extractor(bench_config: StyleConfig) -> VGGExtractor:
    return vgg19_extractor(layers=bench_config.layers, weights="random:0")


def square(size: int, seed: int) -> torch.Tensor:
    return torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(seed))
