"""Image sizes: the one long-side rule, and the smallest side a run accepts."""

from __future__ import annotations

from ..model.extractor import VGG19_LAYERS, min_side

#: The smallest output side: twice what the deepest VGG19 layer needs (four
#: max-pools before conv5_1 leave 1 pixel of a 16 px image; 2x keeps a few).
MIN_SIDE = 2 * min_side(tuple(VGG19_LAYERS))


def fit_long_side(height: int, width: int, long_side: int, *, grow: bool = True) -> tuple[int, int]:
    """(height, width) scaled so the longer one is ``long_side``, aspect kept; never below 1 px.

    With ``grow=False`` a smaller image keeps its size.
    """
    scale = long_side / max(height, width)
    if not grow:
        scale = min(scale, 1.0)
    return max(1, round(height * scale)), max(1, round(width * scale))
