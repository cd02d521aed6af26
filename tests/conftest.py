"""Shared fixtures: seeded random weights and small images, no network."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

from stylecore import VGG19_LAYERS, VGGExtractor, vgg19_extractor

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(autouse=True)
def _no_weights_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never see the user's weights, torch's hub cache or the Hugging Face cache."""
    import huggingface_hub.constants

    monkeypatch.delenv("STYLECORE_WEIGHTS", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf_cache"))  # for child processes
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))  # read at import


#: Torch threads in every test, its child processes and its Ray workers. The thread count decides how
#: float sums are split, so results compared bit for bit need the same count on both sides; fixing it
#: here makes the suite independent of the machine's core count. ``STYLECORE_TEST_THREADS=1`` (or 2)
#: runs the whole suite at another fixed count.
TEST_THREADS = int(os.environ.get("STYLECORE_TEST_THREADS", "2"))


@pytest.fixture(autouse=True)
def _pinned_threads(monkeypatch: pytest.MonkeyPatch) -> None:
    torch.set_num_threads(TEST_THREADS)
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # what torch starts with in a child process
        monkeypatch.setenv(variable, str(TEST_THREADS))


@pytest.fixture(autouse=True)
def _no_bf16_units(monkeypatch: pytest.MonkeyPatch) -> None:
    """``precision="auto"`` means fp32 in every test, whatever bf16 units this CPU has: an AVX512-BF16 or AMX
    machine would otherwise run other arithmetic than an AVX2 one. The bf16 branches are covered by tests that
    inject a capability (test_device.py) or ask for ``precision="bf16"``."""
    pin_fp32(monkeypatch)


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stylecore_cache")


@pytest.fixture(autouse=True)
def _no_precision_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, _session_cache: Path) -> None:
    """Tests never read or write the user's cached precision verdict (stylecore.optim.precision): each test has
    its own, and child processes (the CLI run as a command) share one for the session, so it is measured once."""
    from stylecore.optim import precision

    monkeypatch.setattr(precision, "cache_path", lambda environ=None: tmp_path / "cache" / "precision.json")
    monkeypatch.setenv(precision.CACHE_ENV, str(_session_cache))


def pin_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make this CPU report no bf16 units, so ``precision="auto"`` is fp32 here as on an AVX2 machine."""
    from stylecore.optim import precision

    monkeypatch.setattr(precision, "detect_capability", lambda _device: precision.Capability())
    monkeypatch.delenv(precision.PRECISION_ENV, raising=False)


def torchvision_features(seed: int = 0) -> torch.nn.Sequential:
    """torchvision's own VGG19 ``features`` (its code and init, not ours), without the 500 MB classifier."""
    from torchvision.models.vgg import cfgs, make_layers

    torch.manual_seed(seed)
    return make_layers(cfgs["E"]).eval()


def torchvision_checkpoint(features: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The key layout of torchvision's vgg19-dcbb9e9d.pth, with a tiny stand-in classifier."""
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    return state | {"classifier.6.weight": torch.zeros(10, 4), "classifier.6.bias": torch.zeros(10)}


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: Quick profile settings for test exports.
QUICK_PROFILE = ["--sizes", "32", "--runs", "1", "--profile-size", "32"]


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real `python -m export` run once with seeded random weights (the app reuses it)."""
    from export.__main__ import main as export_main

    out = tmp_path_factory.mktemp("artifacts")
    assert export_main(["--weights", "random:0", "--out", str(out), *QUICK_PROFILE]) == 0
    return out


@pytest.fixture(scope="session")
def app(exported: Path) -> Iterator[Any]:
    """A fresh app from ``create_app``: seeded random weights, the session's exported model, outputs capped at 80 px."""
    from demo import hosting, models
    from demo.app import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLECORE_WEIGHTS", "random")
        mp.setenv("STYLECORE_MAX_SIDE", "80")  # CPU defaults: 100 steps at 80 px
        hardware = hosting.detect()
        # The session's export: its sidecar vouches for it, so there is no second export.
        loaded = models.load_models(exported, onnx_providers=["CPUExecutionProvider"])
    yield create_app(hardware, loaded)


@pytest.fixture(scope="session")
def url(app: Any) -> Iterator[str]:
    """The app served on a free local port (the MCP server too), for every test that talks HTTP."""
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 12-frame synthetic clip with sound at 12 fps, and a style image (``stylecore video`` and Ray tests)."""
    from stylecore.imaging.images import save_image

    from .synthetic_clip import synthetic_clip, texture, write_clip

    folder = tmp_path_factory.mktemp("video")
    write_clip(str(folder / "clip.mp4"), synthetic_clip(frames=12).frames, fps=12)
    save_image(texture(48, 48, 7) ** 2, folder / "style.png")
    return folder / "clip.mp4", folder / "style.png"


#: Fixtures that start something heavy: an ONNX export, the app and its server, a browser, a local Ray.
HEAVY_FIXTURES = frozenset({"exported", "app", "url", "browser", "local_ray"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses a heavy fixture is marked ``heavy``, so ``make test-fast`` (-m "not heavy") skips it."""
    for item in items:
        if HEAVY_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.heavy)
