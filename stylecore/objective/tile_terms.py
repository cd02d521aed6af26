"""Each loss term as tiles see it: partial statistics summed over tiles, or a value summed over tiles.

A style term is a function of statistics summed over positions (Gram: ``Σ f fᵀ``; mean and
covariance: ``Σ w``, ``Σ w f``, ``Σ w f fᵀ``), so its loss at the whole image is its loss at the
sum of the tiles' partial statistics (:class:`GlobalTerm`). Sliced statistics are not sums but a
gathered set of projections: their "partial statistic" is the tile's projections, concatenated,
not summed (``gathered``). Content, TV and temporal terms have fixed denominators, so their value
is a sum of per-tile values (:class:`LocalTerm`). :mod:`stylecore.optim.tiling` drives both.

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
from .functional import relative_error, resample_sorted, wasserstein2_gaussian
from .terms import (
    ContentTerm,
    GramStyleTerm,
    LossTerm,
    MeanCovStyleTerm,
    RegionStyleTerm,
    SlicedStyleTerm,
    TemporalTerm,
    TotalVariationTerm,
)

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

    def new_step(self) -> None:
        """Draw what is fixed for one step (sliced: the directions)."""

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


def _flat(feats: Tensor) -> Tensor:
    return feats[0].flatten(1)  # (C, n)


@dataclass
class TiledGram:
    term: GramStyleTerm
    gathered: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.term.name

    @property
    def layers(self) -> tuple[str, ...]:
        return self.term.layers

    def new_step(self) -> None:
        return None

    def statistics(self, own: Mapping[str, Tensor], windows: Mapping[str, Window]) -> dict[str, Tensor]:
        stats = {}
        for layer in self.layers:
            flat = _flat(own[layer])
            stats[f"g:{layer}"] = flat @ flat.T  # (C, C), not yet divided by the positions
            stats[f"n:{layer}"] = flat.new_tensor(float(flat.shape[1]))
        return stats

    def loss(self, stats: Mapping[str, Tensor]) -> Tensor:
        grams = [stats[f"g:{n}"] / stats[f"n:{n}"] for n in self.layers]
        errors = [relative_error(g[None], self.term.targets[n]) for g, n in zip(grams, self.layers, strict=True)]
        return self.term.weight * torch.stack(errors).mean()  # style_loss's default: equal layer weights


def moment_sums(flat: Tensor, weights: Tensor | None, prefix: str) -> dict[str, Tensor]:
    """``Σ w``, ``Σ w f`` (C,) and ``Σ w f fᵀ`` (C, C) of (C, n) features, in float64.

    The covariance is then ``Σ w f fᵀ / Σ w - m mᵀ``: a difference of large terms for features with
    a large mean, which fp32 cancels to 1e-4; float64 keeps it exact to fp32 rounding.
    """
    flat = flat.double()
    weights = None if weights is None else weights.double()
    weighted = flat if weights is None else flat * weights
    count = flat.new_tensor(float(flat.shape[1])) if weights is None else weights.sum()
    return {f"w:{prefix}": count, f"s1:{prefix}": weighted.sum(1), f"s2:{prefix}": weighted @ flat.T}


def moments_from(stats: Mapping[str, Tensor], prefix: str, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """Mean (1, C) and covariance (1, C, C) from :func:`moment_sums` summed over tiles."""
    total = stats[f"w:{prefix}"].clamp_min(_EPS)
    mean = stats[f"s1:{prefix}"] / total
    cov = stats[f"s2:{prefix}"] / total - mean[:, None] @ mean[None, :]
    return mean[None].to(dtype), cov[None].to(dtype)


@dataclass
class TiledMeanCov:
    term: MeanCovStyleTerm
    gathered: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.term.name

    @property
    def layers(self) -> tuple[str, ...]:
        return self.term.layers

    def new_step(self) -> None:
        return None

    def statistics(self, own: Mapping[str, Tensor], windows: Mapping[str, Window]) -> dict[str, Tensor]:
        return {k: v for layer in self.layers for k, v in moment_sums(_flat(own[layer]), None, layer).items()}

    def loss(self, stats: Mapping[str, Tensor]) -> Tensor:
        losses = [
            wasserstein2_gaussian(*moments_from(stats, n, self.term.targets[n][0].dtype), *self.term.targets[n])
            for n in self.layers
        ]
        return self.term.weight * torch.stack(losses).mean()


@dataclass
class TiledSliced:
    """Exact: the projections of every position are gathered, then sorted once (memory: C values per position)."""

    term: SlicedStyleTerm
    gathered: frozenset[str] = frozenset()
    _draw: dict[str, tuple[Tensor, Tensor]] = field(default_factory=dict)  # layer -> directions, sorted target

    def __post_init__(self) -> None:
        self.gathered = frozenset(f"p:{layer}" for layer in self.layers)

    @property
    def name(self) -> str:
        return self.term.name

    @property
    def layers(self) -> tuple[str, ...]:
        return self.term.layers

    def new_step(self) -> None:
        # The same draws, in the same order, as sliced_distance makes in the untiled call.
        self._draw = {}
        for layer in self.layers:
            target = self.term.targets[layer]
            channels = target.shape[0]
            directions = torch.randn(channels, channels, generator=self.term.generator).to(target)
            directions = directions / directions.norm(dim=0, keepdim=True)
            self._draw[layer] = directions, (directions.T @ target).sort(dim=-1).values

    def statistics(self, own: Mapping[str, Tensor], windows: Mapping[str, Window]) -> dict[str, Tensor]:
        return {f"p:{n}": self._draw[n][0].T @ _flat(own[n]) for n in self.layers}  # (P, n)

    def loss(self, stats: Mapping[str, Tensor]) -> Tensor:
        losses = []
        for layer in self.layers:
            ours = stats[f"p:{layer}"].sort(dim=-1).values
            theirs = resample_sorted(self._draw[layer][1], ours.shape[-1])
            losses.append(torch.nn.functional.mse_loss(ours, theirs, reduction="sum") / (theirs.pow(2).sum() + _EPS))
        return self.term.weight * torch.stack(losses).mean()


@dataclass
class TiledRegions:
    """Guided Grams or weighted moments per region; the masks are cropped with the tile at each layer."""

    term: RegionStyleTerm
    gathered: frozenset[str] = frozenset()
    _size: dict[str, tuple[int, int]] = field(default_factory=dict)  # layer -> full map size

    def __post_init__(self) -> None:
        if self.term.statistic == "sliced":
            raise ConfigError("tiling does not support sliced statistics with regions; use --tile 0 or gram/meancov")

    @property
    def name(self) -> str:
        return self.term.name

    @property
    def layers(self) -> tuple[str, ...]:
        return self.term.layers

    def new_step(self) -> None:
        return None

    def statistics(self, own: Mapping[str, Tensor], windows: Mapping[str, Window]) -> dict[str, Tensor]:
        stats: dict[str, Tensor] = {}
        for layer in self.layers:
            window = windows[layer]
            self._size[layer] = window.size
            shares, present = self.term._shares_at(*window.size)
            flat = _flat(own[layer])
            for i in present:
                share = _crop(shares[i : i + 1], window.box).flatten()  # (n,)
                key = f"{layer}:{i}"
                stats[f"a:{key}"] = share.sum()  # the region's part of the layer
                if self.term.statistic == "meancov":
                    stats.update(moment_sums(flat, share, key))
                else:
                    masked = flat * share
                    stats[f"g:{key}"], stats[f"m:{key}"] = masked @ masked.T, share.pow(2).sum()
        return stats

    def loss(self, stats: Mapping[str, Tensor]) -> Tensor:
        losses = []
        for layer in self.layers:
            targets = self.term.targets[layer]
            shares, present = self.term._shares_at(*self._size[layer])
            count = shares[0].numel()
            parts = []
            for i in present:
                key = f"{layer}:{i}"
                if self.term.statistic == "meancov":
                    distance = wasserstein2_gaussian(*moments_from(stats, key, targets[i][0].dtype), *targets[i])
                else:
                    gram = stats[f"g:{key}"] / (stats[f"m:{key}"] + _EPS)
                    distance = relative_error(gram[None], targets[i][0])
                parts.append(self.term.blend[i] * stats[f"a:{key}"] / count * distance)  # as RegionStyleTerm
            losses.append(torch.stack(parts).sum())
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
        target, mask = self.term._at(*window.size)
        norm = (mask.expand_as(target) * target.pow(2)).sum()  # fixed for the scale; small next to VGG
        box = window.box
        ours = _crop(pixels, window.in_crop())
        weights = _crop(mask, box).expand_as(ours)
        return self.term.weight * (weights * (ours - _crop(target, box)).pow(2)).sum() / (norm + _EPS)


def global_term(term: LossTerm) -> GlobalTerm | None:
    """The statistics adapter of a style term; None for a local term."""
    if isinstance(term, GramStyleTerm):
        return TiledGram(term)
    if isinstance(term, MeanCovStyleTerm):
        return TiledMeanCov(term)
    if isinstance(term, SlicedStyleTerm):
        return TiledSliced(term)
    if isinstance(term, RegionStyleTerm):
        return TiledRegions(term)
    return None


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
