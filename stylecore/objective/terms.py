"""Loss terms as units: each owns its layers, its fixed target, and its weighted value.

A term is anything with a ``name``, the ``layers`` it reads, a ``set_targets``
that computes its target once (before the loop, without gradients), and a call
that returns its weighted value from the generated image's features. The
optimisation sums what the terms return; front ends label losses by
``term.name``. A new loss (temporal, say) is a new class here, not an edit to the
loop; a new style statistic is a class in :mod:`stylecore.objective.style`. (After pystiche's criteria.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from ..config import StyleConfig
from .functional import content_loss, temporal_loss, tv_loss
from .regions import Mask, at_layer, region_shares
from .style import STATISTICS, Stat, StyleStatistic

#: Anything called like the torch extractor: ``(image, layers) -> {layer: features}``.
FeatureFn = Callable[[Tensor, Sequence[str]], dict[str, Tensor]]
#: A region of a style term at one layer size: its index, its mask there (None: the full mask), its factor.
Region = tuple[int, Tensor | None, Tensor | float]


class LossTerm(Protocol):
    """One weighted term of the objective."""

    name: str
    layers: tuple[str, ...]

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        """Compute the fixed target from the content and style images (``shares`` sum to 1)."""

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        """The weighted value for the generated ``image`` and its ``features``."""


@dataclass
class ContentTerm:
    """Feature reconstruction of the content image, averaged over ``layers``."""

    weight: float
    layers: tuple[str, ...]
    name: str = "content"
    targets: dict[str, Tensor] = field(default_factory=dict, repr=False)  # layer -> (1, C, H, W)

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        self.targets = {n: f.to(content.device) for n, f in extract(content, self.layers).items()}

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        losses = [content_loss(features[n], target) for n, target in self.targets.items()]
        return self.weight * torch.stack(losses).mean()


@dataclass
class StyleTerm:
    """A style statistic matched at ``layers``: over the whole image, or style ``i`` in content region ``i``.

    Without ``masks`` the styles' statistics blend by share into one target (``statistic.mix``),
    matched over the whole image: one region, the full mask. With ``masks`` (Gatys et al. 2017,
    spatial control) region ``i``'s statistic weights positions by its share of them (so it does not
    depend on the region's size) and is compared with style ``i``'s own. Each region counts by its
    share of the image times its style's blend share times the style count, so an equal blend weighs
    every region 1: blend (0.7, 0.3) styles region 1 more strongly than region 2, and a zero share
    leaves that region to the content and tv terms alone. ``style_masks[i]`` picks where in style
    image ``i`` its statistic comes from (default: everywhere).
    """

    statistic: StyleStatistic
    layers: tuple[str, ...]
    weight: float
    masks: Sequence[Mask | None] | None = None  # content regions, one per style (None: a default style)
    style_masks: Sequence[Mask | None] = ()  # where in each style image to take statistics from
    seed: int = 0  # random statistics (sliced) redraw from this seed every step
    name: str = "style"
    targets: dict[str, dict[int, Stat]] = field(default_factory=dict, repr=False)  # layer -> region -> target
    factors: dict[int, float] = field(default_factory=dict, repr=False)  # region -> blend share x style count
    shares: Tensor | None = field(default=None, repr=False)  # (N, 1, H, W) region shares; None: no regions
    generator: torch.Generator = field(default_factory=torch.Generator, repr=False)
    # (h, w) -> the regions present at that layer size with their masks and factors: fixed for a
    # scale, so computed on the first step, not on every one (no host sync per region per step).
    _at_layer: dict[tuple[int, int], list[Region]] = field(default_factory=dict, repr=False)

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        def measure(index: int) -> dict[str, Stat]:
            where = self.style_mask(index)
            stats = {}
            for layer, feats in extract(styles[index], self.layers).items():
                feats = feats.to(content.device)
                mask = None if where is None else at_layer(where.to(feats), *feats.shape[-2:])
                stats[layer] = self.statistic.target(feats, mask)
            return stats

        self.set_targets_from(measure, content, shares)

    def style_mask(self, index: int) -> Mask | None:
        """Where in style image ``index`` its statistic comes from; None: everywhere."""
        return self.style_masks[index] if index < len(self.style_masks) else None

    @torch.no_grad()
    def set_targets_from(
        self, measure: Callable[[int], Mapping[str, Stat]], content: Tensor, shares: Sequence[float]
    ) -> None:
        """The targets from ``measure(i)``, style ``i``'s statistic per layer; a zero share is never measured."""
        kept = [i for i, share in enumerate(shares) if share]
        if self.masks is None:
            groups = {0: [(shares[i], i) for i in kept]}  # every style mixed, over the whole image
            self.factors, self.shares = {0: 1.0}, None
        else:
            groups = {i: [(1.0, i)] for i in kept}  # style i alone, in region i
            self.factors = {i: shares[i] * len(shares) for i in kept}
            self.shares = region_shares(self.masks, *content.shape[-2:]).to(content.device)
        measured = {i: measure(i) for i in kept}
        self.targets = {
            layer: {g: self.statistic.mix([(s, measured[i][layer]) for s, i in parts]) for g, parts in groups.items()}
            for layer in measured[kept[0]]
        }
        self._at_layer = {}
        self.generator.manual_seed(self.seed)

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        losses = []
        for layer, targets in self.targets.items():
            feats = features[layer]
            parts = [
                factor * self.statistic.distance(feats, mask, self.statistic.draw(targets[i], self.generator))
                for i, mask, factor in self.regions_at(*feats.shape[-2:])
            ]
            losses.append(torch.stack(parts).sum() if parts else feats.new_zeros(()))
        return self.weight * torch.stack(losses).mean()

    def regions_at(self, height: int, width: int) -> list[Region]:
        """``(region, its mask at a layer of this size or None for the full mask, its factor)``
        for the regions with a target that are not empty there."""
        if (height, width) not in self._at_layer:
            if self.shares is None:
                found: list[Region] = [(i, None, factor) for i, factor in self.factors.items()]
            else:
                shares = at_layer(self.shares, height, width)  # (N, 1, h, w)
                found = [
                    (i, shares[i : i + 1], factor * shares[i].mean())
                    for i, factor in self.factors.items()
                    if float(shares[i].max()) > 0
                ]
            self._at_layer[(height, width)] = found
        return self._at_layer[(height, width)]


@dataclass
class TotalVariationTerm:
    """Smoothness of the generated pixels; needs no features and no target."""

    weight: float
    layers: tuple[str, ...] = ()
    name: str = "tv"

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        return None

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        return self.weight * tv_loss(image)


@dataclass
class TemporalTerm:
    """Stay close to the previous stylised frame, warped into this one, where the flow is trusted.

    Ruder et al. 2016's short-term temporal loss. ``target`` and ``mask`` are fixed when the frame
    starts (they come from the previous result, not from this frame's content or styles); a
    coarser scale reads them resized.
    """

    weight: float
    target: Tensor  # (1, 3, H, W) previous stylised frame warped into this one
    mask: Tensor  # (1, 1, H, W) 1 where the warp is consistent
    layers: tuple[str, ...] = ()
    name: str = "temporal"
    _sized: dict[tuple[int, int], tuple[Tensor, Tensor]] = field(default_factory=dict, repr=False, init=False)

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        return None

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        target, mask = self.at_size(image.shape[-2], image.shape[-1])
        return self.weight * temporal_loss(image, target, mask)

    def at_size(self, height: int, width: int) -> tuple[Tensor, Tensor]:
        """Target and mask at a scale's size (a tiled step reads them too); resized once per size."""
        if (height, width) == tuple(self.target.shape[-2:]):
            return self.target, self.mask
        if (height, width) not in self._sized:
            size = (height, width)
            target = torch.nn.functional.interpolate(self.target, size=size, mode="bilinear", antialias=True)
            # Area averaging keeps a cell only as trusted as its pixels; below 1 counts partly.
            mask = torch.nn.functional.adaptive_avg_pool2d(self.mask, size)
            self._sized[(height, width)] = (target, mask)
        return self._sized[(height, width)]


def style_term(
    config: StyleConfig,
    regions: Sequence[Mask | None] | None = None,
    style_regions: Sequence[Mask | None] = (),
) -> LossTerm:
    """The style term for ``config.style_loss`` (a name in :data:`~stylecore.objective.style.STATISTICS`);
    with ``regions``, that statistic per region."""
    statistic = STATISTICS[config.style_loss]
    return StyleTerm(statistic, config.style_layers, config.style_weight, regions, style_regions, seed=config.seed)


def default_terms(
    config: StyleConfig,
    regions: Sequence[Mask | None] | None = None,
    style_regions: Sequence[Mask | None] = (),
) -> list[LossTerm]:
    """Content, style and total variation, weighted and layered as ``config`` says."""
    return [
        ContentTerm(config.content_weight, config.content_layers),
        style_term(config, regions, style_regions),
        TotalVariationTerm(config.tv_weight),
    ]


#: The names front ends label losses with, in order.
TERM_NAMES: tuple[str, ...] = tuple(term.name for term in default_terms(StyleConfig()))
