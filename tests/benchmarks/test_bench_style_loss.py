"""Group style-loss: one Adam step at 256 px with each style statistic, and with two regions.

Compared with the Gram step of the same run; in `make test` it runs once at 64 px.
"""

from __future__ import annotations

import math

import pytest
import torch

from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms

from .conftest import rounds, smoke, square

SIZE, SMOKE_SIZE = 256, 64
VARIANTS = [("gram", False), ("meancov", False), ("sliced", False), ("gram", True), ("sliced", True)]


@pytest.mark.parametrize(("style_loss", "masked"), VARIANTS, ids=[f"{s}{'-regions' if m else ''}" for s, m in VARIANTS])
def test_style_loss_step(benchmark, request, extractor, bench_config, style_loss: str, masked: bool) -> None:
    side = SMOKE_SIZE if smoke(request.config) else SIZE
    config = bench_config.with_overrides(style_loss=style_loss)
    content, styles = square(side, 0), [square(side, 1), square(side, 2)]
    left = torch.zeros(1, 1, side, side)
    left[..., : side // 2] = 1
    regions = [left, None] if masked else None
    run = PixelOptimizer(
        content, WholeImage(extractor, build_terms(extractor, content, styles, config, regions)), config
    )
    variant = f"{style_loss}{' + 2 regions' if masked else ''}"
    benchmark.group = f"style-loss-{side}"
    benchmark.extra_info.update(kind="style-loss", size=side, variant=variant)
    before = run.step().values["style"]
    benchmark.pedantic(run.step, rounds=rounds(side), warmup_rounds=1)
    after = run.step().values["style"]
    assert math.isfinite(after) and after < before, (before, after)  # the timed steps match the style
