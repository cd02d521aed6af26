"""Each loss term as tiles see it: partial statistics combined over tiles, or a value summed over tiles.

A style term is a function of statistics summed over positions (Gram: ``Σ w² f fᵀ``; mean and
covariance: ``Σ w``, ``Σ w f``, ``Σ w f fᵀ``), so its loss at the whole image is its loss at the
sum of the tiles' partial statistics (:class:`GlobalTerm`). A statistic that is not a sum (sliced)
gathers the tiles' positions instead: concatenated, not summed (``gathered``). Each statistic says
which (:meth:`~stylecore.objective.style.StyleStatistic.partial`); :class:`TiledStyle` applies the
regions. Content, TV and temporal terms have fixed denominators, so their value is a sum of
per-tile values (:class:`LocalTerm`). :mod:`stylecore.optim.tiling` drives both.

The adapters read the terms' own targets and caches, so a term's untiled and tiled values agree;
tests/test_tiling.py checks every adapter against its term's untiled gradient.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from ..errors import ConfigError
from .terms import ContentTerm, LossTerm, StyleTerm, TemporalTerm, TotalVariationTerm

_EPS = 1e-8
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


class GlobalTerm(Protocol):
    """A term whose loss is a function of statistics summed (or gathered) over positions."""

    gathered: frozenset[str]  # keys concatenated along the last dim instead of summed

    @property
    def name(self) -> str: ...

    @property
    def layers(self) -> tuple[str, ...]: ...

    def statistics(self, own: Mapping[str, Tensor], windows: Mapping[str, Window]) -> dict[str, Tensor]:
        """A tile's partial statistics from its own region's features ``own[layer]`` (1, C, h, w)."""

    def loss(self, stats: Mapping[str, Tensor]) -> Tensor:
        """The weighted value at the whole image's statistics."""


class LocalTerm(Protocol):
    """A term whose value is the sum of its tiles' values."""

    @property
    def name(self) -> str: ...

    @property
    def layers(self) -> tuple[str, ...]: ...

    def value(self, own: Mapping[str, Tensor], pixels: Tensor, window: Window, index: int) -> Tensor:
        """Tile ``index``'s share; ``pixels`` is the tile's crop, ``window`` its own pixels in the image."""


def _crop(tensor: Tensor, box: Box) -> Tensor:
    return tensor[..., box[0] : box[1], box[2] : box[3]]


@dataclass
class TiledStyle:
    """A :class:`StyleTerm` as tiles see it: each region's partial statistics (its mask cropped with the
    tile at each layer), combined over the tiles; the loss is the untiled one at the combined statistics."""

    term: StyleTerm
    gathered: frozenset[str] = frozenset()
    _size: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer -> full map size

    def __post_init__(self) -> None:
        statistic = self.term.statistic
        if self.term.masks is not None and not statistic.tiles_regions:
            raise ConfigError(
                f"tiling does not support {statistic.name} statistics with regions; use --tile 0 or gram/meancov"
            )
        keys, regions = statistic.gathered, self.term.factors
        self.gathered = frozenset(f"{layer}:{i}:{k}" for layer in self.term.targets for i in regions for k in keys)

    @property
    def name(self) -> str:
        return self.term.name

    @property
    def layers(self) -> tuple[str, ...]:
        return self.term.layers

    def statistics(self, own: Mapping[str, Tensor], windows: Mapping[str, Window]) -> dict[str, Tensor]:
        stats: dict[str, Tensor] = {}
        for layer in self.term.targets:
            window = windows[layer]
            self._size[layer] = window.size
            flat = own[layer][0].flatten(1)  # (C, n)
            for i, mask, _ in self.term.regions_at(*window.size):
                weights = None if mask is None else _crop(mask, window.box).flatten()  # (n,)
                partial = self.term.statistic.partial(flat, weights)
                stats.update({f"{layer}:{i}:{key}": value for key, value in partial.items()})
        return stats

    def loss(self, stats: Mapping[str, Tensor]) -> Tensor:
        statistic, losses = self.term.statistic, []
        for layer, targets in self.term.targets.items():  # draws in the untiled call's order
            parts = []
            for i, _, factor in self.term.regions_at(*self._size[layer]):
                prefix = f"{layer}:{i}:"
                sums = {key.removeprefix(prefix): value for key, value in stats.items() if key.startswith(prefix)}
                target = statistic.draw(targets[i], self.term.generator)
                parts.append(factor * statistic.tiled_distance(sums, target))
            losses.append(torch.stack(parts).sum() if parts else next(iter(stats.values())).new_zeros(()))
        return self.term.weight * torch.stack(losses).mean()


@dataclass
class TiledContent:
    """Content targets per tile: cached (own region only) when they fit ``cache_bytes``, else recomputed."""

    term: ContentTerm
    targets: Callable[[int], dict[str, Tensor]]  # tile index -> own-region content features
    norms: dict[str, Tensor]  # layer -> Σ t² over the whole content image

    @property
    def name(self) -> str:
        return self.term.name

    @property
    def layers(self) -> tuple[str, ...]:
        return self.term.layers

    def value(self, own: Mapping[str, Tensor], pixels: Tensor, window: Window, index: int) -> Tensor:
        targets = self.targets(index)
        errors = [(own[n] - targets[n]).pow(2).sum() / (self.norms[n] + _EPS) for n in self.layers]
        return self.term.weight * torch.stack(errors).mean()


@dataclass
class TiledTV:
    """Pairs whose first pixel is in the tile's own region (the halo supplies the second)."""

    term: TotalVariationTerm
    layers: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.term.name

    def value(self, own: Mapping[str, Tensor], pixels: Tensor, window: Window, index: int) -> Tensor:
        (y0, y1, x0, x1), (height, width) = window.in_crop(), window.size
        channels = pixels.shape[1]
        # The crop reaches past the own region wherever the image does, so its edge is the image's.
        rows = pixels[..., y0 : min(y1 + 1, pixels.shape[-2]), x0:x1]
        cols = pixels[..., y0:y1, x0 : min(x1 + 1, pixels.shape[-1])]
        dy = (rows[..., 1:, :] - rows[..., :-1, :]).pow(2).sum() / (channels * (height - 1) * width)
        dx = (cols[..., :, 1:] - cols[..., :, :-1]).pow(2).sum() / (channels * height * (width - 1))
        return self.term.weight * (dy + dx)


@dataclass
class TiledTemporal:
    term: TemporalTerm
    layers: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.term.name

    def value(self, own: Mapping[str, Tensor], pixels: Tensor, window: Window, index: int) -> Tensor:
        target, mask = self.term.at_size(*window.size)
        norm = (mask.expand_as(target) * target.pow(2)).sum()  # fixed for the scale; small next to VGG
        box = window.box
        ours = _crop(pixels, window.in_crop())
        weights = _crop(mask, box).expand_as(ours)
        return self.term.weight * (weights * (ours - _crop(target, box)).pow(2)).sum() / (norm + _EPS)


def global_term(term: LossTerm) -> GlobalTerm | None:
    """The statistics adapter of a style term; None for a local term."""
    return TiledStyle(term) if isinstance(term, StyleTerm) else None


def local_term(term: LossTerm) -> LocalTerm:
    """The per-tile adapter of a pixel term (content is built by the tiler, which owns its targets)."""
    if isinstance(term, TotalVariationTerm):
        return TiledTV(term)
    if isinstance(term, TemporalTerm):
        return TiledTemporal(term)
    raise ConfigError(f"tiling does not support the {type(term).__name__} term ({term.name}); use --tile 0")


def combine(parts: Sequence[Mapping[str, Tensor]], gathered: frozenset[str]) -> dict[str, Tensor]:
    """Tiles' partial statistics -> the whole image's: summed, or concatenated for ``gathered`` keys."""
    keys = parts[0].keys()
    return {
        k: torch.cat([p[k] for p in parts], dim=-1) if k in gathered else torch.stack([p[k] for p in parts]).sum(0)
        for k in keys
    }
