"""Where the app runs (ZeroGPU, a dedicated GPU, a CPU) and what each allows.

Import this before torch touches CUDA: on ZeroGPU, ``import spaces`` must come
first (it patches torch, and raises if CUDA was initialised before it). The
``spaces`` package is on every Gradio Space and is a no-op off ZeroGPU; locally
it is usually absent, and :func:`gpu_task` is then the identity too.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from typing import Any, Literal, TypeVar

try:  # before torch: see the module docstring
    import spaces
except ImportError:  # not on a Space
    spaces = None

import torch

F = TypeVar("F", bound=Callable[..., Any])
Kind = Literal["zerogpu", "gpu", "cpu"]

#: An unauthenticated visitor's whole daily ZeroGPU quota (hub-docs spaces-zerogpu.md,
#: checked 2026-12-02: 2 / 5 / 40 / 60 minutes for unauthenticated / free / PRO and
#: Team / Enterprise). A request above the caller's remaining quota is refused
#: ("ZeroGPU illegal duration"), so the longest lease must fit in it.
QUOTA_UNAUTHENTICATED_S = 120
#: ``spaces`` multiplies a ``large`` task's duration by its GPU's ``duration_factor``
#: before scheduling (``spaces/zero/client.py`` ``get_duration_seconds``; 1.5 on the
#: RTX Pro 6000 Blackwell in spaces 0.51). Used when ``spaces`` cannot say which GPU.
FALLBACK_DURATION_FACTOR = 1.5


def duration_factor() -> float:
    """The factor ``spaces`` applies to this host's GPU; the largest it knows (or 1.5) when unsure.

    ``spaces.zero.config.get_config()`` falls back to its first entry (H200, 1.0) when it
    cannot read the GPU's model, which would under-count the lease on a Blackwell.
    """
    try:
        from spaces.zero import config as zero_config  # type: ignore[import-untyped]

        known = json.loads(files("spaces.zero").joinpath(zero_config.CONFIGS_FILENAME).read_text())
        model = zero_config._get_model(zero_config._read_gpu_information() or "")
        reported = zero_config.get_config()
    except Exception:  # no spaces package, no GPU driver here, or its layout changed
        return FALLBACK_DURATION_FACTOR
    if model is not None and reported.get("model") == model:
        return float(reported["duration_factor"])
    return max([float(c["duration_factor"]) for c in known] + [FALLBACK_DURATION_FACTOR])


def max_lease_s(factor: float) -> int:
    """The longest ``duration`` to ask for: times ``factor``, still within the anonymous quota."""
    return int(QUOTA_UNAUTHENTICATED_S // factor)


#: Read once at import; where `spaces` cannot name the GPU, the largest factor it knows.
DURATION_FACTOR = duration_factor()
#: The longest GPU lease a run asks ZeroGPU for (STYLECORE_MAX_LEASE may only lower it).
MAX_LEASE_S = min(int(os.environ.get("STYLECORE_MAX_LEASE", 10**6)), max_lease_s(DURATION_FACTOR))
MIN_LEASE_S = 20
#: Part of a lease kept back from the optimisation: moving inputs to the GPU,
#: computing targets, encoding the final PNG, and ZeroGPU's own hand-over.
LEASE_MARGIN_S = 10
LEASE_MARGIN_SHARE = 0.1
#: Unmeasured on a GPU so far: a generous guess for a 512 px step, scaled by area.
GPU_SECONDS_PER_STEP_512 = 0.03
#: The same guess per megapixel of result: the time a size costs is estimated from it.
GPU_SECONDS_PER_MEGAPIXEL = GPU_SECONDS_PER_STEP_512 / (512 * 512 / 1e6)
#: On a GPU, results above this side are computed in tiles of this side (StyleConfig.tile): memory
#: follows the tile, so the size cap follows the time a run may take instead of the card's memory.
GPU_TILE = 1024
#: A tiled step's cost per megapixel over an untiled one's: the cost model of docs/cli.md (*Print size*)
#: gives 1.55x to 1.78x for 1024 px tiles; rounded up.
TILED_COST = 1.8
#: A GPU host's size cap is the side at which this many steps still fit in a run's time.
STEPS_AT_MAX_SIDE = 100
#: Never above this side, however long a run may take (a 4096 px poster is the docs' largest).
LARGEST_GPU_SIDE = 4096
#: A CPU host's defaults: small and short, so a first-time visitor sees a picture in seconds and a
#: finished one in about a minute (docs/app.md, *Timings*: ``python -m demo.first_picture``). 100 steps at
#: 256 px took 230 s here, the first preview 41 s.
CPU_SIZE, CPU_STEPS = 160, 40
#: An untiled GPU result is at most this side (the cap before tiling; also the cap of a short lease).
UNTILED_GPU_SIDE = 1024


@dataclass(frozen=True)
class Hardware:
    """What one kind of host allows; the app sizes its sliders and queue from it."""

    kind: Kind
    max_side: int  # output long side cap
    max_work: int  # iterations x output pixels that one run may ask for
    concurrency: int  # runs at once
    queue_size: int  # runs waiting, all clients together
    per_client: int  # runs queued or running per client (session or IP)
    default_iterations: int
    default_size: int
    time_budget_s: float  # off ZeroGPU: the longest a run may take

    @property
    def on_gpu(self) -> bool:
        return self.kind != "cpu"


def zero_gpu() -> bool:
    """True on a ZeroGPU Space (the variable the ``spaces`` package itself reads)."""
    return os.environ.get("SPACES_ZERO_GPU", "").lower() in ("1", "t", "true")


def seconds_per_step(side: int) -> float:
    """The estimated GPU time of one step at ``side`` x ``side`` px, tiled above :data:`GPU_TILE`."""
    cost = GPU_SECONDS_PER_MEGAPIXEL * side * side / 1e6
    return cost * TILED_COST if side > GPU_TILE else cost


def gpu_max_side(seconds: float) -> int:
    """The largest side (a multiple of 32) at which :data:`STEPS_AT_MAX_SIDE` steps fit in ``seconds``.

    Square, the costliest shape for a long side; never under the untiled cap, never over 4096.
    """
    side = UNTILED_GPU_SIDE
    while side + 32 <= LARGEST_GPU_SIDE and STEPS_AT_MAX_SIDE * seconds_per_step(side + 32) <= seconds:
        side += 32
    return side


def tile_for(hardware: Hardware, size: int) -> int:
    """The tile a run of ``size`` px uses on this host: GPU results above :data:`GPU_TILE` only (0: none)."""
    return GPU_TILE if hardware.on_gpu and size > GPU_TILE else 0


def detect() -> Hardware:
    """The host's profile; ``STYLECORE_MAX_SIDE`` and ``STYLECORE_TIME_BUDGET`` override.

    GPU hosts tile large results, so their size cap is where the run's time runs out (see
    :func:`gpu_max_side`); CPU hosts keep a small cap.
    """
    if zero_gpu():
        # Every call gets its own GPU slice, so several runs can go at once.
        side = gpu_max_side(budget_within(MAX_LEASE_S))
        base = Hardware("zerogpu", side, 2000 * 1024**2, 4, 32, 2, 300, 512, MAX_LEASE_S)
    elif torch.cuda.is_available():
        base = Hardware("gpu", gpu_max_side(300.0), 2000 * 1024**2, 1, 16, 2, 500, 512, 300.0)
    else:
        base = Hardware("cpu", 512, 200 * 256**2, 1, 8, 2, CPU_STEPS, CPU_SIZE, 300.0)
    side = int(os.environ.get("STYLECORE_MAX_SIDE", base.max_side))
    budget = float(os.environ.get("STYLECORE_TIME_BUDGET", base.time_budget_s))
    return Hardware(
        base.kind, side, base.max_work, base.concurrency, base.queue_size, base.per_client,
        base.default_iterations, min(base.default_size, side), min(budget, base.time_budget_s),
    )  # fmt: skip


def lease_seconds(size: int, iterations: int, most: int | None = None) -> int:
    """The ZeroGPU lease for a run: start-up plus a per-step guess, within [MIN_LEASE_S, ``most``].

    ``most`` defaults to MAX_LEASE_S, which times the GPU's duration factor fits the anonymous quota.
    """
    most = MAX_LEASE_S if most is None else most
    estimate = LEASE_MARGIN_S + iterations * seconds_per_step(size)
    return int(min(most, max(MIN_LEASE_S, math.ceil(estimate))))


def budget_within(lease_s: float) -> float:
    """The optimisation's time budget inside a lease: it stops, with its image, before the lease ends."""
    return max(1.0, lease_s - LEASE_MARGIN_S - LEASE_MARGIN_SHARE * lease_s)


def run_budget(hardware: Hardware, size: int, iterations: int) -> float:
    """Seconds a run may optimise on this host: derived from its lease on ZeroGPU."""
    if hardware.kind == "zerogpu":
        return budget_within(lease_seconds(size, iterations))
    return hardware.time_budget_s


def gpu_task(duration: Callable[..., int]) -> Callable[[F], F]:
    """``spaces.GPU(duration=...)`` on ZeroGPU, else the identity (dedicated GPU, CPU, local)."""
    if spaces is None or not zero_gpu():
        return lambda fn: fn
    return spaces.GPU(duration=duration)  # type: ignore[no-any-return]


def readme_url(section: str) -> str | None:
    """A link to a README section on this Space's page; None off Spaces (the page then names the section).

    Spaces set ``SPACE_ID`` to ``owner/name`` (the "helper environment variables" of the Spaces docs).
    """
    space = os.environ.get("SPACE_ID")
    return f"https://huggingface.co/spaces/{space}/blob/main/README.md#{section}" if space else None
