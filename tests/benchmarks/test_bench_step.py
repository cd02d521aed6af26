"""Group step-N: one optimisation step at N x N, our engine vs the seed-style loop.

Also the FLOP count of our step and this machine's 3x3-conv throughput, from
which the report derives "% of the conv limit".
"""

from __future__ import annotations

import pytest

from stylecore.engine import PixelOptimizer, build_terms

from .conftest import rounds, square
from .flops import conv_throughput, step_flops
from .seed_reference import SeedLoop


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_ours(benchmark, extractor, bench_config, size: int, optimizer: str) -> None:
    config = bench_config.with_overrides(optimizer=optimizer)
    content, style = square(size, 0), square(size, 1)
    run = PixelOptimizer(content, extractor, build_terms(extractor, content, [style], config), config)
    flops = step_flops(size, size, config.layers, config.style_layers)
    benchmark.group = f"step-{size}"
    benchmark.extra_info.update(kind="step", size=size, variant=f"ours {optimizer}", flops=flops)
    benchmark.pedantic(run.step, rounds=rounds(size), warmup_rounds=1)


def test_seed_style(benchmark, extractor, bench_config, size: int) -> None:
    loop = SeedLoop(square(size, 0), square(size, 1), extractor, bench_config)
    benchmark.group = f"step-{size}"
    benchmark.extra_info.update(kind="step", size=size, variant="seed-style")
    benchmark.pedantic(loop.step, rounds=rounds(size), warmup_rounds=1)


def test_conv_limit(benchmark) -> None:
    """This machine's sustained 3x3-conv throughput (512 -> 512 channels at 64 x 64)."""
    benchmark.group = "limit"
    rate = benchmark.pedantic(conv_throughput, rounds=1, iterations=1)
    benchmark.extra_info.update(kind="limit", gflops=rate)
    assert rate > 0
