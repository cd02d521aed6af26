"""One scale's problem: fixed targets, the objective, and the pixel optimizer that steps it.

:class:`PixelOptimizer` steps any :class:`Objective`: :class:`WholeImage` here, or
:class:`~stylecore.optim.tiling.TiledObjective` at print size (:func:`stylecore.optim.scale.build_objective`
picks). A whole run (scales, budget, colours, memory, the result) is :mod:`stylecore.optim.run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import LBFGS_HISTORY, StyleConfig
from ..errors import ConfigError
from ..imaging.sizing import fit_long_side
from ..model.layers import layer_names
from ..objective.registry import FeatureFn, LossTerm, blend_shares
from ..objective.terms import default_terms
from .adam import PixelAdam


@dataclass(frozen=True)
class LossTerms:
    """The weighted loss terms of one step, by term name, and their ``total``."""

    values: Mapping[str, float]
    total: float

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    @classmethod
    def of(cls, values: Mapping[str, Tensor]) -> LossTerms:
        """From each term's value and ``total`` as tensors (one host sync each, once per step)."""
        return cls({name: v.item() for name, v in values.items() if name != "total"}, values["total"].item())


class Objective(Protocol):
    """The loss of one scale at an image, and its pixel gradient: whole (:class:`WholeImage`) or tiled."""

    layers: tuple[str, ...]  # what the VGG pass extracts; () for a pixels-only objective

    def set_targets(self, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]) -> None:
        """Every term's fixed target, once, before the first step (``shares`` sum to 1)."""

    def backward(self, image: Tensor) -> LossTerms:
        """The loss at ``image`` (a leaf); d total / d image is accumulated into ``image.grad``."""


@torch.no_grad()  # not inference_mode: autograd saves the targets in the loop
def set_targets(
    terms: Sequence[LossTerm], extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], config: StyleConfig
) -> Sequence[LossTerm]:
    """Compute every term's fixed target once, before the loop; returns ``terms``."""
    WholeImage(extract, terms).set_targets(content, styles, blend_shares(len(styles), config.style_blend))
    return terms


class WholeImage:
    """The objective over the whole image: one VGG forward and backward per step."""

    def __init__(self, extract: FeatureFn, terms: Sequence[LossTerm], *, bf16: bool = False) -> None:
        self.extract, self.terms = extract, list(terms)
        wanted = [layer for term in self.terms for layer in term.layers]
        self.layers = layer_names(wanted) if wanted else ()  # a pixels-only objective needs no VGG pass
        self.bf16 = bf16  # autocast the VGG pass only; losses, Grams and pixels stay fp32

    @torch.no_grad()  # not inference_mode: autograd saves the targets in the loop
    def set_targets(self, content: Tensor, styles: Sequence[Tensor], shares: Sequence[float]) -> None:
        for term in self.terms:
            term.set_targets(self.extract, content, styles, shares)

    def backward(self, image: Tensor) -> LossTerms:
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            features = self.extract(image, self.layers) if self.layers else {}
        features = {name: f.float() for name, f in features.items()}
        values = objective(features, image, self.terms)
        values["total"].backward()  # type: ignore[no-untyped-call]
        return LossTerms.of(values)


def build_terms(
    extract: FeatureFn,
    content: Tensor,
    styles: Sequence[Tensor],
    config: StyleConfig,
    regions: Sequence[Tensor | None] | None = None,
    style_regions: Sequence[Tensor | None] = (),
    extra: Sequence[LossTerm] = (),
) -> list[LossTerm]:
    """``config``'s terms (style per region when ``regions`` are given) and ``extra``, targets set from these images."""
    terms = [*default_terms(config, regions, style_regions), *extra]
    check_term_names(terms)
    set_targets(terms, extract, content, styles, config)
    return terms


def check_term_names(terms: Sequence[LossTerm]) -> None:
    """Refuse repeated term names: losses are reported and summed by name, so one would hide another."""
    names = [term.name for term in terms]
    repeated = sorted({name for name in names if names.count(name) > 1 or name == "total"})
    if repeated:
        raise ConfigError(f"loss term name {repeated[0]!r} is taken (each term needs its own name, and not 'total')")


def objective(features: Mapping[str, Tensor], image: Tensor, terms: Sequence[LossTerm]) -> dict[str, Tensor]:
    """Each term's weighted value by name, and their ``total`` (the sum over ``terms``, never over names)."""
    values = [term(features, image) for term in terms]
    named = dict(zip((term.name for term in terms), values, strict=True))
    if len(named) < len(values) or "total" in named:
        check_term_names(terms)  # raises: a name would hide a term's value
    named["total"] = torch.stack(values).sum()
    return named


def resize(image: Tensor, height: int, width: int) -> Tensor:
    """Antialiased bilinear resize of (B, C, H, W) pixels, kept in [0, 1]; a no-op at the same size."""
    if tuple(image.shape[-2:]) == (height, width):
        return image
    return F.interpolate(image, size=(height, width), mode="bilinear", antialias=True).clamp(0, 1)


def to_long_side(image: Tensor, long_side: int) -> Tensor:
    """``image`` resized so its long side is ``long_side``, aspect kept."""
    height, width = image.shape[-2:]
    return resize(image, *fit_long_side(height, width, long_side))


def initial_image(content: Tensor, styles: Sequence[Tensor], config: StyleConfig) -> Tensor:
    """The starting pixels: a copy of the content (the design), noise, or the style."""
    if config.init == "noise":
        generator = torch.Generator().manual_seed(config.seed)  # CPU: same noise on any device
        return torch.rand(content.shape, generator=generator).to(content.device)
    if config.init == "style":
        return resize(styles[0], *content.shape[-2:]).clone()
    return content.clone()


class PixelOptimizer:
    """The pixel optimization at one scale; :meth:`step` is one forward+backward+update.

    Both work on the pixels and clamp them to [0, 1] after each step. A bare clamp
    after an L-BFGS step corrupts its curvature pairs (the loss oscillated in our
    runs): the next pair's ``s`` would be the step proposed, not the step taken. So
    the clamp also rewrites L-BFGS's last direction to the projected step, and drops
    the older pairs when it clipped (see :meth:`_project`). Raw pixels beat the former
    sigmoid logits (docs/performance.md).
    """

    def __init__(self, image: Tensor, objective: Objective, config: StyleConfig) -> None:
        self.objective = objective
        self.param = image.detach().clone().requires_grad_(True)
        if config.optimizer == "lbfgs":
            # max_iter=1: one step() = one closure call = one forward+backward.
            self.optimizer: torch.optim.Optimizer | PixelAdam = torch.optim.LBFGS(
                [self.param], lr=config.step_size, max_iter=1, history_size=LBFGS_HISTORY
            )
        else:  # torch.optim.Adam's rule without its ~2 s first-use import of torch._dynamo (optim/adam.py)
            self.optimizer = PixelAdam(self.param, lr=config.step_size)
        self._last: LossTerms | None = None

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers each step extracts (() when no term reads features)."""
        return self.objective.layers

    def image(self) -> Tensor:
        """Current pixels in [0, 1], (1, 3, H, W); part of the graph unless detached."""
        return self.param

    def _closure(self) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        self._last = self.objective.backward(self.image())
        return self._last.total

    def step(self) -> LossTerms:
        """Evaluate the loss at the current pixels, then update them; returns that loss."""
        before = self.param.detach().clone()
        self.optimizer.step(self._closure)
        self._project(before)
        assert self._last is not None
        return self._last

    @torch.no_grad()
    def _project(self, before: Tensor) -> None:
        """Clamp the pixels to [0, 1]; for L-BFGS, keep its memory true to the step actually taken.

        torch's L-BFGS builds the next curvature pair from ``s = d * t`` (its stored
        direction and step length); setting ``d`` to the projected step keeps that pair
        true to the pixels. When the clamp moved a pixel, the older pairs describe a
        curvature the box has just cut, so they are dropped (measured: docs/performance.md).
        """
        state = self.optimizer.state[self.param]
        if not (isinstance(self.optimizer, torch.optim.LBFGS) and state.get("t")):
            self.param.clamp_(0, 1)
            return
        clipped = bool(((self.param < 0) | (self.param > 1)).any())
        self.param.clamp_(0, 1)
        state["d"] = (self.param - before).flatten() / state["t"]
        if clipped:
            state["old_dirs"], state["old_stps"], state["ro"] = [], [], []
