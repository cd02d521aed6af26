"""Several processes on one image (``torchrun``): joining the process group, and failing together.

Under ``torchrun`` each rank runs the whole command and the tiled objective spreads its tiles over
the ranks (:mod:`stylecore.optim.tiling` all-reduces the sums). This module is the rest:

* :func:`join_torchrun` checks torchrun's environment (a partial one is refused in one sentence)
  and joins the group with a timeout. The join runs in a helper thread while the main thread
  waits in Python, so SIGINT/SIGTERM are handled during a rendezvous that never completes
  (a blocking C++ call would hold them back until it returned).
* :class:`Ranks` keeps a CPU copy of the image of the last completed step and turns a lost
  peer (gloo's "Connection reset by peer", a collective's timeout) into one sentence, after rank
  0 has saved that image. NCCL reports a hung peer only with blocking waits, which are turned on.
"""

from __future__ import annotations

import datetime
import os
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from ..errors import StylecoreError

#: Seconds to wait for every rank to join, and for a peer inside a collective.
TIMEOUT_ENV = "STYLECORE_DIST_TIMEOUT"
DEFAULT_TIMEOUT_S = 300.0
#: What torchrun sets for every rank; ``env://`` needs all of them.
TORCHRUN_ENV = ("RANK", "MASTER_ADDR", "MASTER_PORT")


class PeerLost(StylecoreError):
    """Another rank died or stopped answering; the run ends on every rank."""


def _world_from(env: Mapping[str, str]) -> tuple[int, int]:
    """(rank, world size) that ``env`` asks for; (0, 1) outside torchrun; one sentence when it is partial."""
    size = env.get("WORLD_SIZE", "").strip()
    if not size:
        return 0, 1
    if not size.isdigit() or int(size) < 1:
        raise StylecoreError(f"WORLD_SIZE={size!r} is not a number of processes; unset it or start under torchrun")
    world = int(size)
    if world == 1:
        return 0, 1
    missing = [name for name in TORCHRUN_ENV if not env.get(name, "").strip()]
    if missing:
        raise StylecoreError(
            f"WORLD_SIZE={world} is set but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not; "
            f"start stylecore with torchrun (torchrun --nproc_per_node {world} -m stylecore ...) or unset WORLD_SIZE"
        )
    rank = env["RANK"].strip()
    if not rank.isdigit() or int(rank) >= world:
        raise StylecoreError(f"RANK={rank!r} is not a rank from 0 to {world - 1}; start stylecore with torchrun")
    return int(rank), world


def timeout_s(env: Mapping[str, str]) -> float:
    """``STYLECORE_DIST_TIMEOUT`` in seconds (default 300)."""
    text = env.get(TIMEOUT_ENV, "").strip()
    try:
        seconds = float(text) if text else DEFAULT_TIMEOUT_S
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise StylecoreError(f"{TIMEOUT_ENV}={text!r} must be a number of seconds above 0")
    return seconds


@dataclass
class Ranks:
    """This process's place in the group, and the image of the last step every rank completed."""

    rank: int = 0
    world: int = 1
    step: int = 0  # the last completed step
    image: Any = field(default=None, repr=False)  # its pixels, on the CPU (kept only when world > 1)

    def keep(self, step: int, image: Any) -> None:
        """Called after every step: a copy on the CPU, which a failed collective on the GPU cannot take away."""
        if self.world > 1:
            self.step, self.image = step, image.detach().to("cpu", copy=True)

    @contextmanager
    def together(self, save: Callable[[Any], object]) -> Iterator[None]:
        """Run the optimisation; a lost peer ends it here with one sentence, rank 0 first calling ``save``."""
        if self.world <= 1:
            yield
            return
        try:
            yield
        except RuntimeError as exc:  # gloo raises a bare RuntimeError, newer backends DistError
            if not _lost_peer(exc):
                raise
            raise PeerLost(self._lost(save)) from None

    def _lost(self, save: Callable[[Any], object]) -> str:
        when = f"after step {self.step}" if self.step else "before the first step"
        lost = f"another of the {self.world} ranks stopped answering {when}"
        if self.rank != 0:
            return f"{lost}; this rank ends too, and rank 0 saves the image if it is still running"
        if self.image is None:
            return f"{lost}; there is no image to save yet"
        try:
            where = save(self.image)
        except StylecoreError as exc:  # the save's own fallback sentence (written elsewhere)
            return f"{lost}; {exc}"
        return f"{lost}; saved the image of step {self.step} to {where}"


def _lost_peer(exc: RuntimeError) -> bool:
    import torch.distributed as dist

    text = str(exc).lower()
    return isinstance(exc, dist.DistError) or any(w in text for w in ("gloo", "nccl", "connection", "timed out"))


def join_torchrun(env: Mapping[str, str] | None = None, note: Callable[[str], None] | None = None) -> Ranks:
    """Started by torchrun (WORLD_SIZE > 1): join its process group so that tiles spread over the ranks.

    Returns this process's :class:`Ranks` (rank 0 of 1 when alone). A group that does not form
    within ``STYLECORE_DIST_TIMEOUT`` seconds is one sentence; SIGTERM ends the wait at any time.
    ``note`` hears, on rank 0, where it waits and for how long.
    """
    import torch
    import torch.distributed as dist

    env = os.environ if env is None else env
    rank, world = _world_from(env)
    if world == 1:
        return Ranks()
    if dist.is_initialized():
        return Ranks(dist.get_rank(), dist.get_world_size())
    seconds = timeout_s(env)
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(env.get("LOCAL_RANK", "0") or 0))
        os.environ.setdefault("TORCH_NCCL_BLOCKING_WAIT", "1")  # a hung peer raises after the timeout
    where = f"{env['MASTER_ADDR']}:{env['MASTER_PORT']}"
    if note is not None and rank == 0:
        note(f"waiting for the {world} ranks at {where} (up to {seconds:g} s, {TIMEOUT_ENV})")
    failed = _in_thread(lambda: dist.init_process_group("nccl" if cuda else "gloo",
                                                        timeout=datetime.timedelta(seconds=seconds)))  # fmt: skip
    if failed is not None:
        if "timed out" not in str(failed).lower():
            raise StylecoreError(f"could not form the process group at {where} ({_reason(failed)})") from failed
        raise StylecoreError(
            f"the {world} processes of WORLD_SIZE={world} did not all join at {where} within {seconds:g} s; "
            f"start every rank (torchrun does) or unset WORLD_SIZE"
        ) from failed
    return Ranks(rank, world)


def _reason(exc: BaseException) -> str:
    """The first line of a backend's error, without its ``[source.cpp:12]`` prefix."""
    line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return re.sub(r"^(\[[^\]]*\]\s*)+", "", line).rstrip(".")


def _in_thread(call: Callable[[], object]) -> BaseException | None:
    """Run ``call`` in a daemon thread and wait for it in Python, so that signal handlers still run.

    Returns what it raised (None when it returned). A KeyboardInterrupt from a handler leaves the
    thread behind; it is a daemon, so the process still exits.
    """
    raised: list[BaseException] = []

    def body() -> None:
        try:
            call()
        except BaseException as exc:
            raised.append(exc)

    thread = threading.Thread(target=body, name="stylecore-rendezvous", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.1)
    return raised[0] if raised else None


def is_leader() -> bool:
    """Rank 0, or a process on its own: the one that writes files and says what it wrote."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
