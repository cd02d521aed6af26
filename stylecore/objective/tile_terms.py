"""What a loss term implements to run tile by tile: the protocols, the tile's window, and how tiles combine.

A style term is a function of statistics summed over positions (Gram: ``Σ w² f fᵀ``; mean and
covariance: ``Σ w``, ``Σ w f``, ``Σ w f fᵀ``), so its loss at the whole image is its loss at the
sum of the tiles' partial statistics (:class:`GlobalTerm`). A statistic that is not a sum (sliced)
gathers the tiles' positions instead: concatenated, not summed (``gathered_keys``). Content, TV and
temporal terms have fixed denominators, so their value is a sum of per-tile values
(:class:`LocalTerm`). Each term class implements one of the two next to its untiled call
(:mod:`stylecore.objective.terms`), as a style statistic carries its ``partial``;
:mod:`stylecore.optim.tiling` drives them, and is the :class:`TileContext` they ask for whole-image
targets. tests/test_tiling.py checks every term's tiled value and gradient against its untiled one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from .regions import Mask
from .style import Stat, StyleStatistic

Box = tuple[int, int, int, int]  # (y0, y1, x0, x1), end exclusive


@dataclass(frozen=True)
class Window:
    """Where a tile's own region lies, for one feature map (or the pixels): absolute box and full size."""

    box: Box  # the tile's own cells in the full map
    size: tuple[int, int]  # (h, w) of the full map
    origin: tuple[int, int] = (0, 0)  # the crop's first cell in the full map

    def in_crop(self) -> Box:
        """``box`` in the crop's own coordinates."""
        (y0, y1, x0, x1), (oy, ox) = self.box, self.origin
        return (y0 - oy, y1 - oy, x0 - ox, x1 - ox)


class TileContext(Protocol):
    """What the tiler offers a term setting its targets: whole-image results computed from tiles."""

    @property
    def extractor(self) -> Callable[[Tensor, Sequence[str]], dict[str, Tensor]]:
        """The features of a whole image, for targets that need it whole."""

    def content_targets(self, layers: Sequence[str]) -> tuple[Callable[[int], dict[str, Tensor]], dict[str, Tensor]]:
        """Per tile index, the content's features over the tile's own region; and Σ t² per layer."""

    def statistics(
        self, image: Tensor, statistic: StyleStatistic, layers: Sequence[str], where: Mask | None
    ) -> dict[str, Stat]:
        """``statistic`` at each of ``layers`` of a whole ``image`` (positions weighted by ``where``)."""


@runtime_checkable
class GlobalTerm(Protocol):
    """A term whose loss is a function of statistics summed (or gathered) over positions."""

    name: str
    layers: tuple[str, ...]

    def gathered_keys(self) -> frozenset[str]:
        """Keys of :meth:`tile_statistics` concatenated along the last dim instead of summed."""

    def tile_statistics(self, own: Mapping[str, Tensor], windows: Mapping[str, Window]) -> dict[str, Tensor]:
        """A tile's partial statistics from its own region's features ``own[layer]`` (1, C, h, w)."""

    def tile_loss(self, stats: Mapping[str, Tensor]) -> Tensor:
        """The weighted value at the whole image's statistics."""


@runtime_checkable
class LocalTerm(Protocol):
    """A term whose value is the sum of its tiles' values."""

    name: str
    layers: tuple[str, ...]

    def tile_value(self, own: Mapping[str, Tensor], pixels: Tensor, window: Window, index: int) -> Tensor:
        """Tile ``index``'s share; ``pixels`` is the tile's crop, ``window`` its own pixels in the image."""


def crop(tensor: Tensor, box: Box) -> Tensor:
    """The ``box`` of the last two dims."""
    return tensor[..., box[0] : box[1], box[2] : box[3]]


def combine(parts: Sequence[Mapping[str, Tensor]], gathered: frozenset[str]) -> dict[str, Tensor]:
    """Tiles' partial statistics -> the whole image's: summed, or concatenated for ``gathered`` keys."""
    keys = parts[0].keys()
    return {
        k: torch.cat([p[k] for p in parts], dim=-1) if k in gathered else torch.stack([p[k] for p in parts]).sum(0)
        for k in keys
    }
