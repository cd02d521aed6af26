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

from .config import StyleConfig
from .losses import content_loss, gram_matrix, style_loss, tv_loss

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


def default_terms(config: StyleConfig) -> list[LossTerm]:
    """Gatys et al.'s three terms, weighted and layered as ``config`` says."""
    return [
        ContentTerm(config.content_weight, config.content_layers),
        GramStyleTerm(config.style_weight, config.style_layers),
        TotalVariationTerm(config.tv_weight),
    ]


#: The names front ends label losses with, in order.
TERM_NAMES: tuple[str, ...] = tuple(term.name for term in default_terms(StyleConfig()))
