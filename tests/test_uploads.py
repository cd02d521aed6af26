"""Hostile image inputs: server paths, symlinks, data: URLs, huge headers, oversized bodies.

The raw-HTTP tests send what gradio_client never would: the JSON a script can
post to ``/gradio_api/queue/join`` by hand.
"""

from __future__ import annotations

import json
import os
import struct
import uuid
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from PIL import Image

from demo import uploads
from demo.inputs import MAX_INPUT_PIXELS, Rejected, Upload
from demo.uploads import check_payload

from .conftest import EXAMPLES


def png_header_only(path: Path, width: int, height: int, bit_depth: int = 16) -> Path:
    """A PNG whose header claims ``width`` x ``height`` in a few dozen bytes (no pixel data)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)  # greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def upload_dir() -> Path:
    """A fresh folder inside Gradio's upload cache, where real uploads land."""
    folder = uploads.allowed_roots()[0] / f"test-{uuid.uuid4().hex}"
    folder.mkdir(parents=True)
    return folder


def payload(path: Path | str, orig_name: str | None = None) -> SimpleNamespace:
    """What Gradio hands a component's preprocess: a FileData-like object."""
    return SimpleNamespace(path=str(path), url=None, orig_name=orig_name)


def test_an_upload_in_the_cache_passes(upload_dir: Path) -> None:
    path = upload_dir / "x.png"
    Image.new("RGB", (40, 30)).save(path)
    checked = check_payload(payload(path, orig_name="holiday.png"))
    assert checked == Upload(path.resolve(), "holiday.png", (40, 30))


def test_bundled_examples_pass() -> None:
    assert isinstance(check_payload(payload(EXAMPLES / "chelsea.jpg")), Upload)


@pytest.mark.parametrize("where", ["/etc/hostname", "{tmp}/private.png", "{upload}/../../private.png"])
def test_paths_outside_the_upload_cache_are_refused(tmp_path: Path, upload_dir: Path, where: str) -> None:
    Image.new("RGB", (8, 8)).save(tmp_path / "private.png")
    path = where.format(tmp=tmp_path, upload=upload_dir)
    assert check_payload(payload(path)) == Rejected("That image was not uploaded to this app; upload the file first.")


def test_a_symlink_in_the_cache_pointing_out_is_refused(tmp_path: Path, upload_dir: Path) -> None:
    secret = tmp_path / "secret.png"
    Image.new("RGB", (8, 8)).save(secret)
    link = upload_dir / "innocent.png"
    link.symlink_to(secret)
    assert isinstance(check_payload(payload(link)), Rejected)


def test_data_urls_are_refused_without_decoding() -> None:
    refused = check_payload(SimpleNamespace(path=None, url="data:image/png;base64,AAAA", orig_name=None))
    assert isinstance(refused, Rejected) and "not as data: URLs" in refused.message


def test_huge_dimensions_in_a_tiny_file_are_refused_from_the_header(upload_dir: Path) -> None:
    path = png_header_only(upload_dir / "bomb.png", 7900, 7900)
    assert path.stat().st_size < 100
    refused = check_payload(payload(path, orig_name="bomb.png"))
    assert refused == Rejected("bomb.png is 7900x7900 pixels; the limit is 25 megapixels.")
    side = int(MAX_INPUT_PIXELS**0.5)
    assert isinstance(check_payload(payload(png_header_only(upload_dir / "ok.png", side, side))), Upload)


def test_files_over_the_upload_limit_are_refused(upload_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = upload_dir / "big.png"
    Image.new("RGB", (8, 8)).save(path)
    monkeypatch.setattr(uploads, "MAX_UPLOAD_BYTES", 10)
    refused = check_payload(payload(path, orig_name="big.png"))
    assert isinstance(refused, Rejected) and refused.message.startswith("big.png is 0 MB; the limit is 0 MB")


def test_long_and_odd_names_never_echo_a_server_path(upload_dir: Path) -> None:
    path = upload_dir / "x.txt"
    path.write_text("not an image")
    refused = check_payload(payload(path, orig_name="/home/me/" + "n" * 100 + ".png"))
    assert isinstance(refused, Rejected)
    assert "/home/me" not in refused.message and str(upload_dir) not in refused.message
    assert refused.message.startswith("n" * 57 + "...: That file is not an image")


# ---- the same, over raw HTTP ----------------------------------------------------------------


def fn_index(url: str, api_name: str) -> int:
    config = httpx.get(url + "config").json()
    return next(i for i, d in enumerate(config["dependencies"]) if d.get("api_name") == api_name)


def call_raw(url: str, api_name: str, data: list[Any], raw_data: str | None = None) -> tuple[int, Any]:
    """Join the queue with hand-written data (``raw_data``: the JSON text of the list, NaN allowed);
    return (status, the join's error detail or the completion message)."""
    session = uuid.uuid4().hex
    data_json = raw_data if raw_data is not None else json.dumps(data)
    content = f'{{"data": {data_json}, "fn_index": {fn_index(url, api_name)}, "session_hash": "{session}"}}'
    joined = httpx.post(url + "gradio_api/queue/join", content=content, headers={"content-type": "application/json"})
    if joined.status_code != 200:
        return joined.status_code, joined.json()
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, timeout=120) as events:
        for line in events.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed":
                return 200, message
    raise AssertionError("the event never completed")


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path Pillow is asked to open while the test runs (the server shares this process)."""
    paths: list[str] = []
    real_open = Image.open

    def spy(fp: Any, *args: Any, **kwargs: Any) -> Image.Image:
        paths.append(os.path.realpath(fp) if isinstance(fp, str | Path) else repr(fp))
        return real_open(fp, *args, **kwargs)

    monkeypatch.setattr(Image, "open", spy)
    return paths


def test_a_bare_server_path_is_refused_and_never_opened(url: str, tmp_path: Path, opened: list[str]) -> None:
    secret = tmp_path / "private.png"
    Image.new("RGB", (300, 200), "red").save(secret)
    bare = {"path": str(secret)}  # no "meta": Gradio 6.31 passes this through unchecked

    status, completed = call_raw(url, "extract", [bare])
    assert status == 200 and completed["success"] is False
    assert completed["output"]["error"] == "That image was not uploaded to this app; upload the file first."

    status, completed = call_raw(url, "stylize", [bare, {"path": str(EXAMPLES / "strokes.png")}, *_defaults(url)])
    assert status == 200 and "That image was not uploaded to this app" in _refusal(completed)

    status, completed = call_raw(url, "memory_estimate", [bare, 64, "original", "adam"])
    assert status == 200 and "GiB" in json.dumps(completed)  # the square-image estimate, from nothing
    assert str(secret) not in opened


def _names(url: str) -> list[str]:
    """stylize's inputs in order, as the API documents them."""
    info = httpx.get(url + "gradio_api/info").json()["named_endpoints"]["/stylize"]["parameters"]
    return [p["parameter_name"] for p in info]


def _defaults(url: str) -> list[Any]:
    """stylize's optional inputs as the API documents their defaults."""
    info = httpx.get(url + "gradio_api/info").json()["named_endpoints"]["/stylize"]["parameters"]
    return [p["parameter_default"] for p in info[2:]]


def _refusal(completed: dict[str, Any]) -> str:
    """The sentence a run ended with: values are refused by the run, so a streamed job's wait ends too."""
    assert completed["success"] is False, completed
    return str(completed["output"]["error"])


def test_a_data_url_is_refused_by_the_run(url: str) -> None:
    data_url = {"path": None, "url": "data:image/png;base64,iVBORw0KGgo="}
    status, completed = call_raw(url, "stylize", [data_url, {"path": str(EXAMPLES / "strokes.png")}, *_defaults(url)])
    assert status == 200 and "not as data: URLs" in _refusal(completed)


@pytest.mark.parametrize(
    ("name", "value", "needle"),
    [
        ("iterations", "NaN", "Iterations must be a whole number from 1 to 2000, got nan"),
        ("iterations", "null", "Iterations must be a whole number from 1 to 2000, got None"),
        ("seed", '"three"', "Seed must be a whole number from 0 to"),
        ("seed", str(2**70), "Seed must be a whole number from 0 to 9.22337e+18, got 1.18059e+21"),
        ("preset", "null", "Preset must be one of gatys, original, got None"),
        ("size", "10", "Output size (px) must be a whole number from 64 to 80, got 10"),
        ("size", '""', "Output size (px) must be a whole number from 64 to 80, got ''"),
        ("preset", '"seed"', "__accepted__"),  # the preset's old name still works
        ("blend", "-1", "Share of the first style must be a number from 0 to 1, got -1"),
        ("style_loss", '"fourier"', "Style loss must be one of gram, meancov, sliced, got 'fourier'"),
    ],
)
def test_values_the_sliders_forbid_get_one_sentence(url: str, name: str, value: str, needle: str) -> None:
    position = _names(url).index(name)
    data = [{"path": str(EXAMPLES / "chelsea.jpg")}, {"path": str(EXAMPLES / "strokes.png")}, *_defaults(url)]
    data[_names(url).index("iterations")] = 2  # runs that get through stay short
    items = [value if i == position else json.dumps(d) for i, d in enumerate(data)]  # raw JSON: NaN is allowed
    status, detail = call_raw(url, "stylize", data, raw_data=f"[{', '.join(items)}]")
    if needle == "__accepted__":
        assert status == 200 and detail["success"], detail  # ran (preset "seed" means "original")
        return
    assert status == 200 and needle in _refusal(detail), detail


def test_bodies_over_the_cap_are_refused(url: str) -> None:
    from demo.app import MAX_BODY_BYTES

    too_big = b"x" * (MAX_BODY_BYTES + 1)
    response = httpx.post(url + "gradio_api/queue/join", content=too_big, headers={"content-type": "application/json"})
    assert response.status_code == 413 and "Request body is over" in response.text


def test_uploads_in_gradio_cache_expire(app: Any) -> None:
    from demo.app import CACHE_S

    assert app.demo.delete_cache == (CACHE_S // 4, CACHE_S)


def test_a_plain_path_is_checked_like_a_payload(tmp_path: Path, upload_dir: Path) -> None:
    """Gradio's example loader hands a run a bare path string, without the component's hook."""
    from demo.uploads import as_input

    example = as_input(str(EXAMPLES / "chelsea.jpg"))
    assert isinstance(example, Upload) and example.size == (451, 300)
    assert isinstance(as_input("/etc/hostname"), Rejected)
    assert isinstance(as_input({"path": "/etc/hostname", "url": None}), Rejected)
    assert as_input(example) is example and as_input(None) is None


@pytest.mark.parametrize(
    ("size", "side", "needle"),
    [((1, 1), 256, "The photo is 1x1 pixels; use one at least 32 pixels on each side."),
     ((4000, 16), 256, "The photo is 4000x16 pixels; use one at least 32"),
     ((4000, 100), 256, "at size 256 its short side would be 6 px, under 32; use a photo closer to square")],
)  # fmt: skip
def test_too_small_or_too_thin_photos_are_refused(size: tuple[int, int], side: int, needle: str) -> None:
    from demo.inputs import size_problem

    problem = size_problem(Upload(EXAMPLES / "chelsea.jpg", "x.png", size), "photo", side)
    assert problem and needle in problem
    assert size_problem(Upload(EXAMPLES / "chelsea.jpg", "x.png", (451, 300)), "photo", side) is None


def test_an_http_url_input_is_refused_before_anything_is_fetched(url: str) -> None:
    """A 50 MB body behind a local URL: refused with one sentence, never downloaded."""
    import http.server
    import resource
    import threading

    served: list[str] = []

    class Big(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            self.send_response(200)
            self.send_header("content-type", "image/png")
            self.send_header("content-length", str(50 * 2**20))
            self.end_headers()
            for _ in range(50):
                self.wfile.write(b"\0" * 2**20)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Big)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    try:
        link = f"http://127.0.0.1:{server.server_port}/big.png"
        payload = {"path": link, "url": link, "orig_name": "big.png", "meta": {"_type": "gradio.FileData"}}
        status, completed = call_raw(url, "extract", [payload])
    finally:
        server.shutdown()
    assert status == 200 and completed["success"] is False
    assert completed["output"]["error"] == uploads.NO_URLS
    assert served == []  # refused before a byte was asked for
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024 < 100


# ---- what failed calls leave behind, and what errors say --------------------------------------------------


def _upload(url: str, name: str, content: bytes) -> str:
    response = httpx.post(url + "gradio_api/upload", files={"files": (name, content)}, timeout=60)
    assert response.status_code == 200, response.text
    return str(response.json()[0])


def _png_bytes(seed: int, size: tuple[int, int] = (48, 40)) -> bytes:
    """A PNG of random pixels: bytes no other test (or earlier run) uploads."""
    import io
    import random

    rng = random.Random(seed)
    image = Image.frombytes("RGB", size, bytes(rng.randrange(256) for _ in range(size[0] * size[1] * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _file(path: str) -> dict[str, Any]:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def test_a_call_refused_at_the_door_loses_its_uploads(url: str) -> None:
    """Finding 9: uploads of a call whose values are refused are removed; the examples it named stay.

    Values are refused by the run (so a streamed job ends with the sentence), not at the queue's door.
    """
    content = _upload(url, "mine.png", _png_bytes(uuid.uuid4().int))
    data = [_file(content), {"path": str(EXAMPLES / "strokes.png")}, *_defaults(url)]
    data[_names(url).index("iterations")] = 0  # out of range: refused by the run
    status, completed = call_raw(url, "stylize", data)
    assert status == 200 and completed["success"] is False
    assert "Iterations must be a whole number" in json.dumps(completed)
    assert not Path(content).exists() and (EXAMPLES / "strokes.png").exists()


def test_a_failed_call_with_an_examples_bytes_keeps_the_pages_example(url: str) -> None:
    """Gradio's cache is content-addressed: an upload of an example's bytes is the page's example file itself."""
    shared = _upload(url, "strokes.png", (EXAMPLES / "strokes.png").read_bytes())
    data = [_file(shared), {"path": str(EXAMPLES / "strokes.png")}, *_defaults(url)]
    data[_names(url).index("iterations")] = 0  # out of range: refused by the run
    status, completed = call_raw(url, "stylize", data)
    assert status == 200 and completed["success"] is False
    assert Path(shared).exists()  # removing it would break the example for every visitor


def test_a_call_that_fails_loses_its_upload_and_one_that_works_keeps_it(url: str) -> None:
    bad = _upload(url, "notes.png", b"not an image " + uuid.uuid4().bytes)
    status, completed = call_raw(url, "extract", [_file(bad)])
    assert status == 200 and completed["success"] is False
    assert not Path(bad).exists()
    good = _upload(url, "good.png", _png_bytes(uuid.uuid4().int))
    status, completed = call_raw(url, "extract", [_file(good)])
    assert status == 200 and completed["success"] is True, completed
    assert Path(good).exists()  # Gradio's cache keeps it for its hour


@pytest.mark.parametrize("api_name", ["stylize", "extract"])
def test_a_data_url_or_foreign_path_in_a_file_payload_names_no_server_path(url: str, api_name: str) -> None:
    """Finding 17: Gradio's own refusal ("Cannot move /srv/…/data:image/png…") names the working folder."""
    import tempfile

    for path in ("data:image/png;base64,iVBORw0KGgo=", "/etc/hostname"):
        data = [_file(path), {"path": str(EXAMPLES / "strokes.png")}, *_defaults(url)] if api_name == "stylize" else [
            _file(path)]  # fmt: skip
        status, detail = call_raw(url, api_name, data)
        text = json.dumps(detail)
        assert status != 200 or detail["success"] is False, detail
        for server_path in (os.getcwd(), tempfile.gettempdir(), str(uploads.allowed_roots()[0])):
            assert server_path not in text, text


def test_the_mcp_stylize_tool_runs_and_leaves_no_decoded_files(url: str) -> None:
    """Finding 16: MCP ``stylize`` has no ``painted`` (whose schema pointed nowhere); callers send ``region``.
    Finding 9: a call MCP refuses leaves neither its decoded data: URLs nor their uploads behind."""
    import asyncio
    import base64
    import hashlib

    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client

    photo = _png_bytes(uuid.uuid4().int, (64, 48))
    digest = hashlib.sha256(photo).hexdigest()
    data_url = "data:image/png;base64," + base64.b64encode(photo).decode()
    style = "data:image/png;base64," + base64.b64encode((EXAMPLES / "strokes.png").read_bytes()).decode()

    async def session() -> tuple[dict[str, Any], str, str]:
        async with streamablehttp_client(f"{url}gradio_api/mcp/") as (read, write, _), ClientSession(read, write) as s:
            await s.initialize()
            schema = next(t.inputSchema for t in (await s.list_tools()).tools if t.name == "stylize")
            refused = await s.call_tool("stylize", {"content": data_url, "style": style, "iterations": 0})
            ran = await s.call_tool("stylize", {"content": data_url, "style": style, "iterations": 1, "size": 64})
            texts = [" ".join(getattr(c, "text", "") for c in r.content) for r in (refused, ran)]
            return schema, texts[0], texts[1]

    schema, refused, ran = asyncio.run(session())
    assert "painted" not in schema["properties"] and "region" in schema["properties"]
    assert "Iterations must be a whole number" in refused
    assert "Done: step 1 / 1" in ran, ran
    from gradio.utils import get_upload_folder

    root = Path(get_upload_folder())
    copies = [p for p in root.rglob("file.png") if p.is_file() and p.stat().st_size == len(photo)]  # MCP's name
    # the run that worked keeps its one upload (Gradio's hour); the decodes and the refused call's copies are gone
    assert sum(hashlib.sha256(p.read_bytes()).hexdigest() == digest for p in copies) == 1


# ---- the results folder -----------------------------------------------------------------------------------


def test_stale_results_folders_go_and_live_ones_stay(tmp_path: Path) -> None:
    """Finding 15: folders of apps that ended (no lock) go at start; a live app's (locked) and young ones stay."""
    import fcntl
    import time

    from demo.uploads import RESULTS_GRACE_S, hold_results

    def folder(name: str, age: float) -> Path:
        path = tmp_path / name
        (path / "sub").mkdir(parents=True)
        (path / "sub" / "result.png").write_bytes(b"x")
        os.utime(path, (time.time() - age, time.time() - age))
        return path

    stale, live, young = (folder(f"stylecore-results-{n}", a) for n, a in
                          (("stale", 9 * RESULTS_GRACE_S), ("live", 9 * RESULTS_GRACE_S), ("young", 0)))  # fmt: skip
    other = folder("someone-elses", 9 * RESULTS_GRACE_S)
    (tmp_path / "stylecore-results-link").symlink_to(other)
    lock = os.open(live, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(lock, fcntl.LOCK_EX)  # another open file: a live app, as flock sees it
    ours = tmp_path / "stylecore-results-ours"
    ours.mkdir()
    try:
        assert hold_results(ours) == 1
    finally:
        os.close(lock)
    assert not stale.exists() and live.exists() and young.exists() and other.exists() and ours.exists()
    assert (tmp_path / "stylecore-results-link").is_symlink()


@pytest.mark.slow
def test_sigterm_to_the_app_removes_its_results_folder(tmp_path: Path, exported: Path) -> None:
    """Finding 15: ``python demo/app.py`` ended by SIGTERM (a host stopping it) leaves no results folder."""
    import signal
    import subprocess
    import sys
    import time

    from .conftest import free_port

    temp = tmp_path / "tmp"
    (temp / "stylecore-results-earlier" / "sub").mkdir(parents=True)  # a killed app's, from an hour ago
    os.utime(temp / "stylecore-results-earlier", (time.time() - 3600, time.time() - 3600))
    port = free_port()
    env = {**os.environ, "TMPDIR": str(temp), "GRADIO_SERVER_PORT": str(port), "STYLECORE_WEIGHTS": "random",
           "STYLECORE_ONNX_DIR": str(exported), "STYLECORE_MAX_SIDE": "80", "GRADIO_MCP_SERVER": "False"}  # fmt: skip
    app = subprocess.Popen([sys.executable, "demo/app.py"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 240  # a guard against hanging, not a speed assumption
        while True:
            assert app.poll() is None and time.monotonic() < deadline, "the app did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/config", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        mine = [p.name for p in temp.glob("stylecore-results-*")]
        assert len(mine) == 1 and mine != ["stylecore-results-earlier"]  # the earlier one went at start
        app.send_signal(signal.SIGTERM)
        app.communicate(timeout=120)
    finally:
        app.kill()
    assert list(temp.glob("stylecore-results-*")) == []
