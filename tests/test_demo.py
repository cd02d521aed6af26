"""The Gradio app, served on a free local port and driven with gradio_client."""

from __future__ import annotations

import importlib
import socket
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from stylecore import gram_matrix, open_image, pil_to_tensor, vgg19_extractor  # noqa: E402

from .conftest import EXAMPLES  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """demo.app imported with seeded random weights and a fresh ONNX path."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STYLECORE_WEIGHTS", "random")
        mp.setenv("STYLECORE_ONNX", str(tmp_path_factory.mktemp("onnx") / "vgg19_extractor.onnx"))
        mp.setenv("STYLECORE_MAX_SIDE", "256")
        sys.modules.pop("demo.app", None)
        module = importlib.import_module("demo.app")
    yield module


@pytest.fixture(scope="module")
def url(app: ModuleType) -> Iterator[str]:
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()


@pytest.fixture
def client(url: str) -> Client:
    return Client(url, verbose=False)


def _stylize_args(iterations: int, size: int = 64, preview_every: int = 2) -> dict:
    return dict(
        content=handle_file(str(EXAMPLES / "chelsea.jpg")), style=handle_file(str(EXAMPLES / "strokes.png")),
        style2=None, blend=0.5, preset="seed", iterations=iterations, size=size, log_cw=0, log_sw=1, log_tv=0,
        preview_every=preview_every, optimizer="adam", init="content", seed=0, style_scale=1.0,
        preserve_colors="none", scales=1, api_name="/stylize",
    )  # fmt: skip


def test_models_loaded_once_at_start(app: ModuleType) -> None:
    assert app.MODELS.extractor is not None and not app.MODELS.trained
    assert app.MODELS.onnx is not None and app.MODELS.onnx.providers[0] == "CPUExecutionProvider"
    assert "untrained random" in app._notice()


def test_stylize_streams_previews_then_a_final_png(client: Client) -> None:
    job = client.submit(**_stylize_args(iterations=6))
    outputs = list(job)
    previews = [o[0] for o in outputs if o[0]]
    assert len(previews) >= 3  # steps 2 and 4, then 6 (the final one)
    final_image, _plot, status, download = job.result()
    assert status.startswith("Done: step 6 / 6") and "Untrained" in status
    with open_image(download) as png:
        assert png.size == (64, 43)  # chelsea 451x300, long side 64
    assert Path(final_image).is_file()


def test_cancel_ends_a_long_run_and_frees_the_worker(client: Client) -> None:
    job = client.submit(**_stylize_args(iterations=2000, size=128, preview_every=1))
    deadline = time.time() + 60
    while not job.outputs() and time.time() < deadline:
        time.sleep(0.2)
    assert job.outputs(), "no preview arrived"
    job.cancel()
    start = time.time()
    # With one worker, this only finishes if the cancelled run let go of it.
    result = client.predict(**_stylize_args(iterations=2))
    assert result[2].startswith("Done") and time.time() - start < 60
    assert len(job.outputs()) < 2000


def test_non_image_upload_is_one_clear_sentence(client: Client, tmp_path: Path) -> None:
    fake = tmp_path / "photo.png"
    fake.write_text("this is not a picture")
    args = _stylize_args(iterations=2)
    args["content"] = handle_file(str(fake))
    with pytest.raises(Exception, match="not an image we can read") as info:
        client.predict(**args)
    assert "Traceback" not in str(info.value)


def test_extract_returns_five_grams_equal_to_torch(app: ModuleType, client: Client) -> None:
    path = EXAMPLES / "hubble.jpg"
    npz_path, summary, provider = client.predict(image=handle_file(str(path)), api_name="/extract")
    assert "CPUExecutionProvider" in provider and summary["provider"] == "CPUExecutionProvider"
    image = app.service.read_upload(str(path), "", 256)  # as the app reads it (STYLECORE_MAX_SIDE=256)
    features = vgg19_extractor(weights="random")(pil_to_tensor(image))
    with np.load(npz_path) as grams:
        assert list(grams) == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
        for name, feats in features.items():
            expected = gram_matrix(feats)[0]
            got = torch.from_numpy(grams[name])
            assert got.shape == expected.shape == (feats.shape[1],) * 2
            assert (got - expected).abs().max() / expected.abs().max() < 1e-4
    assert [row["shape"] for row in summary["layers"]] == [[c, c] for c in (64, 128, 256, 512, 512)]


def test_new_controls_blend_colours_and_scales(client: Client) -> None:
    args = _stylize_args(iterations=4, size=96, preview_every=1)
    args.update(style2=handle_file(str(EXAMPLES / "hubble.jpg")), blend=0.7, preserve_colors="luminance", scales=2)
    job = client.submit(**args)
    sizes = [open_image(o[0]).size for o in job if o[0]]
    assert sizes[0] == (48, 32) and sizes[-1] == (96, 64)  # previews continue across the two scales
    assert job.result()[2].startswith("Done: step 4 / 4")


def test_memory_estimate_is_shown_for_the_chosen_size(app: ModuleType) -> None:
    small = app.memory_estimate(str(EXAMPLES / "chelsea.jpg"), 128, "seed", "adam")
    large = app.memory_estimate(str(EXAMPLES / "chelsea.jpg"), 256, "seed", "adam")
    gib = [float(text.split("**")[1].split()[0]) for text in (small, large)]
    assert 0 < gib[0] < gib[1]


def test_four_concurrent_clients_all_get_answers(url: str) -> None:
    def one(i: int) -> str:
        return Client(url, verbose=False).predict(**_stylize_args(iterations=2, size=64))[2]

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(one, range(4)))
    assert all(s.startswith("Done: step 2 / 2") for s in statuses)


def test_without_weights_the_app_explains_and_refuses(app: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    models = app.service.load_models(Path("/nonexistent/model.onnx"))
    assert models.extractor is None and "STYLECORE_WEIGHTS" in (models.weights_error or "")
    monkeypatch.setattr(app, "MODELS", models)
    assert "no VGG19 weights" in app._notice()
    with pytest.raises(app.gr.Error, match="VGG19 ImageNet weights not found"):
        next(app.run(str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png"), None, 0.5, "seed", 2, 64, 0, 1,
                     0, 1, "adam", "content", 0, 1.0, "none", 1))  # fmt: skip
