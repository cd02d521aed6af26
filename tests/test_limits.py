"""Fair use: the per-client run limit (with an injected clock) and the request-body cap."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import pytest

from demo.limits import ADMISSION_GRACE_S, BodyLimit, ClientLimit, client_keys

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
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import ValidationError

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
        with pytest.raises(ValidationError, match="You already have 2 runs queued or running"):
            client.predict(**args)
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
