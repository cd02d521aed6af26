"""The precision policy: bf16 only where it is a candidate and measured faster; the verdict cached per machine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from stylecore.errors import ConfigError
from stylecore.optim import precision
from stylecore.optim.precision import (
    PRECISION_ENV,
    Capability,
    Timing,
    VerdictCache,
    cache_path,
    choose_precision,
    detect_capability,
    machine_key,
    measure,
    parse_cpuinfo,
)

CPU, CUDA = torch.device("cpu"), torch.device("cuda")
EMULATED = Capability(onednn_bf16=True, machine="Xeon model 207")  # AVX-512 without bf16: oneDNN emulates
NATIVE = Capability(cpu_bf16="AVX512-BF16", onednn_bf16=True, machine="EPYC 9004")


class Calls:
    """A calibrator with fixed timings that counts how often it was asked."""

    def __init__(self, fp32: float, bf16: float) -> None:
        self.timing, self.count = Timing(fp32, bf16), 0

    def __call__(self, device: torch.device) -> Timing:
        self.count += 1
        return self.timing


def choose(capability: Capability, calibrator: Calls, cache: VerdictCache, device: torch.device = CPU, **env: str):
    return choose_precision(device, "auto", capability, calibrator=calibrator, cache=cache, environ=env)


@pytest.fixture
def cache(tmp_path: Path) -> VerdictCache:
    return VerdictCache(tmp_path / "stylecore" / "precision.json")


def test_emulated_bf16_loses_and_the_label_says_why(cache) -> None:
    choice = choose(EMULATED, Calls(fp32=1.0, bf16=2.08), cache)
    assert not choice.bf16
    assert choice.label == "fp32 (no native bf16 units, bf16 measured 0.48x as fast here)"
    assert "AVX512" not in choice.label


def test_native_bf16_that_measures_faster_is_kept(cache) -> None:
    choice = choose(NATIVE, Calls(fp32=1.0, bf16=0.625), cache)
    assert choice.bf16 and choice.label == "bf16 (AVX512-BF16 units, measured 1.60x faster here)"
    assert choice.timing == Timing(1.0, 0.625)


@pytest.mark.parametrize(("bf16", "kept", "pace"), [(0.85, False, "only 1.18x faster"), (0.83, True, "1.20x faster")])
def test_bf16_must_gain_a_fifth(cache, bf16: float, kept: bool, pace: str) -> None:
    choice = choose(Capability(cpu_bf16="AMX", machine=str(bf16)), Calls(fp32=1.0, bf16=bf16), cache)
    assert choice.bf16 is kept and pace in choice.reason


@pytest.mark.parametrize(
    ("device", "capability", "reason"),
    [
        (CPU, Capability(), "CPU has no bf16 units"),
        (CPU, Capability(cuda_bf16=True), "CPU has no bf16 units"),  # a GPU's bf16 says nothing of the CPU
        (CUDA, Capability(cuda_bf16=False, cpu_bf16="AMX"), "GPU has no bf16 units"),
    ],
)
def test_no_candidate_is_fp32_without_measuring(cache, device, capability: Capability, reason: str) -> None:
    calls = Calls(1.0, 0.1)
    choice = choose(capability, calls, cache, device)
    assert (choice.bf16, choice.reason, calls.count) == (False, reason, 0)


def test_a_gpu_with_bf16_is_measured_too(cache) -> None:
    choice = choose(Capability(cuda_bf16=True, machine="H100 sm90"), Calls(fp32=1.0, bf16=0.4), cache, CUDA)
    assert choice.label == "bf16 (measured 2.50x faster here)"


def test_the_verdict_is_measured_once_and_cached(cache) -> None:
    calls = Calls(fp32=1.0, bf16=0.5)
    first, second = choose(NATIVE, calls, cache), choose(NATIVE, calls, VerdictCache(cache.path))
    assert calls.count == 1 and first == second
    stored = json.loads(cache.path.read_text())
    assert stored["entries"][machine_key(CPU, NATIVE)] == {"fp32": 1.0, "bf16": 0.5}


def test_another_machine_torch_or_thread_count_measures_again(cache) -> None:
    calls = Calls(fp32=1.0, bf16=0.5)
    choose(NATIVE, calls, cache)
    choose(Capability(cpu_bf16="AMX", machine="Xeon 6"), calls, cache)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if threads > 1 else 2)
        choose(NATIVE, calls, cache)
    finally:
        torch.set_num_threads(threads)
    assert calls.count == 3 and len(json.loads(cache.path.read_text())["entries"]) == 3


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"version": 0, "entries": {}}),  # an older format: stale
        json.dumps(["a list"]),
        json.dumps({"version": precision.CACHE_VERSION, "entries": "none"}),
    ],
    ids=["damaged", "stale", "not-a-dict", "no-entries"],
)
def test_a_damaged_or_stale_cache_is_ignored_and_rewritten(cache, text: str) -> None:
    cache.path.parent.mkdir(parents=True)
    cache.path.write_text(text)
    calls = Calls(fp32=1.0, bf16=0.5)
    assert choose(NATIVE, calls, cache).bf16 and calls.count == 1
    stored = json.loads(cache.path.read_text())
    assert stored["version"] == precision.CACHE_VERSION and list(stored["entries"]) == [machine_key(CPU, NATIVE)]
    assert [p.name for p in cache.path.parent.iterdir()] == ["precision.json"]  # no temporary file left


def test_a_bad_entry_is_measured_again(cache) -> None:
    cache.put(machine_key(CPU, NATIVE), Timing(1.0, 0.5))
    data = json.loads(cache.path.read_text())
    data["entries"][machine_key(CPU, NATIVE)]["bf16"] = -1
    cache.path.write_text(json.dumps(data))
    calls = Calls(fp32=1.0, bf16=2.0)
    assert not choose(NATIVE, calls, cache).bf16 and calls.count == 1


def test_an_unwritable_cache_folder_still_measures_once_per_process(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    unwritable = VerdictCache(blocker / "stylecore" / "precision.json")  # a folder below a file: OSError
    calls = Calls(fp32=1.0, bf16=0.5)
    assert choose(NATIVE, calls, unwritable).bf16 and choose(NATIVE, calls, unwritable).bf16
    assert calls.count == 1


def test_a_calibration_that_cannot_run_bf16_keeps_fp32(cache) -> None:
    def broken(_device: torch.device) -> Timing:
        raise RuntimeError("no bf16 kernel for conv2d\nmore")

    choice = choose_precision(CPU, "auto", NATIVE, calibrator=broken, cache=cache, environ={})
    assert choice.label == "fp32 (bf16 does not run here: no bf16 kernel for conv2d)"


@pytest.mark.parametrize("requested", ["fp32", "bf16"])
def test_an_explicit_precision_wins_over_the_hardware_and_the_environment(cache, requested: str) -> None:
    calls = Calls(1.0, 0.5)
    other = "bf16" if requested == "fp32" else "fp32"
    for capability in (Capability(), NATIVE):
        choice = choose_precision(
            CPU, requested, capability, calibrator=calls, cache=cache, environ={PRECISION_ENV: other}
        )
        assert choice.label == f"{requested} (requested)"
    assert calls.count == 0


@pytest.mark.parametrize("value", ["fp32", "BF16", " bf16 "])
def test_the_environment_forces_a_choice_under_auto(cache, value: str) -> None:
    calls = Calls(1.0, 0.5)
    choice = choose(EMULATED, calls, cache, **{PRECISION_ENV: value})
    assert choice.label == f"{value.strip().lower()} (set by {PRECISION_ENV})" and calls.count == 0


def test_auto_in_the_environment_measures(cache) -> None:
    assert choose(NATIVE, Calls(1.0, 0.5), cache, **{PRECISION_ENV: "auto"}).bf16


def test_a_bad_environment_value_is_one_clear_error(cache) -> None:
    with pytest.raises(ConfigError, match=f"{PRECISION_ENV} must be auto, fp32 or bf16, got 'fp16'"):
        choose(NATIVE, Calls(1.0, 0.5), cache, **{PRECISION_ENV: "fp16"})


def test_the_cache_lives_in_the_users_cache_folder(monkeypatch) -> None:
    assert cache_path({"XDG_CACHE_HOME": "/x/cache"}) == Path("/x/cache/stylecore/precision.json")
    assert cache_path({"XDG_CACHE_HOME": "/x/cache", "STYLECORE_CACHE": "/y"}) == Path("/y/precision.json")
    monkeypatch.setenv("HOME", "/home/someone")
    assert cache_path({}) == Path("/home/someone/.cache/stylecore/precision.json")


def test_measure_times_both_precisions_interleaved_within_its_budget() -> None:
    ticks = iter(range(1000))
    timing = measure(CPU, budget=0.5, clock=lambda: float(next(ticks)), side=32)
    # The fake clock advances one tick per reading: each pass reads it twice, so each lasts 1 "second";
    # the budget (0.5) is spent by the warm-up, and one timed round still runs.
    assert timing == Timing(1.0, 1.0)
    assert next(ticks) == 1 + 4 + 4 + 1  # the deadline, the warm-up pair, one timed pair, one budget check


def test_measure_stops_after_its_rounds_when_the_budget_lasts() -> None:
    ticks = iter(range(1000))
    measure(CPU, budget=1e6, clock=lambda: float(next(ticks)), side=32)
    rounds = precision.CALIBRATION_ROUNDS
    assert next(ticks) == 1 + 4 + 4 * rounds + (rounds - 1)  # a budget check before every round but the first


def test_the_real_measurement_is_finite_and_positive() -> None:
    timing = measure(CPU, budget=0.0, side=32)
    assert 0 < timing.fp32 < 60 and 0 < timing.bf16 < 60


def test_detect_capability_reads_the_cpu_flags_it_is_given() -> None:
    cap = detect_capability(CPU, cpuinfo=SAPPHIRE_RAPIDS)
    assert cap.cpu_bf16 == "AMX" and "Xeon(R) Platinum 8480+" in cap.machine
    assert detect_capability(CPU, cpuinfo=ZEN3).cpu_bf16 is None
    assert detect_capability(CPU, cpuinfo=ZEN3).machine != detect_capability(CPU, cpuinfo=ICE_LAKE).machine


# Shortened /proc/cpuinfo texts of real CPU kinds.
SAPPHIRE_RAPIDS = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
"""
GENOA = """model name\t: AMD EPYC 9R14 96-Core Processor
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512_vnni avx512_bf16
"""
ICE_LAKE = """model name\t: Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz
flags\t\t: fpu sse2 avx2 avx512f avx512bw avx512vl avx512dq avx512_vnni
"""
ZEN3 = """processor\t: 0
model name\t: AMD EPYC 7R13 Processor
flags\t\t: fpu sse2 avx2 fma
processor\t: 1
model name\t: AMD EPYC 7R13 Processor
flags\t\t: fpu sse2 avx2 fma avx512_bf16
"""
GRAVITON3 = """processor\t: 0
BogoMIPS\t: 2100.00
Features\t: fp asimd sve bf16 i8mm
CPU implementer\t: 0x41
"""


@pytest.mark.parametrize(
    ("text", "model", "units"),
    [
        (SAPPHIRE_RAPIDS, "Intel(R) Xeon(R) Platinum 8480+", "AMX"),
        (GENOA, "AMD EPYC 9R14 96-Core Processor", "AVX512-BF16"),
        (ICE_LAKE, "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", None),  # AVX-512 but no bf16 units
        (ZEN3, "AMD EPYC 7R13 Processor", None),  # the first processor's flags only
        (GRAVITON3, "", "Arm BF16"),
        ("", "", None),  # no /proc/cpuinfo (macOS, Windows)
    ],
    ids=["sapphire-rapids", "genoa", "ice-lake", "zen3", "graviton3", "none"],
)
def test_cpuinfo_names_the_native_bf16_units(text: str, model: str, units: str | None) -> None:
    info = parse_cpuinfo(text)
    assert info.model == model and precision.native_bf16(info.flags) == units
