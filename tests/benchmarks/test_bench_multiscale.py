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

from stylecore import PRESETS, load_image, stylize, vgg19_extractor

from ..conftest import EXAMPLES
from .conftest import smoke

SIZE = 256
GATYS = PRESETS["gatys"].with_overrides(device="cpu", save_every=0)


@pytest.fixture(scope="module")
def images():
    return load_image(EXAMPLES / "chelsea.jpg", SIZE), load_image(EXAMPLES / "strokes.png", SIZE)


@pytest.fixture(scope="module")
def gatys_extractor():
    return vgg19_extractor(layers=GATYS.layers, weights="random:0")


@pytest.fixture(scope="module")
def bar(request, images, gatys_extractor) -> tuple[float, float, int]:
    """(loss after N single-scale steps, their wall time, N)."""
    steps = 4 if smoke(request.config) else 100
    config = GATYS.with_overrides(iterations=steps, scales=1)
    extractor = gatys_extractor
    start = time.perf_counter()
    result = stylize(*images, config, extractor=extractor)
    return result.history[-1].total, time.perf_counter() - start, steps


@pytest.mark.parametrize("scales", [2, 3])
def test_time_to_objective(benchmark, images, gatys_extractor, bar, scales: int) -> None:
    objective, single_seconds, single_steps = bar
    content, extractor = images[0], gatys_extractor
    config = GATYS.with_overrides(iterations=3 * single_steps, scales=scales)

    def reach() -> tuple[float, int]:
        start, final_steps = time.perf_counter(), [0]

        def at_final_size(progress) -> bool:
            if progress.image.shape != content.shape:
                return False
            final_steps[0] += 1
            return progress.losses.total <= objective

        result = stylize(*images, config, at_final_size, extractor=extractor)
        reached = result.stopped is not None
        return (time.perf_counter() - start if reached else float("inf")), len(result.history)

    seconds, steps = benchmark.pedantic(reach, rounds=1, iterations=1)
    benchmark.group = "multiscale"
    benchmark.extra_info.update(
        kind="multiscale", variant=f"{scales} scales", size=SIZE, objective=objective,
        baseline_seconds=single_seconds, baseline_steps=single_steps, seconds=seconds, steps=steps,
    )  # fmt: skip
    assert steps > 0
