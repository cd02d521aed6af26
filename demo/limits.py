"""Fair use: bounded request bodies, and a cap on the runs one client keeps queued.

Gradio's queue has one global size, so one client sending 17 runs fills a queue
of 16 for everyone. :class:`ClientLimit` is checked in the run's validator,
which Gradio calls when a request asks to join the queue, before it is queued.
It counts the client's events waiting in Gradio's queue, or admitted in the
last second and not yet queued (two requests validated at the same moment must
not both see "nothing pending"): the larger of the two, so an admission is never
counted twice. To that it adds the client's runs running now, which the app
counts itself (:meth:`ClientLimit.running`) from the run's first step until it
ends, however it ends. Gradio's list of active jobs is not used: a finished or
failed job stays in it a moment after the client has its answer, which refused
visitors with nothing running.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

#: How long an admission counts on its own: Gradio queues the event right after the
#: validator returns (no waiting in between), so a second covers it with room to spare.
ADMISSION_GRACE_S = 1.0


def client_keys(request: Any) -> tuple[str, ...]:
    """Who is asking: the browser session and the address (the proxy's ``X-Forwarded-For`` on Spaces)."""
    if request is None:
        return ()
    headers = getattr(request, "headers", {}) or {}
    forwarded = (headers.get("x-forwarded-for") or "").split(",")[0].strip()
    client = getattr(request, "client", None)
    address = forwarded or (getattr(client, "host", None) or "")
    session = getattr(request, "session_hash", None) or ""
    return tuple(key for key in (f"ip:{address}" if address else "", f"session:{session}" if session else "") if key)


class ClientLimit:
    """At most ``per_client`` runs queued or running per browser session, twice that per address.

    An address gets more room than a session: people behind one NAT share it.
    """

    def __init__(self, per_client: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.limits = {"session": per_client, "ip": 2 * per_client}
        self._admitted: list[tuple[float, tuple[str, ...]]] = []
        self._running: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    @contextmanager
    def running(self, keys: tuple[str, ...]) -> Iterator[None]:
        """Count one run of ``keys`` while the block runs; its admission is used up when it starts."""
        with self._lock:
            self._running.append(keys)
            used = next((i for i, (_, k) in enumerate(self._admitted) if k == keys), None)
            if used is not None:
                del self._admitted[used]
        try:
            yield
        finally:
            with self._lock:
                self._running.remove(keys)

    def admit(self, keys: tuple[str, ...], pending: Iterable[tuple[str, ...]]) -> str | None:
        """Record an admission and return None, or return why the client must wait.

        ``pending`` holds the client keys of every event waiting in the queue now.
        """
        if not keys:
            return None
        with self._lock:
            now = self.clock()
            self._admitted = [(t, k) for t, k in self._admitted if now - t < ADMISSION_GRACE_S]
            pending = list(pending)
            for key in keys:
                kind = key.split(":", 1)[0]
                waiting = max(_count(key, pending), _count(key, (k for _, k in self._admitted)))
                busy = waiting + _count(key, self._running)
                if busy >= self.limits[kind]:
                    where = "in this browser session" if kind == "session" else "from your address"
                    return (
                        f"You already have {busy} runs queued or running {where}; "
                        "wait for one to finish (or press Stop) before starting another."
                    )
            self._admitted.append((now, keys))
            return None


def _count(key: str, others: Iterable[tuple[str, ...]]) -> int:
    return sum(1 for other in others if key in other)


def pending_keys(queue: Any, concurrency_id: str) -> list[tuple[str, ...]]:
    """Client keys of the events of ``concurrency_id`` waiting in Gradio's queue (not yet started)."""
    waiting = queue.event_queue_per_concurrency_id.get(concurrency_id)
    return [client_keys(_EventRequest(e)) for e in (waiting.queue if waiting else [])]


class _EventRequest:
    """An queued event seen through the same attributes as a ``gr.Request``."""

    def __init__(self, event: Any) -> None:
        request = getattr(event, "request", None)
        self.headers = getattr(request, "headers", {}) or {}
        self.client = getattr(request, "client", None)
        self.session_hash = getattr(event, "session_hash", None)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` (413), counted as they stream in.

    Uploads are limited by Gradio's ``max_file_size``; this bounds everything
    else (queue joins with inline data, MCP calls) in memory.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            return await self._too_large(send)
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:  # undeclared (chunked) bodies: the app sees the client leave
                return {"type": "http.disconnect"}
            return message

        return await self.app(scope, counted, send)

    async def _too_large(self, send: Any) -> None:
        body = f'{{"error": "Request body is over {self.max_bytes // 2**20} MB."}}'.encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
