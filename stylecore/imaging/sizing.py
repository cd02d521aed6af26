"""Image sizes: the one long-side rule, and the smallest side a run accepts."""

from __future__ import annotations

# Re-exported (it was defined here): the smallest output side, from the torch-free layer table.
from ..model.layers import MIN_SIDE as MIN_SIDE


def fit_long_side(height: int, width: int, long_side: int, *, grow: bool = True) -> tuple[int, int]:
    """(height, width) scaled so the longer one is ``long_side``, aspect kept; never below 1 px.

    With ``grow=False`` a smaller image keeps its size.
    """
    scale = long_side / max(height, width)
    if not grow:
        scale = min(scale, 1.0)
    return max(1, round(height * scale)), max(1, round(width * scale))
