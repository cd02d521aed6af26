"""Fair use: bounded request bodies and uploads, and a cap on the calls one client keeps queued or running.

Gradio's queue has one global size, so one client sending 17 runs fills a queue
of 16 for everyone. :class:`FairQueue` wraps the queue's ``push``, the door every
route goes through (the page, ``queue/join`` by hand, gradio_client, MCP), and
asks the event's :class:`ClientLimit` before the event is queued: a route around
the page's own check (``queue/join`` straight to the run's ``fn_index``) meets the
same count. A limit counts the client's events waiting in Gradio's queue, or
admitted in the last second and not yet queued (two requests admitted at the
same moment must not both see "nothing pending"): the larger of the two, so an
admission is never counted twice. To that it adds the client's calls running
now, which the app counts where they run (:meth:`ClientLimit.running`) from
their first step until they end, however they end; a call that starts while the
client already has its share running is refused there too. Gradio's list of
active jobs is not used: a finished or failed job stays in it a moment after the
client has its answer, which refused visitors with nothing running.

Who a client is: the browser session and the address. The address is the
socket's peer; ``X-Forwarded-For`` is believed only behind a proxy that sets it
(on a Hugging Face Space, or with ``STYLECORE_TRUST_FORWARDED=1``): anywhere
else a client could name a new address in every request.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from asyncio import Queue as AsyncQueue
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import gradio as gr
from gradio.context import LocalContext
from gradio.queueing import Event
from gradio.server_messages import ProcessCompletedMessage
from gradio.utils import error_payload

from .memory import bound_allocator, give_back_memory
from .uploads import discard_uploads, joined, public_detail, track_mcp_decodes, upload_quota

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]

#: How long an admission counts on its own: Gradio queues the event right after the
#: validator returns (no waiting in between), so a second covers it with room to spare.
ADMISSION_GRACE_S = 1.0


def trust_forwarded() -> bool:
    """True behind a proxy that sets ``X-Forwarded-For`` (a Space, or ``STYLECORE_TRUST_FORWARDED=1``)."""
    flag = os.environ.get("STYLECORE_TRUST_FORWARDED", "").strip().lower()
    return flag in ("1", "true", "yes") if flag else bool(os.environ.get("SPACE_ID"))


def client_keys(request: Any) -> tuple[str, ...]:
    """Who is asking: the browser session and the address (the proxy's ``X-Forwarded-For`` behind one)."""
    if request is None:
        return ()
    address = client_address(getattr(request, "headers", {}) or {}, getattr(request, "client", None))
    session = getattr(request, "session_hash", None) or ""
    return tuple(key for key in (f"ip:{address}" if address else "", f"session:{session}" if session else "") if key)


def client_address(headers: Any, client: Any) -> str:
    """The client's address: the socket's peer, or the first ``X-Forwarded-For`` entry behind a trusted proxy."""
    forwarded = (headers.get("x-forwarded-for") or "").split(",")[0].strip() if trust_forwarded() else ""
    return forwarded or (getattr(client, "host", None) or "")


class ClientLimit:
    """At most ``per_client`` calls queued or running per browser session, twice that per address.

    An address gets more room than a session: people behind one NAT share it.
    """

    def __init__(self, per_client: int, clock: Callable[[], float] = time.monotonic, what: str = "runs",
                 stop: bool = True) -> None:  # fmt: skip
        self.clock, self.what, self.stop = clock, what, stop
        self.limits = {"session": per_client, "ip": 2 * per_client}
        self._admitted: list[tuple[float, tuple[str, ...]]] = []
        self._running: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    @contextmanager
    def running(self, keys: tuple[str, ...]) -> Iterator[None]:
        """Count one call of ``keys`` while the block runs; its admission is used up when it starts.

        Raises :class:`gr.Error` when the client already has its share running: the count is kept
        where the call runs, so a call that reached it by any route is counted and capped.
        """
        with self._lock:
            busy = self._refusal(keys, self._running, {})
            if busy is not None:
                raise gr.Error(busy, print_exception=False)
            self._running.append(keys)
            used = next((i for i, (_, k) in enumerate(self._admitted) if k == keys), None)
            if used is not None:
                del self._admitted[used]
        try:
            yield
        finally:
            with self._lock:
                self._running.remove(keys)
            give_back_memory()

    def admit(self, keys: tuple[str, ...], pending: Iterable[tuple[str, ...]]) -> str | None:
        """Record an admission and return None, or return why the client must wait.

        ``pending`` holds the client keys of every event waiting in the queue now.
        """
        with self._lock:
            refusal = self._busy(keys, pending)
            if refusal is None and keys:
                self._admitted.append((self.clock(), keys))
            return refusal

    def check(self, keys: tuple[str, ...], pending: Iterable[tuple[str, ...]]) -> str | None:
        """Why the client must wait, or None; records nothing (the queue's door admits)."""
        with self._lock:
            return self._busy(keys, pending)

    def release(self, keys: tuple[str, ...]) -> None:
        """Forget the latest admission of ``keys``: its event never reached the queue."""
        with self._lock:
            for i in range(len(self._admitted) - 1, -1, -1):
                if self._admitted[i][1] == keys:
                    del self._admitted[i]
                    return

    def _busy(self, keys: tuple[str, ...], pending: Iterable[tuple[str, ...]]) -> str | None:
        if not keys:
            return None
        now = self.clock()
        self._admitted = [(t, k) for t, k in self._admitted if now - t < ADMISSION_GRACE_S]
        pending = list(pending)
        waiting = {key: max(_count(key, pending), _count(key, (k for _, k in self._admitted))) for key in keys}
        return self._refusal(keys, self._running, waiting)

    def _refusal(self, keys: tuple[str, ...], running: list[tuple[str, ...]], waiting: dict[str, int]) -> str | None:
        """The sentence for the first key at its limit."""
        for key in keys:
            kind = key.split(":", 1)[0]
            busy = waiting.get(key, 0) + _count(key, running)
            if busy >= self.limits[kind]:
                where = "in this browser session" if kind == "session" else "from your address"
                return (
                    f"You already have {busy} {self.what} queued or running {where}; "
                    f"wait for one to finish{' (or press Stop)' if self.stop else ''} before starting another."
                )
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


class FairQueue:
    """Each client's share of Gradio's queue, checked at its door; one :class:`ClientLimit` per concurrency id.

    A refused event is let in and answered at once on its stream with one sentence, as a
    run's own error is (it never waits in the queue): a 422 at the door never reaches a
    streamed ``client.submit(...)`` job, whose loop then waits forever (gradio_client 2.7);
    this way ``predict`` raises the sentence and a streamed job ends with it. Whatever stops
    an event at the door (this limit, a validator, a file that was not uploaded), the files
    it uploaded for it are removed (:func:`demo.uploads.discard_uploads`), and no answer
    names a server path.
    """

    def __init__(self, limits: dict[str, ClientLimit]) -> None:
        self.limits = limits

    def install(self, blocks: Any) -> None:
        """Wrap ``blocks``' queue (after ``blocks.queue()``): every ``queue/join`` passes :meth:`door` first.

        Also wraps ``blocks.process_api``, where every call runs (queued or not, MCP's fast path
        too): a call that raises loses the files it uploaded.
        """
        queue, push, process = blocks._queue, blocks._queue.push, blocks.process_api
        track_mcp_decodes()
        bound_allocator()

        async def gated(body: Any, request: Any, username: str | None) -> tuple[bool, Any, str]:
            limit, keys, refusal = self.door(blocks, body, request)
            if refusal is not None:
                discard_uploads(body.data, blocks.upload_file_set)
                return await answer_now(queue, body, request, username, refusal)
            try:
                success, detail, state = await push(body=body, request=request, username=username)
            except BaseException:
                if limit is not None:
                    limit.release(keys)
                raise
            if not success:
                if limit is not None:
                    limit.release(keys)
                discard_uploads(body.data, blocks.upload_file_set)
            joined(body.data)
            return success, public_detail(detail) if state == "error" else detail, state

        async def processed(*args: Any, **kwargs: Any) -> Any:
            try:
                return await process(*args, **kwargs)
            except BaseException:
                discard_uploads(kwargs.get("inputs"), blocks.upload_file_set)
                raise

        queue.push, blocks.process_api = gated, processed

    def door(self, blocks: Any, body: Any, request: Any) -> tuple[ClientLimit | None, tuple[str, ...], str | None]:
        """(the event's limit, its client, why it must wait or None); admits it when it may join."""
        fn = blocks.fns.get(body.fn_index) if body.fn_index is not None else None
        group = getattr(fn, "concurrency_id", None) or ""
        limit = self.limits.get(group)
        if limit is None:
            return None, (), None
        keys = client_keys(_JoinRequest(request, body.session_hash))
        return limit, keys, limit.admit(keys, pending_keys(blocks._queue, group))

    def counted(self, concurrency_id: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` (a plain callback), counted for its client while it runs (:meth:`ClientLimit.running`)."""
        limit = self.limits[concurrency_id]

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any) -> Any:
            with limit.running(client_keys(LocalContext.request.get(None))):
                return fn(*args, **kwargs)

        return call


async def answer_now(queue: Any, body: Any, request: Any, username: str | None, sentence: str) -> tuple[bool, str, str]:
    """Let the event in and complete it at once with ``sentence`` as its error (Gradio's cache path does the same).

    Its stream then says the sentence and closes; the event never waits in (nor counts for) the queue.
    """
    event = Event(body.session_hash, queue.blocks.fns[body.fn_index], request, username)
    body.session_hash = event.session_hash
    async with queue.pending_message_lock:
        if event.session_hash not in queue.pending_messages_per_session:
            queue.pending_messages_per_session[event.session_hash] = AsyncQueue()
        queue.pending_event_ids_session.setdefault(event.session_hash, set()).add(event._id)
    error = error_payload(gr.Error(sentence, print_exception=False), show_error=True)
    queue.send_message(event, ProcessCompletedMessage(output=error, title="Error", success=False))
    return True, event._id, "success"


class _JoinRequest:
    """A ``queue/join`` request seen through the same attributes as a ``gr.Request``."""

    def __init__(self, request: Any, session_hash: str | None) -> None:
        self.headers = getattr(request, "headers", {}) or {}
        self.client = getattr(request, "client", None)
        self.session_hash = session_hash


class UploadQuota:
    """ASGI middleware: at most ``max_bytes`` uploaded per address in ``window_s`` (Gradio keeps uploads that long).

    ``max_bytes`` None: :func:`demo.uploads.upload_quota`, read at each upload (an operator's setting).

    Bytes are counted on ``POST .../upload`` as they stream in; a declared body over what is
    left is refused (429) before any of it is read, and an undeclared one is cut off where
    it passes the quota. One sentence, no server path.
    """

    def __init__(self, app: ASGIApp, window_s: float, max_bytes: int | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.app, self.window_s, self.clock, self._max_bytes = app, window_s, clock, max_bytes
        self._spent: dict[str, list[tuple[float, int]]] = {}
        self._lock = threading.Lock()

    @property
    def max_bytes(self) -> int:
        return upload_quota() if self._max_bytes is None else self._max_bytes

    def used(self, address: str) -> int:
        """Bytes ``address`` uploaded in the last ``window_s``."""
        with self._lock:
            cutoff = self.clock() - self.window_s
            for key in [k for k, spent in self._spent.items() if not spent or spent[-1][0] < cutoff]:
                del self._spent[key]  # whole addresses age out, so the table stays small
            spent = self._spent.get(address, [])
            spent[:] = [(t, n) for t, n in spent if t >= cutoff]
            return sum(n for _, n in spent)

    def _spend(self, address: str, count: int) -> None:
        with self._lock:
            self._spent.setdefault(address, []).append((self.clock(), count))

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST" or not scope.get("path", "").endswith("/upload"):
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        address = client_address(headers, _Peer(scope.get("client")))
        quota = self.max_bytes
        left = quota - self.used(address)
        declared = headers.get("content-length", "")
        if left <= 0 or (declared.isdigit() and int(declared) > left):
            return await _refuse(send, 429, self.sentence(quota))

        async def counted() -> Message:
            nonlocal left
            message = await receive()
            size = len(message.get("body", b""))
            self._spend(address, size)
            left -= size
            return {"type": "http.disconnect"} if left < 0 else message

        return await self.app(scope, counted, send)

    def sentence(self, quota: int) -> str:
        return (
            f"This upload would pass {quota / 2**20:g} MB uploaded in {self.window_s / 60:g} minutes, "
            "this app's limit per visitor; try again later."
        )


class _Peer:
    def __init__(self, client: Any) -> None:
        self.host = client[0] if client else None


async def _refuse(send: Any, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


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
