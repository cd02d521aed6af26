"""When a run works at which size, and when it may stop: the coarse-to-fine scales and the flat-loss test."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ..config import FLAT_WINDOW, StyleConfig
from ..model.layers import MIN_SIDE
from .engine import LossTerms

#: (height, width, iterations) of one scale.
Scale = tuple[int, int, int]


def auto_scales(long_side: int) -> int:
    """1 scale up to 255 px, one more per doubling, at most 4 (1024 px and up)."""
    return max(1, min(4, int(math.log2(max(long_side, 128) / 128)) + 1))


def scale_plan(height: int, width: int, config: StyleConfig) -> list[Scale]:
    """(height, width, iterations) per scale, coarse to fine, each scale twice the last.

    Iterations are split evenly (the final scale takes the remainder): coarse
    steps are 4x cheaper per halving, so early scales cost little.
    """
    count = config.scales or auto_scales(max(height, width))
    while count > 1 and min(height, width) / 2 ** (count - 1) < MIN_SIDE:
        count -= 1
    count = min(count, config.iterations)
    per_scale = config.iterations // count
    plan = []
    for index in range(count):
        factor = 2.0 ** (index - count + 1)
        iterations = per_scale if index < count - 1 else config.iterations - per_scale * (count - 1)
        plan.append((max(1, round(height * factor)), max(1, round(width * factor)), iterations))
    return plan


def is_flat(history: Sequence[LossTerms], threshold: float) -> bool:
    """The loss fell by less than ``threshold`` (relative) over the last FLAT_WINDOW steps."""
    if len(history) <= FLAT_WINDOW:
        return False
    before, now = history[-1 - FLAT_WINDOW].total, history[-1].total
    return before - now < threshold * abs(before)
