"""Group step-N: one optimisation step at N x N, our engine vs the seed-style loop.

Also the FLOP count of our step and this machine's 3x3-conv throughput, from
which the report derives "% of the conv limit".
"""

from __future__ import annotations

import math

import pytest
import torch

from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms

from .conftest import rounds, square
from .flops import conv_throughput, step_flops
from .seed_reference import SeedLoop


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_ours(benchmark, extractor, bench_config, size: int, optimizer: str) -> None:
    config = bench_config.with_overrides(optimizer=optimizer)
    content, style = square(size, 0), square(size, 1)
    run = PixelOptimizer(content, WholeImage(extractor, build_terms(extractor, content, [style], config)), config)
    flops = step_flops(size, size, config.layers, config.style_layers)
    benchmark.group = f"step-{size}"
    benchmark.extra_info.update(kind="step", size=size, variant=f"ours {optimizer}", flops=flops)
    before = run.step().total
    benchmark.pedantic(run.step, rounds=rounds(size), warmup_rounds=1)
    after = run.step().total
    assert math.isfinite(after) and after < before, (before, after)  # the timed steps optimise


def test_seed_style(benchmark, extractor, bench_config, size: int) -> None:
    loop = SeedLoop(square(size, 0), square(size, 1), extractor, bench_config)
    benchmark.group = f"step-{size}"
    benchmark.extra_info.update(kind="step", size=size, variant="seed-style")
    before = loop.step()
    benchmark.pedantic(loop.step, rounds=rounds(size), warmup_rounds=1)
    after = loop.step()
    assert math.isfinite(after) and after < before, (before, after)


def test_conv_limit(benchmark) -> None:
    """This machine's sustained 3x3-conv throughput (512 -> 512 channels at 64 x 64)."""
    benchmark.group = "limit"
    rate = benchmark.pedantic(conv_throughput, rounds=1, iterations=1)
    benchmark.extra_info.update(kind="limit", gflops=rate)
    # Below what the cores could do at all (5 GHz, two AVX-512 FMA units: 64 fp32 FLOP per cycle each):
    # a higher figure means the timing missed the work, e.g. an op that ran lazily or elsewhere.
    assert 0 < rate < torch.get_num_threads() * 5.0 * 64, rate
