"""One scale's problem: fixed targets, the objective, and the pixel optimizer that steps it.

A whole run (scales, budget, colours, memory, the result) is :mod:`stylecore.optim.run`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import LBFGS_HISTORY, StyleConfig
from ..errors import ConfigError
from ..imaging.sizing import fit_long_side
from ..model.extractor import VGGExtractor
from ..model.layers import layer_names
from ..objective.terms import FeatureFn, LossTerm, default_terms
from .adam import PixelAdam

if TYPE_CHECKING:
    from .tiling import TiledObjective


@dataclass(frozen=True)
class LossTerms:
    """The weighted loss terms of one step, by term name, and their ``total``."""

    values: Mapping[str, float]
    total: float

    def __getitem__(self, name: str) -> float:
        return self.values[name]


def blend_shares(count: int, blend: Sequence[float] | None) -> list[float]:
    """Per-style shares summing to 1 (equal when ``blend`` is None)."""
    if blend is None:
        return [1.0 / count] * count
    if len(blend) != count:
        raise ConfigError(f"style_blend has {len(blend)} weights for {count} style images")
    total = sum(blend)
    return [w / total for w in blend]


@torch.no_grad()  # not inference_mode: autograd saves the targets in the loop
def set_targets(
    terms: Sequence[LossTerm], extract: FeatureFn, content: Tensor, styles: Sequence[Tensor], config: StyleConfig
) -> Sequence[LossTerm]:
    """Compute every term's fixed target once, before the loop; returns ``terms``."""
    shares = blend_shares(len(styles), config.style_blend)
    for term in terms:
        term.set_targets(extract, content, styles, shares)
    return terms


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
    sigmoid logits (README, Performance).
    """

    def __init__(
        self,
        image: Tensor,
        extractor: VGGExtractor,
        terms: Sequence[LossTerm],
        config: StyleConfig,
        *,
        bf16: bool = False,
        tiled: TiledObjective | None = None,
    ) -> None:
        self.extractor, self.terms = extractor, list(terms)
        self.tiled = tiled  # print size: the objective and its gradient tile by tile (stylecore.optim.tiling)
        wanted = [layer for term in self.terms for layer in term.layers]
        self.layers = layer_names(wanted) if wanted else ()  # a pixels-only objective needs no VGG pass
        self.bf16 = bf16  # autocast the VGG pass only; losses, Grams and pixels stay fp32
        self.param = image.detach().clone().requires_grad_(True)
        if config.optimizer == "lbfgs":
            # max_iter=1: one step() = one closure call = one forward+backward.
            self.optimizer: torch.optim.Optimizer | PixelAdam = torch.optim.LBFGS(
                [self.param], lr=config.step_size, max_iter=1, history_size=LBFGS_HISTORY
            )
        else:  # torch.optim.Adam's rule without its ~2 s first-use import of torch._dynamo (optim/adam.py)
            self.optimizer = PixelAdam(self.param, lr=config.step_size)
        self._last: LossTerms | None = None

    def image(self) -> Tensor:
        """Current pixels in [0, 1], (1, 3, H, W); part of the graph unless detached."""
        return self.param

    def _closure(self) -> float:
        self.optimizer.zero_grad(set_to_none=True)
        image = self.image()
        if self.tiled is not None:
            values, grad = self.tiled.evaluate(image)
            total = values.pop("total")
            image.backward(grad)  # type: ignore[no-untyped-call]
            self._last = LossTerms({name: value.item() for name, value in values.items()}, total.item())
            return self._last.total
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            features = self.extractor(image, self.layers) if self.layers else {}
        features = {name: f.float() for name, f in features.items()}
        values = objective(features, image, self.terms)
        total = values.pop("total")
        total.backward()  # type: ignore[no-untyped-call]
        self._last = LossTerms({name: value.item() for name, value in values.items()}, total.item())
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
        curvature the box has just cut, so they are dropped (measured: README, Performance).
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
