"""The precision policy: which arithmetic the VGG pass runs in, decided by measuring on this machine.

Only the extractor's convolutions are autocast; losses, Grams, pixels and the optimiser state stay fp32
(:class:`stylecore.optim.engine.PixelOptimizer`). A capability flag says what a library *can* run, not
what is fast: oneDNN reports bf16 on any AVX-512 CPU and then emulates it, about 2x slower than fp32.
So ``auto``

1. keeps fp32 where bf16 is no candidate: a CPU whose flags name no bf16 units and where oneDNN claims
   none, a GPU without bf16;
2. elsewhere times a short fp32 and bf16 forward+backward of the VGG trunk, interleaved, and keeps bf16
   only when it is at least :data:`KEEP_BF16` times faster;
3. caches that verdict per machine (CPU model and flags or GPU name, torch version, thread count) as
   JSON under the user's cache folder, so the measurement (about a second) is paid once.

``StyleConfig.precision`` (``--precision``) and ``$STYLECORE_PRECISION`` force a choice. Tests inject
the capability, the timings and the cache, so every branch runs on any machine.
"""

from __future__ import annotations

import hashlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch

from ..errors import ConfigError

PRECISION_ENV = "STYLECORE_PRECISION"
CACHE_ENV = "STYLECORE_CACHE"  # a folder for stylecore's cached verdicts instead of the user's cache folder
KEEP_BF16 = 1.2  # bf16 must be at least this much faster than fp32 to be kept
CACHE_VERSION = 1  # bump when the measurement changes: older files are then stale, ignored and rewritten
CPUINFO = Path("/proc/cpuinfo")
#: CPU flags (Linux /proc/cpuinfo) that name native bf16 units, best first, and their plain names.
NATIVE_BF16_FLAGS = {"amx_bf16": "AMX", "avx512_bf16": "AVX512-BF16", "bf16": "Arm BF16"}


@dataclass(frozen=True)
class Capability:
    """What the hardware offers for bf16; tests build one to cover every branch."""

    cuda_bf16: bool = False  # the GPU has bf16 units (compute capability 8.0 or later)
    cpu_bf16: str | None = None  # native bf16 units the CPU's flags name ("AMX", "AVX512-BF16"), else None
    onednn_bf16: bool = False  # oneDNN would run bf16 convolutions here (emulated when cpu_bf16 is None)
    machine: str = ""  # what the cached verdict is keyed by: CPU model and flags, or GPU name

    def candidate(self, device: torch.device) -> bool:
        """Whether bf16 is worth measuring on ``device``."""
        if device.type == "cuda":
            return self.cuda_bf16
        return device.type == "cpu" and (self.cpu_bf16 is not None or self.onednn_bf16)


@dataclass(frozen=True)
class Timing:
    """Median seconds of one forward+backward of the VGG trunk in each precision."""

    fp32: float
    bf16: float

    @property
    def speedup(self) -> float:
        """How many times faster bf16 ran than fp32 (below 1: slower)."""
        return self.fp32 / self.bf16


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run uses and the reason, as one line for people and metadata."""

    bf16: bool
    reason: str
    timing: Timing | None = None  # the measurement the choice rests on, if any

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    @property
    def label(self) -> str:
        """e.g. ``fp32 (no native bf16 units; bf16 measured 0.48x as fast here)``: what the CLI, PNG and page say."""
        return f"{self.name} ({self.reason})"


class Calibrator(Protocol):
    """Times fp32 against bf16 on a device; :func:`measure` is the real one, tests pass their own."""

    def __call__(self, device: torch.device) -> Timing: ...


# ---------------------------------------------------------------------------------------------- detection


@dataclass(frozen=True)
class CpuInfo:
    model: str
    flags: frozenset[str]


def parse_cpuinfo(text: str) -> CpuInfo:
    """The first processor's model name and flags (x86 ``flags``, Arm ``Features``) of /proc/cpuinfo text."""
    model, flags = "", frozenset[str]()
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "Hardware") and not model:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = frozenset(value.split())
    return CpuInfo(model, flags)


def native_bf16(flags: frozenset[str]) -> str | None:
    """The bf16 units ``flags`` name, in plain words, or None."""
    return next((name for flag, name in NATIVE_BF16_FLAGS.items() if flag in flags), None)


def read_cpuinfo(path: Path | None = None) -> str:
    """/proc/cpuinfo's text (``path``, default :data:`CPUINFO`); empty where there is none (macOS, Windows)."""
    try:
        return (path or CPUINFO).read_text(errors="replace")
    except OSError:
        return ""


def detect_capability(device: torch.device, cpuinfo: str | None = None) -> Capability:
    """The bf16 units of ``device``: the CPU's from its flags (``cpuinfo``, default /proc/cpuinfo) and oneDNN."""
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        return Capability(cuda_bf16=major >= 8, machine=f"{torch.cuda.get_device_name(device)} sm{major}{minor}")
    if device.type != "cpu":
        return Capability()
    info = parse_cpuinfo(read_cpuinfo() if cpuinfo is None else cpuinfo)
    onednn = bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())  # type: ignore[no-untyped-call]
    digest = hashlib.sha1(" ".join(sorted(info.flags)).encode()).hexdigest()[:12]
    return Capability(cpu_bf16=native_bf16(info.flags), onednn_bf16=onednn, machine=f"{info.model} flags:{digest}")


def machine_key(device: torch.device, capability: Capability) -> str:
    """What a cached verdict holds for: the hardware, torch's version and the thread count."""
    return f"{device.type}|{capability.machine}|torch {torch.__version__}|{torch.get_num_threads()} threads"


# -------------------------------------------------------------------------------------------- calibration

CALIBRATION_SIDE = {"cpu": 96, "cuda": 256}  # px; large enough that the convolutions dominate
CALIBRATION_ROUNDS, CALIBRATION_BUDGET = 5, 1.5  # interleaved rounds, at most; seconds, warm-up included


def measure(
    device: torch.device,
    *,
    budget: float = CALIBRATION_BUDGET,
    clock: Callable[[], float] = time.perf_counter,
    side: int | None = None,
) -> Timing:
    """Median seconds of an fp32 and a bf16 forward+backward of the VGG trunk on ``device``, interleaved.

    Random weights: speed does not depend on their values. Stops after :data:`CALIBRATION_ROUNDS` rounds,
    or earlier once ``budget`` seconds (warm-up included) are spent, after at least one timed round.
    """
    from ..model.extractor import vgg19_extractor  # the model layer loads only when a measurement is due

    extractor = vgg19_extractor(weights="random:0", device=device)
    side = side or CALIBRATION_SIDE.get(device.type, 96)
    image = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0)).to(device)

    def once(bf16: bool) -> float:
        pixels = image.clone().requires_grad_(True)
        _sync(device)
        start = clock()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            features = extractor(pixels)
        torch.stack([f.float().square().mean() for f in features.values()]).sum().backward()  # type: ignore[no-untyped-call]
        _sync(device)
        return clock() - start

    deadline = clock() + budget
    once(False), once(True)  # warm-up: oneDNN primitives, cuDNN plans, first-touch allocations
    seconds: dict[bool, list[float]] = {False: [], True: []}  # bf16? -> times
    while len(seconds[False]) < CALIBRATION_ROUNDS and (not seconds[False] or clock() < deadline):
        for bf16 in (False, True) if len(seconds[False]) % 2 == 0 else (True, False):  # neither always goes first
            seconds[bf16].append(once(bf16))
    return Timing(statistics.median(seconds[False]), statistics.median(seconds[True]))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -------------------------------------------------------------------------------------------------- cache


def cache_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$STYLECORE_CACHE/precision.json``, else ``$XDG_CACHE_HOME/stylecore/…``, else ``~/.cache/stylecore/…``."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_ENV):
        return Path(env[CACHE_ENV]) / "precision.json"
    base = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
    return base / "stylecore" / "precision.json"


class VerdictCache:
    """Measured timings by :func:`machine_key`, in one JSON file; a damaged or stale file reads as empty."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def get(self, key: str) -> Timing | None:
        entry = self._entries().get(key)
        if not isinstance(entry, dict):
            return None
        fp32, bf16 = entry.get("fp32"), entry.get("bf16")
        if not all(isinstance(v, int | float) and 0 < v < float("inf") for v in (fp32, bf16)):
            return None  # a hand-edited or truncated entry: measure again
        return Timing(float(fp32), float(bf16))  # type: ignore[arg-type]

    def put(self, key: str, timing: Timing) -> None:
        """Add ``timing`` atomically (write a temporary file, then rename); an unwritable folder is no error."""
        entries = {**self._entries(), key: {"fp32": timing.fp32, "bf16": timing.bf16}}
        text = json.dumps({"version": CACHE_VERSION, "entries": entries}, indent=1, sort_keys=True)
        temporary: Path | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=".precision-", suffix=".json", dir=self.path.parent)
            temporary = Path(name)
            with os.fdopen(handle, "w") as file:
                file.write(text)
            os.replace(temporary, self.path)  # readers see the old file or the new one, never half of one
        except OSError:  # a read-only home: the verdict still holds for this process (_MEASURED)
            if temporary is not None:
                temporary.unlink(missing_ok=True)

    def _entries(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        if not isinstance(data, dict) or data.get("version") != CACHE_VERSION:
            return {}
        entries = data.get("entries")
        return entries if isinstance(entries, dict) else {}


#: Verdicts measured in this process, for when the cache folder cannot be written.
_MEASURED: dict[str, Timing] = {}


# ------------------------------------------------------------------------------------------------- policy


def choose_precision(
    device: torch.device,
    requested: str,
    capability: Capability | None = None,
    *,
    calibrator: Calibrator | None = None,
    cache: VerdictCache | None = None,
    environ: Mapping[str, str] | None = None,
) -> PrecisionChoice:
    """``fp32``/``bf16`` as requested (or as ``$STYLECORE_PRECISION`` says when ``requested`` is ``auto``);
    ``auto``: bf16 only where it is a candidate and measured at least :data:`KEEP_BF16` times faster.

    ``capability`` defaults to :func:`detect_capability`, ``calibrator`` to :func:`measure`, ``cache`` to
    the file at :func:`cache_path`; tests pass their own.
    """
    env = os.environ if environ is None else environ
    forced = _forced(requested, env)
    if forced is not None:
        return forced
    cap = detect_capability(device) if capability is None else capability
    if not cap.candidate(device):
        return PrecisionChoice(False, f"{'GPU' if device.type == 'cuda' else device.type.upper()} has no bf16 units")
    try:
        timing = _timing(device, cap, calibrator or measure, cache or VerdictCache(cache_path(env)))
    except RuntimeError as exc:  # bf16 kernels missing for this device or build
        return PrecisionChoice(False, f"bf16 does not run here: {str(exc).strip().splitlines()[0][:80]}")
    return _verdict(device, cap, timing)


def _forced(requested: str, env: Mapping[str, str]) -> PrecisionChoice | None:
    if requested in ("fp32", "bf16"):
        return PrecisionChoice(requested == "bf16", "requested")
    value = env.get(PRECISION_ENV, "").strip().lower()
    if value in ("", "auto"):
        return None
    if value not in ("fp32", "bf16"):
        raise ConfigError(f"{PRECISION_ENV} must be auto, fp32 or bf16, got {value!r}")
    return PrecisionChoice(value == "bf16", f"set by {PRECISION_ENV}")


def _timing(device: torch.device, cap: Capability, calibrator: Calibrator, cache: VerdictCache) -> Timing:
    """The cached measurement for this machine, else a new one (cached)."""
    key = machine_key(device, cap)
    timing = cache.get(key) or _MEASURED.get(f"{cache.path}|{key}")
    if timing is None:
        timing = calibrator(device)
        _MEASURED[f"{cache.path}|{key}"] = timing
        cache.put(key, timing)
    return timing


def _verdict(device: torch.device, cap: Capability, timing: Timing) -> PrecisionChoice:
    """bf16 when it measured at least KEEP_BF16x faster; the reason in plain words either way."""
    speedup = timing.speedup
    units = f"{cap.cpu_bf16} units" if device.type == "cpu" and cap.cpu_bf16 else ""
    if speedup >= KEEP_BF16:
        return PrecisionChoice(True, f"{units + ', ' if units else ''}measured {speedup:.2f}x faster here", timing)
    if device.type == "cpu" and cap.cpu_bf16 is None:
        units = "no native bf16 units"  # oneDNN's claim alone: emulated
    pace = f"{speedup:.2f}x as fast" if speedup < 1 else f"only {speedup:.2f}x faster"
    return PrecisionChoice(False, f"{units + ', ' if units else ''}bf16 measured {pace} here", timing)
