"""Loss terms as units: each owns its layers, its fixed target, and its weighted value.

A term is anything with a ``name``, the ``layers`` it reads, a ``set_targets``
that computes its target once (before the loop, without gradients), and a call
that returns its weighted value from the generated image's features. The
optimisation sums what the terms return; front ends label losses by
``term.name``. A new loss (masks, other style statistics, temporal) is a new
class here, not an edit to the loop. (After pystiche's criteria.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch import Tensor

from ..config import StyleConfig, StyleLoss
from .functional import (
    content_loss,
    feature_moments,
    gram_matrix,
    guided_gram,
    relative_error,
    sliced_wasserstein,
    sqrtm_newton_schulz,
    style_loss,
    temporal_loss,
    tv_loss,
    wasserstein2_gaussian,
)
from .regions import Mask, at_layer, region_shares

#: Anything called like the torch extractor: ``(image, layers) -> {layer: features}``.
FeatureFn = Callable[[Tensor, Sequence[str]], dict[str, Tensor]]


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
class GramStyleTerm:
    """Gram matrices of the style images, blended per layer by ``shares``."""

    weight: float
    layers: tuple[str, ...]
    name: str = "style"
    targets: dict[str, Tensor] = field(default_factory=dict, repr=False)  # layer -> (1, C, C)

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        grams: dict[str, Tensor] = {}
        for style, share in zip(styles, shares, strict=True):
            if share == 0:  # a zero share needs no VGG pass
                continue
            for layer, feats in extract(style, self.layers).items():
                gram = share * gram_matrix(feats.to(content.device))
                grams[layer] = grams[layer] + gram if layer in grams else gram
        self.targets = grams

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        grams = {n: gram_matrix(features[n]) for n in self.targets}
        return self.weight * style_loss(grams, self.targets)


@dataclass
class MeanCovStyleTerm:
    """Mean and covariance of the style features, matched with the 2-Wasserstein distance between Gaussians.

    Several styles blend as a mixture: shared first and second moments, so the covariance includes the
    spread between the styles' means.
    """

    weight: float
    layers: tuple[str, ...]
    name: str = "style"
    targets: dict[str, tuple[Tensor, Tensor, Tensor]] = field(default_factory=dict, repr=False)  # mean, cov, √cov

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        moments: dict[str, tuple[Tensor, Tensor]] = {}
        for style, share in zip(styles, shares, strict=True):
            if share == 0:
                continue
            for layer, feats in extract(style, self.layers).items():
                mean, cov = feature_moments(feats.to(content.device))  # (1, C), (1, C, C)
                second = cov + mean.unsqueeze(2) @ mean.unsqueeze(1)
                old = moments.get(layer)
                moments[layer] = (share * mean, share * second) if old is None else (
                    old[0] + share * mean, old[1] + share * second
                )  # fmt: skip
        self.targets = {}
        for layer, (mean, second) in moments.items():
            cov = second - mean.unsqueeze(2) @ mean.unsqueeze(1)
            self.targets[layer] = (mean, cov, sqrtm_newton_schulz(cov))

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        losses = [wasserstein2_gaussian(*feature_moments(features[n]), *target) for n, target in self.targets.items()]
        return self.weight * torch.stack(losses).mean()


@dataclass
class SlicedStyleTerm:
    """The full distribution of style features along random directions, redrawn every step (seeded).

    Several styles blend as a mixture: each contributes its share of the positions.
    """

    weight: float
    layers: tuple[str, ...]
    seed: int = 0
    name: str = "style"
    targets: dict[str, Tensor] = field(default_factory=dict, repr=False)  # layer -> (C, M) style features
    generator: torch.Generator = field(default_factory=torch.Generator, repr=False)

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        samples: dict[str, list[Tensor]] = {}
        features = [extract(style, self.layers) if share else {} for style, share in zip(styles, shares, strict=True)]
        for layer in self.layers:
            flats = [f[layer][0].flatten(1).to(content.device) for f in features if layer in f]  # (C, N_i)
            most = max(flat.shape[1] for flat in flats)
            kept = [s for s in shares if s]
            samples[layer] = [_evenly(flat, round(share * most)) for flat, share in zip(flats, kept, strict=True)]
        self.targets = {layer: torch.cat(parts, dim=1) for layer, parts in samples.items()}
        self.generator.manual_seed(self.seed)

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        losses = [sliced_distance(features[layer], target, self.generator) for layer, target in self.targets.items()]
        return self.weight * torch.stack(losses).mean()


def sliced_distance(features: Tensor, target: Tensor, generator: torch.Generator) -> Tensor:
    """Sliced Wasserstein between ``features`` ((1, C, H, W) or (1, C, N)) and ``target`` (C, M) samples,
    along C unit directions drawn from ``generator`` (new ones on every call)."""
    channels = target.shape[0]
    directions = torch.randn(channels, channels, generator=generator).to(target)  # (C, P=C)
    directions = directions / directions.norm(dim=0, keepdim=True)
    target_sorted = (directions.T @ target).sort(dim=-1).values  # (P, M)
    return sliced_wasserstein(features, target_sorted, directions)


def _evenly(flat: Tensor, count: int) -> Tensor:
    """``count`` of the columns of (C, N), evenly spaced (all of them when count >= N)."""
    n = flat.shape[1]
    if count >= n:
        return flat
    return flat[:, torch.linspace(0, n - 1, max(count, 1), device=flat.device).round().long()]


@dataclass
class RegionStyleTerm:
    """Style ``i`` inside content region ``i`` (Gatys et al. 2017, spatial control), for any statistic.

    Each region's statistics come from the features inside it, weighted by the mask (so normalised by its
    area): guided Grams, weighted mean and covariance, or (sliced) the positions at least half inside.
    They are compared with the style's own (inside that style's mask when one is given), and each region
    counts by its share of the image times its style's blend share (``style_blend``), scaled so an equal
    blend weighs every region 1: blend (0.7, 0.3) styles region 1 more strongly than region 2, and a zero
    share leaves that region to the content and tv terms alone.
    """

    weight: float
    layers: tuple[str, ...]
    masks: Sequence[Mask | None]  # content regions, one per style; None: a default style
    statistic: StyleLoss = "gram"
    style_masks: Sequence[Mask | None] = ()  # where in each style image to take statistics from
    seed: int = 0  # sliced: directions redrawn every step from this seed
    name: str = "style"
    shares: Tensor | None = field(default=None, repr=False)  # (N, 1, H, W) at the current scale
    targets: dict[str, list[tuple[Tensor, ...]]] = field(default_factory=dict, repr=False)  # layer -> per style
    blend: tuple[float, ...] = field(default=(), repr=False)  # per style: its blend share x the style count
    generator: torch.Generator = field(default_factory=torch.Generator, repr=False)
    # (h, w) -> shares at that layer size and the regions not empty there: fixed for a scale, so
    # computed on the first step, not on every one (and no host sync per region per step).
    _at_layer: dict[tuple[int, int], tuple[Tensor, list[int]]] = field(default_factory=dict, repr=False)

    def set_targets(
        self, extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]
    ) -> None:
        self.shares = region_shares(self.masks, *content.shape[-2:]).to(content.device)
        self.blend = tuple(share * len(shares) for share in shares)
        self._at_layer = {}
        self.targets = {}
        for index, style in enumerate(styles):
            where = self.style_masks[index] if index < len(self.style_masks) else None
            for layer, feats in extract(style, self.layers).items():
                feats = feats.to(content.device)
                mask = torch.ones_like(feats[:, :1]) if where is None else at_layer(where.to(feats), *feats.shape[-2:])
                self.targets.setdefault(layer, []).append(self._statistics(feats, mask))
        self.generator.manual_seed(self.seed)

    def _statistics(self, feats: Tensor, mask: Tensor) -> tuple[Tensor, ...]:
        if self.statistic == "meancov":
            mean, cov = feature_moments(feats, mask)
            return mean, cov, sqrtm_newton_schulz(cov)
        if self.statistic == "sliced":
            return (_inside(feats, mask),)  # (C, M)
        return (guided_gram(feats, mask),)

    def __call__(self, features: Mapping[str, Tensor], image: Tensor) -> Tensor:
        losses = []
        for layer, targets in self.targets.items():
            feats = features[layer]
            shares, present = self._shares_at(*feats.shape[-2:])
            terms = [
                self.blend[i] * shares[i].mean() * self._distance(feats, shares[i : i + 1], targets[i]) for i in present
            ]
            losses.append(torch.stack(terms).sum())
        return self.weight * torch.stack(losses).mean()

    def _shares_at(self, height: int, width: int) -> tuple[Tensor, list[int]]:
        if (height, width) not in self._at_layer:
            assert self.shares is not None, "set_targets() first"
            shares = at_layer(self.shares, height, width)  # (N, 1, h, w)
            present = [i for i in range(shares.shape[0]) if float(shares[i].max()) > 0]
            self._at_layer[(height, width)] = shares, present
        return self._at_layer[(height, width)]

    def _distance(self, feats: Tensor, share: Tensor, target: tuple[Tensor, ...]) -> Tensor:
        if self.statistic == "meancov":
            return wasserstein2_gaussian(*feature_moments(feats, share), *target)
        if self.statistic == "sliced":
            samples = _inside(feats, share)  # hard boundaries: a soft edge is rounded per layer cell
            return sliced_distance(samples[None], target[0], self.generator)
        return relative_error(guided_gram(feats, share), target[0])


def _inside(feats: Tensor, mask: Tensor) -> Tensor:
    """(C, M): the feature vectors of the positions at least half inside ``mask`` (all if none is)."""
    flat, weights = feats[0].flatten(1), mask.flatten()
    keep = weights >= 0.5
    return flat[:, keep] if bool(keep.any()) else flat[:, weights > 0]


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
        target, mask = self._at(image.shape[-2], image.shape[-1])
        return self.weight * temporal_loss(image, target, mask)

    def _at(self, height: int, width: int) -> tuple[Tensor, Tensor]:
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
    """The style term for ``config.style_loss``: Gram (Gatys et al.), mean and covariance, or sliced;
    with ``regions``, that statistic per region."""
    if regions is not None:
        return RegionStyleTerm(
            config.style_weight, config.style_layers, regions, config.style_loss, style_regions, seed=config.seed
        )
    if config.style_loss == "meancov":
        return MeanCovStyleTerm(config.style_weight, config.style_layers)
    if config.style_loss == "sliced":
        return SlicedStyleTerm(config.style_weight, config.style_layers, seed=config.seed)
    return GramStyleTerm(config.style_weight, config.style_layers)


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
