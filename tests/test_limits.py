"""Fair use: the per-client run limit (with an injected clock) and the request-body cap."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from demo.limits import ADMISSION_GRACE_S, BodyLimit, ClientLimit, UploadQuota, client_keys

ALICE = ("ip:10.0.0.1", "session:a")
ALICE_TAB2 = ("ip:10.0.0.1", "session:a2")
BOB = ("ip:10.0.0.2", "session:b")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_session_gets_two_runs_and_a_clear_refusal_for_the_third() -> None:
    limit = ClientLimit(2, clock=Clock())
    assert limit.admit(ALICE, []) is None
    assert limit.admit(ALICE, []) is None  # same instant: the first is not in Gradio's queue yet
    refusal = limit.admit(ALICE, [])
    assert refusal == (
        "You already have 2 runs queued or running in this browser session; "
        "wait for one to finish (or press Stop) before starting another."
    )
    assert limit.admit(BOB, []) is None  # other people are not held up


def test_an_address_gets_twice_a_session() -> None:
    limit = ClientLimit(2, clock=Clock())
    pending = [ALICE, ALICE_TAB2, ALICE_TAB2]
    assert limit.admit(("ip:10.0.0.1", "session:a3"), pending) is None
    assert "from your address" in (limit.admit(("ip:10.0.0.1", "session:a4"), [*pending, ALICE]) or "")


def test_admissions_age_out_and_the_queue_is_what_counts() -> None:
    clock = Clock()
    limit = ClientLimit(2, clock=clock)
    assert limit.admit(ALICE, []) is None and limit.admit(ALICE, []) is None
    clock.now += ADMISSION_GRACE_S
    assert limit.admit(ALICE, [ALICE, ALICE]) is not None  # both now wait in Gradio's queue
    assert limit.admit(ALICE, [ALICE]) is None  # one of them finished


def test_client_keys_believe_the_proxy_header_only_behind_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    request = SimpleNamespace(headers={"x-forwarded-for": "1.2.3.4, 10.0.0.9"}, client=SimpleNamespace(host="10.0.0.9"),
                              session_hash="s")  # fmt: skip
    monkeypatch.delenv("SPACE_ID", raising=False)
    monkeypatch.delenv("STYLECORE_TRUST_FORWARDED", raising=False)
    assert client_keys(request) == ("ip:10.0.0.9", "session:s")  # anyone can send the header
    monkeypatch.setenv("SPACE_ID", "someone/app")  # a Space's proxy sets it
    assert client_keys(request) == ("ip:1.2.3.4", "session:s")
    monkeypatch.setenv("STYLECORE_TRUST_FORWARDED", "0")
    assert client_keys(request) == ("ip:10.0.0.9", "session:s")
    direct = SimpleNamespace(headers={}, client=SimpleNamespace(host="127.0.0.1"), session_hash=None)
    assert client_keys(direct) == ("ip:127.0.0.1",)
    assert client_keys(None) == ()


async def _call(middleware: BodyLimit, headers: list[tuple[bytes, bytes]], chunks: list[bytes]) -> dict[str, Any]:
    sent: list[dict[str, Any]] = []
    seen: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                return

    middleware.app = app
    await middleware({"type": "http", "headers": headers}, receive, send)
    return {"sent": sent, "seen": seen}


def test_declared_oversized_bodies_get_413_without_reaching_the_app() -> None:
    result = asyncio.run(_call(BodyLimit(None, max_bytes=10), [(b"content-length", b"11")], [b"x" * 11]))  # type: ignore[arg-type]
    assert result["sent"][0]["status"] == 413 and not result["seen"]


def test_undeclared_bodies_are_cut_off_when_they_pass_the_cap() -> None:
    result = asyncio.run(_call(BodyLimit(None, max_bytes=10), [], [b"x" * 6, b"x" * 6, b"x" * 6]))  # type: ignore[arg-type]
    assert [m["type"] for m in result["seen"]] == ["http.request", "http.disconnect"]


@pytest.mark.slow
def test_one_client_cannot_fill_the_queue(url: str) -> None:
    """A client over its share is told so, and its streamed job ends with the sentence (a 422 would hang it)."""
    from gradio_client import Client, handle_file  # type: ignore[import-untyped]
    from gradio_client.exceptions import AppError  # type: ignore[import-untyped]

    from .conftest import EXAMPLES

    client = Client(url, verbose=False)
    args = dict(content=handle_file(str(EXAMPLES / "chelsea.jpg")), style=handle_file(str(EXAMPLES / "strokes.png")),
                iterations=800, size=64, preview_every=1, api_name="/stylize")  # fmt: skip
    jobs = [client.submit(**args) for _ in range(2)]
    try:
        deadline = time.monotonic() + 120  # a guard against hanging, not a speed assumption
        while sum(j.status().code.name in ("PROCESSING", "ITERATING", "IN_QUEUE") for j in jobs) < 2:
            assert time.monotonic() < deadline, [j.status() for j in jobs]
            time.sleep(0.1)
        with pytest.raises(AppError, match="You already have 2 runs queued or running"):
            client.predict(**args)
        streamed = client.submit(**args)
        looped = threading.Thread(target=lambda: list(streamed), daemon=True)
        looped.start()
        looped.join(60)  # a guard against the hang this test is about, not a speed assumption
        assert not looped.is_alive(), "the streamed job never ended"
        with pytest.raises(AppError, match="You already have 2 runs queued or running"):
            streamed.result(timeout=5)
    finally:
        for job in jobs:
            job.cancel()


def test_a_run_counts_while_it_runs_and_not_a_moment_longer() -> None:
    clock = Clock()
    limit = ClientLimit(2, clock)
    assert limit.admit(ALICE, []) is None
    with limit.running(ALICE):  # the admission is used up as the run starts: one run, not two
        assert limit.admit(ALICE, []) is None
        with limit.running(ALICE):
            assert limit.admit(ALICE, []) is not None  # two running
    assert limit.admit(ALICE, []) is None  # both ended within the grace second: nothing is running


def test_a_run_that_fails_releases_its_count_at_once() -> None:
    limit = ClientLimit(1, Clock())
    for _ in range(3):  # strictly one call after another, each ending in an error
        assert limit.admit(ALICE, []) is None
        with pytest.raises(RuntimeError), limit.running(ALICE):
            raise RuntimeError("the run failed")


@pytest.mark.slow
def test_calls_one_after_another_are_never_refused(app: Any, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from gradio_client import Client, handle_file

    from stylecore import StylecoreError

    from .conftest import EXAMPLES

    client = Client(url, verbose=False)
    args = dict(content=handle_file(str(EXAMPLES / "chelsea.jpg")), style=handle_file(str(EXAMPLES / "strokes.png")),
                iterations=2, size=64, api_name="/stylize")  # fmt: skip
    for _ in range(4):
        assert client.predict(**args)[2].startswith("Done")

    def fails(*_args: object, **_kwargs: object) -> Any:
        raise StylecoreError("the run broke on purpose")

    from demo import service

    monkeypatch.setattr(service, "stream", fails)
    for _ in range(3):  # every one fails in the run, and none is refused by the limit
        with pytest.raises(Exception, match=r"[Tt]he run broke on purpose"):
            client.predict(**args)
    monkeypatch.undo()
    assert client.predict(**args)[2].startswith("Done")


def test_a_call_that_starts_while_its_client_has_its_share_running_is_refused_there() -> None:
    """The count where a call runs is a cap of its own: a route around every check meets it."""
    import gradio as gr

    limit = ClientLimit(1, Clock())
    with limit.running(ALICE):
        refused = pytest.raises(gr.Error, match="You already have 1 runs queued or running in this browser session")
        with refused, limit.running(ALICE):
            pass
        with limit.running(BOB):  # other people are not held up
            pass
    with limit.running(ALICE):  # the refused call left no count behind
        pass


def test_a_check_records_nothing_and_a_release_gives_the_admission_back() -> None:
    limit = ClientLimit(1, Clock())
    assert limit.check(ALICE, []) is None and limit.check(ALICE, []) is None
    assert limit.admit(ALICE, []) is None
    assert limit.check(ALICE, []) is not None
    limit.release(ALICE)  # its event never reached the queue
    assert limit.admit(ALICE, []) is None


async def _upload(quota: UploadQuota, address: str, size: int, declared: bool = True) -> int:
    """The status of an upload of ``size`` bytes (two chunks) from ``address`` through ``quota``."""
    messages = [{"type": "http.request", "body": b"x" * (size // 2), "more_body": True},
                {"type": "http.request", "body": b"x" * (size - size // 2), "more_body": False}]  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while (message := await receive())["type"] != "http.disconnect" and message.get("more_body"):
            pass
        await send({"type": "http.response.start", "status": 400 if message["type"] == "http.disconnect" else 200})

    quota.app = app
    headers = [(b"content-length", str(size).encode())] if declared else []
    scope = {"type": "http", "method": "POST", "path": "/gradio_api/upload", "headers": headers,
             "client": (address, 5000)}  # fmt: skip
    await quota(scope, receive, send)
    return int(sent[0]["status"])


def test_uploads_are_capped_per_address_and_age_out() -> None:
    clock = Clock()
    quota = UploadQuota(None, window_s=3600, max_bytes=1000, clock=clock)  # type: ignore[arg-type]

    def statuses(address: str, *sizes: int, declared: bool = True) -> list[int]:
        return [asyncio.run(_upload(quota, address, size, declared)) for size in sizes]

    assert statuses("10.0.0.1", 400, 400, 400) == [200, 200, 429]
    assert statuses("10.0.0.2", 400) == [200]  # another address has its own
    assert statuses("10.0.0.1", 300, declared=False) == [400]  # undeclared: cut off where it passes
    clock.now += 3601
    assert statuses("10.0.0.1", 900) == [200]
    assert quota.used("10.0.0.1") == 900


# ---- the same, through raw HTTP against the served app --------------------------------------------------


def _fn_index(app: Any, name: str) -> int:
    """The ``fn_index`` of the app's callback ``name`` (private ones have no API name)."""
    return int(next(i for i, fn in app.demo.fns.items() if getattr(fn.fn, "__name__", "") == name))


def _join(url: str, fn_index: int, data: list[Any], session: str, headers: dict[str, str] | None = None) -> Any:
    body = {"data": data, "fn_index": fn_index, "session_hash": session}
    return httpx.post(url + "gradio_api/queue/join", json=body, headers=headers or {}, timeout=60)


def _drain(url: str, session: str, events: int) -> list[dict[str, Any]]:
    """The session's first ``events`` completion messages (read, so that no run outlives the test)."""
    done: list[dict[str, Any]] = []
    if not events:
        return done
    with httpx.stream("GET", url + "gradio_api/queue/data", params={"session_hash": session}, timeout=120) as stream:
        for line in stream.iter_lines():
            message = json.loads(line[5:]) if line.startswith("data:") else {}
            if message.get("msg") == "process_completed":
                done.append(message)
                if len(done) == events:
                    break
    return done


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Every run and every extraction waits for this event before it works (the server shares this process)."""
    from demo import service

    gate = threading.Event()
    for name in ("stream", "extract_grams"):
        real = getattr(service, name)

        def waiting(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            assert gate.wait(120), "the test never let the call go on"
            return _real(*args, **kwargs)

        monkeypatch.setattr(service, name, waiting)
    yield gate
    gate.set()


@pytest.mark.slow
def test_joining_the_run_behind_the_pages_check_adds_no_runs(
    app: Any, url: str, held: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 8: one page check, then many raw joins of the run it let through, in the same session."""
    from .conftest import EXAMPLES

    monkeypatch.setenv("STYLECORE_TRUST_FORWARDED", "1")  # an address of its own: no other test's runs count
    address = {"x-forwarded-for": f"192.0.2.{uuid.uuid4().int % 250 + 1}"}
    session = uuid.uuid4().hex
    values = {**app.defaults, "content": {"path": str(EXAMPLES / "chelsea.jpg")},
              "style": {"path": str(EXAMPLES / "strokes.png")}, "iterations": 1, "size": 64}  # fmt: skip
    data = [values.get(name) for name in app.names]
    checked = httpx.post(url + "gradio_api/run/predict", json={"data": data, "fn_index": _fn_index(app, "page_check"),
                         "session_hash": session}, headers=address, timeout=60)  # fmt: skip
    assert checked.status_code == 200 and checked.json()["data"][1] == "Starting…", checked.text
    joins = [_join(url, _fn_index(app, "page_stylize"), [None], session, address) for _ in range(6)]
    held.set()
    assert all(j.status_code == 200 for j in joins), [j.text for j in joins]  # refusals come on the stream
    ends = _drain(url, session, len(joins))
    refused = [end for end in ends if not end["success"]]
    assert len(ends) - len(refused) == app.hardware.per_client, ends
    assert all("runs queued or running in this browser session" in end["output"]["error"] for end in refused)


@pytest.mark.slow
def test_one_address_cannot_fill_the_queue_with_extractions(
    app: Any, url: str, held: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 7: a session gets ``per_client`` extractions at a time, an address twice that, others theirs."""
    from .conftest import EXAMPLES

    monkeypatch.setenv("STYLECORE_TRUST_FORWARDED", "1")  # so that the test can speak from several addresses
    image = [{"path": str(EXAMPLES / "chelsea.jpg")}]
    fn, share = _fn_index(app, "extract"), app.hardware.per_client
    sessions = [uuid.uuid4().hex for _ in range(4)]
    mallory, other = {"x-forwarded-for": "203.0.113.9"}, {"x-forwarded-for": "198.51.100.7"}
    groups = [[_join(url, fn, image, session, mallory) for _ in range(share + 1)] for session in sessions[:3]]
    groups.append([_join(url, fn, image, sessions[3], other)])
    held.set()
    assert all(j.status_code == 200 for group in groups for j in group)  # refusals come on the stream
    ends = [_drain(url, session, len(group)) for session, group in zip(sessions, groups, strict=True)]
    refusals = [[end["output"]["error"] for end in group if not end["success"]] for group in ends]
    # two sessions fill the address's share (twice a session's); a third session of it gets nothing
    assert [len(r) for r in refusals] == [1, 1, share + 1, 0], refusals
    assert "extractions queued or running in this browser session" in refusals[0][0]
    assert all("extractions queued or running from your address" in r for r in refusals[2])


@pytest.mark.slow
def test_uploads_over_an_addresses_quota_are_refused_over_http(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Finding 9: an address may upload so much per hour; the next upload is refused and never stored."""
    monkeypatch.setenv("STYLECORE_TRUST_FORWARDED", "1")
    monkeypatch.setenv("STYLECORE_UPLOAD_QUOTA_MB", "1")
    address = {"x-forwarded-for": f"192.0.2.{uuid.uuid4().int % 250 + 1}"}
    blob = os.urandom(400 * 1024)

    def upload(name: str, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(url + "gradio_api/upload", files={"files": (name, blob)}, headers=headers, timeout=60)

    kept = [upload(f"part{i}.bin", address) for i in range(2)]
    refused = upload("part2.bin", address)
    assert [r.status_code for r in kept] == [200, 200] and refused.status_code == 429, refused.text
    assert "this app's limit per visitor; try again later" in refused.json()["error"]
    assert upload("part3.bin", {"x-forwarded-for": "198.51.100.8"}).status_code == 200  # another address
    for path in (p for r in kept for p in r.json()):
        assert Path(path).exists()
        Path(path).unlink()
