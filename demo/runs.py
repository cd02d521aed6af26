"""Each client's runs: their count while running, Stop, and the last step each client was sent.

No Gradio here: the callbacks pass in the client's keys (:func:`demo.limits.client_keys`).
This lives in the app's own process (outside the ZeroGPU worker), so the count and the
last step seen are where the queue's door and Stop read them.
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from . import words

Keys = tuple[str, ...]


class Limit(Protocol):
    """What a run needs of the client's limit (:class:`demo.limits.ClientLimit`, which imports Gradio)."""

    def check(self, keys: Keys, pending: Iterable[Keys]) -> str | None: ...

    def running(self, keys: Keys) -> AbstractContextManager[None]: ...


class ClientRuns:
    """The runs of every client: how many each has (``limit``), who pressed Stop, and where each got to."""

    def __init__(self, limit: Limit) -> None:
        #: The client's share, shared with the queue's door (:class:`demo.limits.FairQueue`), which counts.
        self.limit = limit
        #: The step of the last image each client was sent (its download), for Stop's status line.
        self.last_step: dict[Keys, tuple[int, int]] = {}
        #: The step each client's status line last showed, for Stop before any image.
        self.shown_step: dict[Keys, tuple[int, int]] = {}
        #: Clients who pressed Stop: their run sends nothing more (a late update would overwrite "Stopped").
        self.stopped: set[Keys] = set()
        self._lock = threading.Lock()

    def check(self, keys: Keys, pending: Iterable[Keys]) -> str | None:
        """None when ``keys`` may queue one more run, else why not (see :class:`ClientLimit`).

        It only looks: the queue's door (:class:`demo.limits.FairQueue`) records the admission,
        and :meth:`tracked` counts the run where it runs, so nothing is counted twice.
        """
        return self.limit.check(keys, pending)

    def start(self, keys: Keys) -> None:
        """A new run of ``keys``: forget the last one's Stop and steps."""
        with self._lock:
            self.stopped.discard(keys)
            self.last_step.pop(keys, None)
            self.shown_step.pop(keys, None)

    def stop(self, keys: Keys) -> str:
        """Stop: the run sends nothing more and ends at its next step; returns the status line."""
        with self._lock:
            self.stopped.add(keys)
            image, shown = self.last_step.get(keys), self.shown_step.get(keys)
        return words.stopped(image, shown)

    def is_stopped(self, keys: Keys) -> bool:
        with self._lock:
            return keys in self.stopped

    def tracked(self, keys: Keys, updates: Iterator[tuple[Any, ...]]) -> Generator[tuple[Any, ...], None, None]:
        """``updates`` (each ending with its (step, steps)) counted as running for ``keys``, however it ends.

        The (step, steps) is stripped; an update whose download (its fourth item) is a file path
        records that step as the one Stop leaves.
        """
        with self.limit.running(keys):
            for *update, step in updates:
                with self._lock:
                    if keys in self.stopped:
                        return
                    self.shown_step[keys] = step
                    if isinstance(update[3], str):  # an image went out as the download
                        self.last_step[keys] = step
                yield tuple(update)
