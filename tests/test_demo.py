"""The Gradio app, served on a free local port and driven with gradio_client, raw HTTP and MCP."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402

from stylecore import gram_matrix, open_image, pil_to_tensor, vgg19_extractor  # noqa: E402

from .conftest import EXAMPLES  # noqa: E402


@pytest.fixture
def client(url: str) -> Client:
    return Client(url, verbose=False)


def _stylize_args(iterations: int, size: int = 64, preview_every: int = 2, **extra: object) -> dict:
    return dict(
        content=handle_file(str(EXAMPLES / "chelsea.jpg")), style=handle_file(str(EXAMPLES / "strokes.png")),
        iterations=iterations, size=size, preview_every=preview_every, api_name="/stylize", **extra,
    )  # fmt: skip


def test_models_are_loaded_at_start_and_never_again(app: Any, client: Client, monkeypatch) -> None:
    from demo import models

    assert app.models.extractor is not None and not app.models.trained
    assert app.models.onnx is not None and app.models.onnx.providers[0] == "CPUExecutionProvider"
    assert "untrained random" in app.notice()
    monkeypatch.setattr(models, "vgg19_extractor", lambda **kw: pytest.fail("a model was loaded per request"))
    monkeypatch.setattr(models, "prepare_onnx", lambda *a, **kw: pytest.fail("ONNX was prepared per request"))
    assert client.predict(**_stylize_args(iterations=2))[2].startswith("Done")
    assert client.predict(image=handle_file(str(EXAMPLES / "hubble.jpg")), api_name="/extract")[2]


def test_content_and_style_alone_are_enough_and_outputs_have_names(app: Any, client: Client) -> None:
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    stylize = info["/stylize"]
    assert [p["parameter_name"] for p in stylize["parameters"] if not p["parameter_has_default"]] == [
        "content", "style",
    ]  # fmt: skip
    for endpoint in ("/stylize", "/extract"):
        names = [r["label"] for r in info[endpoint]["returns"]]
        assert all(names) and not any(n.startswith("value_") for n in names), names
    before_after, _plot, status, png = client.predict(
        content=handle_file(str(EXAMPLES / "chelsea.jpg")), style=handle_file(str(EXAMPLES / "strokes.png")),
        api_name="/stylize",
    )  # fmt: skip
    steps = app.hardware.default_iterations
    assert status.startswith(f"Done: step {steps} / {steps}")
    assert Path(png).name == "stylecore-chelsea-strokes.png"
    with open_image(png) as result:
        assert result.size == (80, 53)  # the host's default size (capped at 80 here), chelsea's aspect
    assert len(before_after) == 2 and all(Path(p).is_file() for p in before_after)


def test_stylize_streams_previews_then_the_final_png(client: Client) -> None:
    job = client.submit(**_stylize_args(iterations=6))
    previews = [o[0] for o in job if o[0]]
    assert len(previews) >= 3  # steps 2 and 4 are forced through the throttle, then the final image
    _pair, _plot, status, download = job.result()
    assert status.startswith("Done: step 6 / 6") and "Untrained" in status
    with open_image(download) as png:
        assert png.size == (64, 43)  # chelsea 451x300, long side 64
        assert "UNTRAINED" in png.info["stylecore:weights"]


def test_cancel_ends_a_long_run_and_frees_the_worker(client: Client, monkeypatch) -> None:
    """Each step is made slow (800 steps take at least 40 s), so the run cannot reach its end before the
    cancel; a flag says whether it did."""
    from demo import service

    ran_out = threading.Event()
    real = service.stream

    def slow(*args: Any, **kwargs: Any) -> Any:
        for update in real(*args, **kwargs):
            yield update
            time.sleep(0.05)
        ran_out.set()  # every step ran: nothing ended the run early

    monkeypatch.setattr(service, "stream", slow)
    job = client.submit(**_stylize_args(iterations=800, size=64, preview_every=1))
    deadline = time.time() + 120  # a guard against hanging, not a speed assumption
    while not job.outputs() and time.time() < deadline:
        time.sleep(0.2)
    assert job.outputs(), f"no preview arrived: {job.exception()!r}"
    job.cancel()
    monkeypatch.setattr(service, "stream", real)
    # With one worker, this only finishes once the cancelled run let go of it.
    assert client.predict(**_stylize_args(iterations=2))[2].startswith("Done")
    assert not ran_out.is_set(), "the cancelled run went on to its last step"
    assert len(job.outputs()) < 800


def test_non_image_upload_is_one_clear_sentence(client: Client, tmp_path: Path) -> None:
    fake = tmp_path / "photo.png"
    fake.write_text("this is not a picture")
    args = _stylize_args(iterations=2)
    args["content"] = handle_file(str(fake))
    with pytest.raises(Exception, match=r"photo\.png: That file is not an image we can read") as info:
        client.predict(**args)
    assert "Traceback" not in str(info.value) and str(tmp_path) not in str(info.value)


def test_extract_returns_five_grams_equal_to_torch(app: Any, client: Client) -> None:
    path = EXAMPLES / "hubble.jpg"
    npz_path, summary, provider = client.predict(image=handle_file(str(path)), api_name="/extract")
    assert "CPUExecutionProvider" in provider and summary["provider"] == "CPUExecutionProvider"
    image = open_image(path, max_side=app.hardware.max_side)  # as the app reads it
    features = vgg19_extractor(weights="random")(pil_to_tensor(image))
    with np.load(npz_path) as grams:
        assert list(grams) == ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
        for name, feats in features.items():
            expected = gram_matrix(feats)[0]
            got = torch.from_numpy(grams[name])
            assert got.shape == expected.shape == (feats.shape[1],) * 2
            assert (got - expected).abs().max() / expected.abs().max() < 1e-4
    assert [row["shape"] for row in summary["layers"]] == [[c, c] for c in (64, 128, 256, 512, 512)]


def test_new_controls_blend_colors_and_scales(client: Client) -> None:
    args = _stylize_args(iterations=4, size=80, preview_every=1)
    args.update(content=handle_file(str(EXAMPLES / "hubble.jpg")), style2=handle_file(str(EXAMPLES / "chelsea.jpg")),
                blend=0.7, preserve_colors="luminance", scales=2, style_loss="sliced")  # fmt: skip
    job = client.submit(**args)
    sizes = [open_image(o[0][1]).size for o in job if o[0]]
    assert sizes[0] == (40, 35) and sizes[-1] == (80, 70)  # hubble is 512x446: previews continue across two scales
    assert job.result()[2].startswith("Done: step 4 / 4")


def test_memory_estimate_is_read_from_the_header(app: Any) -> None:
    from demo import service
    from demo.inputs import Upload
    from stylecore import PRESETS

    upload = Upload(EXAMPLES / "chelsea.jpg", "chelsea.jpg", (451, 300))
    shown = app.memory_estimate(upload, 64, "original", "adam")
    expected = service.memory_note((451, 300), 64, PRESETS["original"], on_gpu=False)
    assert shown == expected and "GiB" in shown
    small, large = (service.memory_note((451, 300), side, PRESETS["original"], False) for side in (64, 512))
    assert float(small.split("**")[1].split()[0]) < float(large.split("**")[1].split()[0])
    assert "Output size (px) must be a whole number" in app.memory_estimate(upload, float("nan"), "original", "adam")


def test_four_concurrent_clients_all_get_answers(url: str) -> None:
    def one(i: int) -> str:
        return Client(url, verbose=False).predict(**_stylize_args(iterations=2, size=64))[2]

    with ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(one, range(4)))
    assert all(s.startswith("Done: step 2 / 2") for s in statuses)


def test_without_weights_the_app_explains_and_refuses(app: Any, monkeypatch, tmp_path: Path) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    import gradio as gr

    from demo import models as demo_models
    from demo.inputs import Upload

    models = demo_models.load_models(tmp_path)
    assert models.extractor is None and "STYLECORE_WEIGHTS" in (models.weights_error or "")
    monkeypatch.setattr(app, "models", models)
    assert "no VGG19 weights" in app.notice()
    upload = Upload(EXAMPLES / "chelsea.jpg", "chelsea.jpg", (451, 300))
    with pytest.raises(gr.Error, match="VGG19 ImageNet weights not found"):
        next(app.stylize(upload, upload))


def test_the_app_is_an_mcp_server_with_described_tools(url: str, tmp_path: Path) -> None:
    import asyncio
    import base64

    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    png = tmp_path / "probe.png"
    open_image(EXAMPLES / "hubble.jpg", max_side=64).save(png)
    data_url = "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()

    async def session() -> tuple[dict[str, str], str]:
        async with streamablehttp_client(f"{url}gradio_api/mcp/") as (read, write, _), ClientSession(read, write) as s:
            await s.initialize()
            tools = {tool.name: tool.description or "" for tool in (await s.list_tools()).tools}
            result = await s.call_tool("extract", {"image": data_url})
            return tools, " ".join(getattr(c, "text", "") for c in result.content)

    tools, text = asyncio.run(session())
    assert {"stylize", "extract"} <= set(tools)
    assert "style of an artwork" in tools["stylize"] and "Gram matrices" in tools["extract"]
    assert "CPUExecutionProvider" in text and "conv5_1" in text


def test_a_region_places_the_second_style(client: Client, tmp_path: Path) -> None:
    from PIL import Image

    mask = Image.new("L", (451, 300), 0)
    mask.paste(255, (0, 0, 225, 300))  # the left half gets the second style
    mask.save(tmp_path / "left.png")
    args = _stylize_args(iterations=3, size=64)
    args.update(style2=handle_file(str(EXAMPLES / "hubble.jpg")), region=handle_file(str(tmp_path / "left.png")))
    assert client.predict(**args)[2].startswith("Done: step 3 / 3")
    alone = _stylize_args(iterations=3, size=64)
    alone.update(region=handle_file(str(tmp_path / "left.png")))
    with pytest.raises(Exception, match="A region places the second style: add a second style image too"):
        client.predict(**alone)


def test_a_painted_layer_becomes_the_region(tmp_path: Path) -> None:
    from PIL import Image

    from demo.inputs import Upload, read_region

    layer = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    layer.paste((255, 0, 0, 255), (0, 0, 10, 30))  # strokes on the left quarter
    layer.save(tmp_path / "layer.png")
    mask = read_region(Upload(tmp_path / "layer.png", "layer.png", (40, 30)), painted=True)
    assert mask.shape == (1, 1, 30, 40) and float(mask[..., :10].min()) == 1.0 and float(mask[..., 10:].max()) == 0.0
    Image.new("RGBA", (40, 30), (0, 0, 0, 0)).save(tmp_path / "empty.png")  # nothing painted: no region
    assert read_region(Upload(tmp_path / "empty.png", "empty.png", (40, 30)), painted=True) is None


def test_the_painting_editor_checks_its_files_like_uploads(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from demo.uploads import Rejected, check_painted

    outside = SimpleNamespace(path="/etc/hostname", url=None, orig_name=None)
    assert isinstance(check_painted(SimpleNamespace(background=None, layers=[outside], composite=None)), Rejected)
    assert check_painted(SimpleNamespace(background=None, layers=[], composite=None)) is None


def test_the_page_points_videos_and_folders_to_the_readme(url: str) -> None:
    import json
    import urllib.request

    with urllib.request.urlopen(f"{url}config", timeout=30) as response:
        config = json.load(response)
    notes = [
        c["props"].get("value", "") for c in config["components"] if c.get("props", {}).get("elem_id") == "video-note"
    ]
    assert len(notes) == 1 and "stylecore video" in notes[0] and "*Video* section" in notes[0]


def test_a_size_over_the_host_is_used_at_the_limit_and_said_aloud(client: Client) -> None:
    status, png = client.predict(**_stylize_args(iterations=2, size=100000))[2:]
    assert "Size 100000 is over this host's 80 limit; used 80" in status
    with open_image(png) as result:
        assert max(result.size) == 80


def test_the_page_and_the_cli_make_the_same_image(app: Any, tmp_path: Path) -> None:
    """Same photo, style, size, steps, weights and seed: the page's PNG is the CLI's PNG."""
    from demo.settings import DEFAULT_PRESET
    from stylecore.cli.main import main

    photo, style = EXAMPLES / "chelsea.jpg", EXAMPLES / "strokes.png"
    *_, last = app.stylize(str(photo), str(style), iterations=3, size=64, progress=lambda *a, **k: None)
    page = np.asarray(open_image(last[3]), dtype=np.int16)
    out = tmp_path / "cli.png"
    assert main([str(photo), str(style), "-o", str(out), "--size", "64", "--iterations", "3", "-q",
                 "--weights", "random", "--preset", DEFAULT_PRESET]) == 0  # fmt: skip
    cli = np.asarray(open_image(out), dtype=np.int16)
    assert page.shape == cli.shape
    assert np.abs(page - cli).max() <= 1, np.abs(page - cli).mean()


def _run_values(app: Any, api: bool = False, **changes: object) -> list[object]:
    """The page's inputs (``api``: the API's) in the run's order: photo, style, no second style, the settings."""
    values = {"content": str(EXAMPLES / "chelsea.jpg"), "style": str(EXAMPLES / "strokes.png"), **app.defaults}
    values |= changes
    return [values.get(name) for name in (app.api_names if api else app.names)]


def _quiet(*_args: object, **_kwargs: object) -> None:
    return None


def test_settings_are_parsed_once_per_request(app: Any, monkeypatch) -> None:
    """The page's check parses the settings; the run gets the checked request and parses nothing."""
    from demo.controls import Number

    sizes: list[object] = []
    real = Number.parse

    def counted(self: Number, value: object) -> float:
        if self.label == "Output size (px)":
            sizes.append(value)
        return real(self, value)

    monkeypatch.setattr(Number, "parse", counted)
    message, status, request, *_ = app.page_check(*_run_values(app, iterations=2, size=64))
    assert (message, status) == ("", "Starting…") and request.config.size == 64
    *_, last = app.page_stylize(request, progress=_quiet)
    assert last[2].startswith("Done: step 2 / 2") and sizes == [64]
    sizes.clear()
    *_, last = app.stylize(*_run_values(app, True, iterations=2, size=64), progress=_quiet)  # the API's run
    assert last[2].startswith("Done: step 2 / 2") and sizes == [64]


def test_the_status_says_bf16_in_an_artists_words_and_fp32_not_at_all(app: Any, monkeypatch) -> None:
    from stylecore.optim import precision

    photo, style = str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png")
    *_, last = app.stylize(photo, style, iterations=2, size=64, progress=_quiet)
    assert re.match(r"Done: step 2 / 2 · [\d.]+ s\.", last[2]) and "fp32" not in last[2], last[2]
    monkeypatch.setattr(precision, "detect_capability", lambda _device: precision.Capability(cpu_bf16="AMX"))
    monkeypatch.setattr(precision, "measure", lambda _device: precision.Timing(fp32=1.0, bf16=0.5))
    updates = list(app.stylize(photo, style, iterations=2, size=64, preview_every=1, progress=_quiet))
    assert updates[-1][2].startswith("Done: step 2 / 2 · Faster, same look (bf16) · ")
    assert all("Faster, same look (bf16)" in u[2] and "AMX" not in u[2] for u in updates)  # the running lines too


def test_a_new_setting_row_is_a_control_and_an_api_parameter(app: Any, monkeypatch) -> None:
    """create_app builds a fresh page from the table: a new row needs nothing by hand in the app."""
    import inspect
    import json
    import math

    from demo import settings
    from demo.app import create_app
    from demo.controls import Number

    row = settings.Setting("log_lr", Number("Step size", -4, 0, 0.1, hint="learning rate, as a power of ten"),
                           "step size, as a power of ten.", field="lr", to_field=lambda x: 10**x,
                           from_field=math.log10, group="method", default=-2.0)  # fmt: skip
    table = settings.table
    monkeypatch.setattr(settings, "table", lambda hardware: (*table(hardware), row))
    page = create_app(app.hardware, app.models)
    assert page.demo is not app.demo and "log_lr" not in app.names
    assert inspect.signature(page.stylize).parameters["log_lr"].default == -2.0
    assert "log_lr: step size, as a power of ten." in (page.stylize.__doc__ or "")
    sliders = [c for c in page.demo.config["components"] if c.get("props", {}).get("elem_id") == "log_lr"]
    assert len(sliders) == 1 and sliders[0]["props"]["label"] == "Step size"
    photo, style = str(EXAMPLES / "chelsea.jpg"), str(EXAMPLES / "strokes.png")
    *_, last = page.stylize(photo, style, iterations=2, size=64, log_lr=-1.5, progress=_quiet)
    with open_image(last[3]) as png:
        assert json.loads(png.info["stylecore:config"])["lr"] == pytest.approx(10**-1.5)


def test_importing_the_app_loads_nothing_and_the_service_imports_no_gradio() -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    code = (
        "import sys\n"
        "import demo.service, demo.settings, demo.inputs, demo.models, demo.checks, demo.runs, demo.words\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'gradio'], 'gradio was imported'\n"
        "def boom(*a, **k): raise AssertionError('models loaded at import')\n"
        "demo.models.load_models = boom\n"
        "import demo.app\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_a_tiled_config_from_a_gpu_host_runs(app: Any, monkeypatch) -> None:
    """What a GPU host sends for a large result (tiles) runs through the service (here on the CPU, small)."""
    import dataclasses

    from demo import hosting, inputs, service, settings

    monkeypatch.setattr(hosting, "GPU_TILE", 48)  # "large" is above 48 px here
    gpu = dataclasses.replace(app.hardware, kind="gpu")
    rows = settings.table(gpu)
    config = settings.check(rows, settings.defaults(rows) | {"iterations": 2, "size": 80}, gpu, two_styles=False).config
    assert config.tile == 48
    upload = inputs.Upload(EXAMPLES / "chelsea.jpg", "chelsea.jpg", (451, 300))
    photo = inputs.read_upload(upload, "a photo", 80)
    *_, last = service.stream(app.models, photo, [photo], config)
    assert last.final and last.preview is not None and last.preview.size == (80, 53)
