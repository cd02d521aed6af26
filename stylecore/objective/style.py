"""Style statistics: what "the style" of a layer's features is, and how far another image is from it.

A :class:`StyleStatistic` fills in a few steps and the flow is written once, in
:class:`~stylecore.objective.terms.StyleTerm` (after pystiche's ``ComparisonLoss`` with its
``input_enc_to_repr``, ``target_enc_to_repr`` and ``calculate_score``):

- ``represent``: the statistic of (1, C, H, W) features whose positions are weighted by a mask
  (1, 1, H, W); ``None`` is the full mask (every position weighs 1), the fast path without regions;
- ``mix``: several styles' statistics blended by share;
- ``draw``: what is fixed for one step (the target itself; sliced: the step's random directions);
- ``score``: how far a statistic is from the drawn target (relative, so 0 at the target);
- ``partial`` and ``from_partials``: the statistic from partial sums over tiles, for exact tiled
  steps (:mod:`stylecore.optim.tiling`). The default gathers the positions themselves, which is
  exact for any statistic but holds C values per position; Gram and mean/covariance sum.

Regions, style masks, the blend, layers and weight belong to the term, so every statistic gets them.
A new statistic is one subclass here with ``@register("name")``, and the name in
:data:`stylecore.config.StyleLoss` (config stays free of torch, so it keeps its own list; a test
checks the two agree).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from functools import reduce
from operator import add
from typing import ClassVar, TypeVar

import torch
from torch import Tensor

from .functional import (
    feature_moments,
    gram_matrix,
    guided_gram,
    relative_error,
    sliced_wasserstein,
    sqrtm_newton_schulz,
    wasserstein2_gaussian,
)

_EPS = 1e-8

#: A statistic's tensors: the Gram ``(G,)``, ``(mean, cov)`` and so on; a target may hold more.
Stat = tuple[Tensor, ...]

#: ``--style-loss`` name -> statistic; filled by :func:`register`.
STATISTICS: dict[str, StyleStatistic] = {}

_S = TypeVar("_S", bound="type[StyleStatistic]")


def register(name: str) -> Callable[[_S], _S]:
    """Class decorator: the statistic becomes available as ``style_loss=name``."""

    def add_to_registry(cls: _S) -> _S:
        cls.name = name
        STATISTICS[name] = cls()
        return cls

    return add_to_registry


class StyleStatistic(ABC):
    """One way to describe a style; stateless (the term owns targets, masks and random state)."""

    name: ClassVar[str] = ""
    #: Keys of :meth:`partial` that tiles concatenate (along the last dim) instead of summing.
    gathered: ClassVar[frozenset[str]] = frozenset({"f", "w"})
    #: False refuses tiled steps with regions (sliced: kept as it was, until a test checks it).
    tiles_regions: ClassVar[bool] = True

    @abstractmethod
    def represent(self, features: Tensor, mask: Tensor | None) -> Stat:
        """The statistic of ``features`` (1, C, H, W) with positions weighted by ``mask`` (1, 1, H, W)."""

    def target(self, features: Tensor, mask: Tensor | None) -> Stat:
        """A style image's statistic (called once, without gradients); by default :meth:`represent`."""
        return self.represent(features, mask)

    @abstractmethod
    def mix(self, parts: Sequence[tuple[float, Stat]]) -> Stat:
        """The target of several styles' statistics ``(share, stat)``, shares summing to 1."""

    def draw(self, target: Stat, generator: torch.Generator) -> Stat:
        """What one step compares with: the target itself unless the statistic is random."""
        return target

    @abstractmethod
    def score(self, stat: Stat, target: Stat) -> Tensor:
        """The distance of ``stat`` from a drawn ``target``, a scalar."""

    def distance(self, features: Tensor, mask: Tensor | None, target: Stat) -> Tensor:
        """:meth:`score` of the features' statistic under ``mask``."""
        return self.score(self.represent(features, mask), target)

    def partial(self, flat: Tensor, weights: Tensor | None) -> dict[str, Tensor]:
        """One tile's part of the statistic, from its (C, n) features and their (n,) weights."""
        return {"f": flat} if weights is None else {"f": flat, "w": weights}

    def from_partials(self, sums: Mapping[str, Tensor], dtype: torch.dtype) -> Stat:
        """The statistic from :meth:`partial` combined over every tile."""
        features = sums["f"].to(dtype)[None, :, :, None]  # (1, C, N, 1): the gathered positions
        mask = sums["w"].to(dtype).view(1, 1, -1, 1) if "w" in sums else None
        return self.represent(features, mask)

    def tiled_distance(self, sums: Mapping[str, Tensor], target: Stat) -> Tensor:
        """:meth:`score` of the statistic combined from tiles."""
        return self.score(self.from_partials(sums, target[0].dtype), target)


def _weighted_sum(parts: Sequence[tuple[float, Tensor]]) -> Tensor:
    total: Tensor = reduce(add, [share * value for share, value in parts])
    return total


@register("gram")
class Gram(StyleStatistic):
    """Channel correlations (Gatys et al.); under a mask the guided Gram (Gatys et al. 2017)."""

    gathered = frozenset()

    def represent(self, features: Tensor, mask: Tensor | None) -> Stat:
        return (gram_matrix(features) if mask is None else guided_gram(features, mask),)  # (1, C, C)

    def mix(self, parts: Sequence[tuple[float, Stat]]) -> Stat:
        return (_weighted_sum([(share, gram) for share, (gram,) in parts]),)

    def score(self, stat: Stat, target: Stat) -> Tensor:
        return relative_error(stat[0], target[0])

    def partial(self, flat: Tensor, weights: Tensor | None) -> dict[str, Tensor]:
        masked = flat if weights is None else flat * weights
        squares = flat.new_tensor(float(flat.shape[1])) if weights is None else weights.pow(2).sum()
        return {"g": masked @ masked.T, "m": squares}  # Σ w² f fᵀ (C, C) and Σ w², as guided_gram

    def from_partials(self, sums: Mapping[str, Tensor], dtype: torch.dtype) -> Stat:
        return ((sums["g"] / (sums["m"] + _EPS))[None].to(dtype),)


@register("meancov")
class MeanCov(StyleStatistic):
    """Mean and covariance, matched with the 2-Wasserstein distance between Gaussians.

    Several styles blend as a mixture: shared first and second moments, so the covariance includes
    the spread between the styles' means.
    """

    gathered = frozenset()

    def represent(self, features: Tensor, mask: Tensor | None) -> Stat:
        return feature_moments(features, mask)  # (1, C), (1, C, C)

    def mix(self, parts: Sequence[tuple[float, Stat]]) -> Stat:
        mean = _weighted_sum([(share, m) for share, (m, _) in parts])
        second = _weighted_sum([(share, cov + m.unsqueeze(2) @ m.unsqueeze(1)) for share, (m, cov) in parts])
        cov = second - mean.unsqueeze(2) @ mean.unsqueeze(1)
        return mean, cov, sqrtm_newton_schulz(cov)  # the root once, not every step

    def score(self, stat: Stat, target: Stat) -> Tensor:
        return wasserstein2_gaussian(stat[0], stat[1], target[0], target[1], target[2])

    def partial(self, flat: Tensor, weights: Tensor | None) -> dict[str, Tensor]:
        """``Σ w``, ``Σ w f`` (C,) and ``Σ w f fᵀ`` (C, C), in float64.

        The covariance is then ``Σ w f fᵀ / Σ w - m mᵀ``: a difference of large terms for features
        with a large mean, which fp32 cancels to 1e-4; float64 keeps it exact to fp32 rounding.
        """
        flat = flat.double()
        weighted = flat if weights is None else flat * weights.double()
        count = flat.new_tensor(float(flat.shape[1])) if weights is None else weights.double().sum()
        return {"w": count, "s1": weighted.sum(1), "s2": weighted @ flat.T}

    def from_partials(self, sums: Mapping[str, Tensor], dtype: torch.dtype) -> Stat:
        total = sums["w"].clamp_min(_EPS)
        mean = sums["s1"] / total
        cov = sums["s2"] / total - mean[:, None] @ mean[None, :]
        return mean[None].to(dtype), cov[None].to(dtype)


@register("sliced")
class Sliced(StyleStatistic):
    """The whole distribution along random unit directions, redrawn every step (Heitz et al., CVPR 2021).

    A mask keeps the positions at least half inside it (sorting takes no weights), so a soft edge is
    rounded to whole layer cells. Several styles blend as a mixture: each gives its share of the positions.
    """

    tiles_regions = False  # refused before StyleTerm too; the gathered partials would be exact

    def represent(self, features: Tensor, mask: Tensor | None) -> Stat:
        flat = features[0].flatten(1)  # (C, N)
        if mask is None:
            return (flat,)
        weights = mask.flatten()
        keep = weights >= 0.5
        return (flat[:, keep] if bool(keep.any()) else flat[:, weights > 0],)  # (C, M); all of it if none is half in

    def mix(self, parts: Sequence[tuple[float, Stat]]) -> Stat:
        most = max(samples.shape[1] for _, (samples,) in parts)
        return (torch.cat([_evenly(samples, round(share * most)) for share, (samples,) in parts], dim=1),)

    def draw(self, target: Stat, generator: torch.Generator) -> Stat:
        (samples,) = target  # (C, M)
        channels = samples.shape[0]
        directions = torch.randn(channels, channels, generator=generator).to(samples)  # (C, P=C), CPU generator
        directions = directions / directions.norm(dim=0, keepdim=True)
        return directions, (directions.T @ samples).sort(dim=-1).values  # (C, P), (P, M)

    def score(self, stat: Stat, target: Stat) -> Tensor:
        directions, target_sorted = target
        return sliced_wasserstein(stat[0][None], target_sorted, directions)


def _evenly(flat: Tensor, count: int) -> Tensor:
    """``count`` of the columns of (C, N), evenly spaced (all of them when count >= N)."""
    n = flat.shape[1]
    if count >= n:
        return flat
    return flat[:, torch.linspace(0, n - 1, max(count, 1), device=flat.device).round().long()]
