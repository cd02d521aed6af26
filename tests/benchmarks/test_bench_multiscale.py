"""Group multiscale: wall time to a given objective at the final size, one scale vs coarse-to-fine.

The `gatys` preset (L-BFGS from white noise), where coarse scales pay off: the
single-scale run's loss after N steps at the final size is the bar; the
multi-scale run counts only losses measured at the final size. (From a copy of
the content, as in the `seed` preset, the upsampled coarse result starts
further from the objective than the content itself does, and single scale wins.)
"""

from __future__ import annotations

import time

import pytest

from stylecore import PRESETS, StyleConfig, load_image, stylize, vgg19_extractor

from ..conftest import EXAMPLES
from .conftest import smoke

SIZE, SMOKE_SIZE = 256, 64


@pytest.fixture(scope="module")
def side(request) -> int:
    """Not `size`: conftest parametrizes that name over the usual sizes."""
    return SMOKE_SIZE if smoke(request.config) else SIZE


@pytest.fixture(scope="module")
def gatys(side: int) -> StyleConfig:
    return PRESETS["gatys"].with_overrides(device="cpu", save_every=0, size=side)


@pytest.fixture(scope="module")
def images():
    return load_image(EXAMPLES / "chelsea.jpg"), load_image(EXAMPLES / "strokes.png")  # stylize() sizes them


@pytest.fixture(scope="module")
def gatys_extractor(gatys: StyleConfig):
    return vgg19_extractor(layers=gatys.layers, weights="random:0")


@pytest.fixture(scope="module")
def bar(request, images, gatys, gatys_extractor) -> tuple[float, float, int]:
    """(loss after N single-scale steps, their wall time, N)."""
    steps = 4 if smoke(request.config) else 100
    config = gatys.with_overrides(iterations=steps, scales=1)
    extractor = gatys_extractor
    start = time.perf_counter()
    result = stylize(*images, config, extractor=extractor)
    return result.history[-1].total, time.perf_counter() - start, steps


@pytest.mark.parametrize("scales", [2, 3])
def test_time_to_objective(benchmark, images, gatys, gatys_extractor, bar, side: int, scales: int) -> None:
    objective, single_seconds, single_steps = bar
    extractor = gatys_extractor
    config = gatys.with_overrides(iterations=3 * single_steps, scales=scales)

    def reach() -> tuple[float, int] | None:
        start, final_steps = time.perf_counter(), [0]

        def at_final_size(progress) -> bool:
            if progress.scale < progress.scales - 1:
                return False
            final_steps[0] += 1
            return progress.losses.total <= objective

        result = stylize(*images, config, at_final_size, extractor=extractor)
        if result.stopped is None:  # ran every step without reaching the bar
            return None
        return time.perf_counter() - start, len(result.history)

    reached = benchmark.pedantic(reach, rounds=1, iterations=1)
    seconds, steps = reached if reached is not None else (None, None)  # the report says "not reached"
    benchmark.group = "multiscale"
    benchmark.extra_info.update(
        kind="multiscale", variant=f"{scales} scales", size=side, objective=objective,
        baseline_seconds=single_seconds, baseline_steps=single_steps, seconds=seconds, steps=steps,
        limit=config.iterations,
    )  # fmt: skip
    assert reached is not None, f"{scales} scales did not reach {objective:.4g} in {config.iterations} steps"
