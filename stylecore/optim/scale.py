"""One scale's objective with its targets set: over the whole image, or tile by tile at print size.

The run builds one per scale; :class:`~stylecore.optim.engine.PixelOptimizer` steps either alike.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor

from ..config import StyleConfig
from ..model.extractor import VGGExtractor
from ..objective.registry import LossTerm, blend_shares
from ..objective.terms import default_terms
from .engine import Objective, WholeImage, check_term_names
from .tiling import TiledObjective, tile_px, uses_tiles


def build_objective(
    extractor: VGGExtractor,
    content: Tensor,
    styles: Sequence[Tensor],
    config: StyleConfig,
    regions: Sequence[Tensor | None] | None = None,
    style_regions: Sequence[Tensor | None] = (),
    extra: Sequence[LossTerm] = (),
    *,
    bf16: bool = False,
) -> Objective:
    """``config``'s terms (style per region when ``regions`` are given) and ``extra``, targets set from these
    images; tiled when ``config.tile`` is smaller than ``content`` (:func:`~stylecore.optim.tiling.uses_tiles`)."""
    terms = [*default_terms(config, regions, style_regions), *extra]
    check_term_names(terms)
    height, width = content.shape[-2:]
    objective: Objective
    if uses_tiles(height, width, config):  # coarse scales smaller than a tile run whole
        objective = TiledObjective(extractor, terms, (height, width), tile_px(config), bf16=bf16)
    else:
        objective = WholeImage(extractor, terms, bf16=bf16)
    objective.set_targets(content, styles, blend_shares(len(styles), config.style_blend))
    return objective
