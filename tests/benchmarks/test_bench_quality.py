"""Group quality: wall time to reach the objective the seed-style loop reaches in 1000 steps.

Same objective (the `seed` preset's), same seeded weights, same images, 64 px.
"""

from __future__ import annotations

import time

import pytest

from stylecore import load_image
from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms

from ..conftest import EXAMPLES
from .conftest import smoke
from .seed_reference import SeedLoop

SIZE = 64


@pytest.fixture(scope="module")
def images():
    return load_image(EXAMPLES / "chelsea.jpg", SIZE), load_image(EXAMPLES / "strokes.png", SIZE)


@pytest.fixture(scope="module")
def reference(request, images, extractor, bench_config) -> tuple[float, float, int]:
    """(objective after N seed-style steps, its wall time, N); N = 1000, or 5 in smoke mode."""
    steps = 5 if smoke(request.config) else 1000
    loop = SeedLoop(*images, extractor, bench_config)
    start = time.perf_counter()
    for _ in range(steps):
        loop.step()
    elapsed = time.perf_counter() - start
    return loop.step(), elapsed, steps  # the objective at the final image


def _time_to(objective: float, run: PixelOptimizer, limit: int, start: float) -> tuple[float, int] | None:
    """Seconds since ``start`` and steps until the loss is at most ``objective``; None: not within ``limit``."""
    for step in range(1, limit + 1):
        if run.step().total <= objective:
            return time.perf_counter() - start, step
    return None


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_time_to_seed_quality(benchmark, images, extractor, bench_config, reference, optimizer: str) -> None:
    objective, seed_seconds, seed_steps = reference
    config = bench_config.with_overrides(optimizer=optimizer)
    content, style = images

    def reach() -> tuple[float, int] | None:
        start = time.perf_counter()  # targets included: the seed loop pays for its own every step
        run = PixelOptimizer(content, WholeImage(extractor, build_terms(extractor, content, [style], config)), config)
        return _time_to(objective, run, 2 * seed_steps, start)

    reached = benchmark.pedantic(reach, rounds=1, iterations=1)
    seconds, steps = reached if reached is not None else (None, None)  # the report says "not reached"
    benchmark.group = "quality"
    benchmark.extra_info.update(
        kind="quality", variant=f"ours {optimizer}", size=SIZE, objective=objective, baseline_seconds=seed_seconds,
        baseline_steps=seed_steps, seconds=seconds, steps=steps, limit=2 * seed_steps,
    )  # fmt: skip
    assert reached is not None, f"ours {optimizer} did not reach {objective:.4g} in {2 * seed_steps} steps"


def test_a_target_never_reached_is_reported_as_not_reached() -> None:
    from .report import race_rows

    class Flat:  # a run whose loss never falls
        def step(self):
            return type("Losses", (), {"total": 1.0})()

    assert _time_to(0.5, Flat(), 4, time.perf_counter()) is None  # not the step limit
    info = {"kind": "quality", "variant": "flat", "seconds": None, "steps": None, "limit": 4,
            "baseline_seconds": 1.0, "baseline_steps": 2}  # fmt: skip
    assert "| flat | 2 steps, 1.0 s | not reached in 4 steps | n/a |" in race_rows(
        [{"extra_info": info}], "quality", ""
    )
