"""Gatys-style optimisation of the generated image's pixels."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import StyleConfig
from .errors import ConfigError
from .extractor import VGGExtractor
from .losses import content_loss, gram_matrix, style_loss, tv_loss

LBFGS_HISTORY = 50  # curvature pairs L-BFGS keeps; the memory estimate counts them


@dataclass(frozen=True)
class LossTerms:
    """Weighted loss terms of one step (``total`` is their sum)."""

    content: float
    style: float
    tv: float
    total: float


@dataclass(frozen=True)
class Progress:
    """What a callback sees after each step."""

    iteration: int  # steps completed, 1-based
    iterations: int  # steps planned
    losses: LossTerms  # evaluated at the start of this step
    image: Tensor  # (1, 3, H, W) current pixels; shared, so copy it to keep it
    elapsed: float  # seconds since the loop started
    snapshot: bool  # True every ``config.save_every`` steps and at the end


#: Return True to stop early (a Stop button, a time budget).
Callback = Callable[[Progress], "bool | None"]
#: Anything called like the torch extractor: ``(image, layers) -> {layer: features}``.
FeatureFn = Callable[[Tensor, Sequence[str]], dict[str, Tensor]]


@dataclass(frozen=True)
class StyleResult:
    image: Tensor  # (1, 3, H, W) in [0, 1], on the CPU
    history: list[LossTerms]
    elapsed: float  # seconds in the optimisation loop
    stopped: str | None  # why the run ended early; None if it ran all iterations
    diverged: bool  # the loss became non-finite (``image`` is the last finite one)
    weights_label: str  # provenance of the extractor weights
    trained_weights: bool  # False for random weights: the result is not real style transfer
    notices: list[str]  # things the user should know, e.g. "downscaled to fit GPU memory"


@dataclass(frozen=True)
class Targets:
    """Fixed targets, computed once before the loop."""

    content: dict[str, Tensor]  # layer -> (1, C, H, W)
    grams: dict[str, Tensor]  # layer -> (1, C, C), blended over style images


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(name)


@torch.no_grad()  # not inference_mode: targets are saved by autograd in the loop
def compute_targets(
    extractor: FeatureFn,
    content: Tensor,
    styles: Sequence[Tensor],
    config: StyleConfig,
    blend: Sequence[float] | None = None,
) -> Targets:
    """Content features and the blended style Gram per layer, on ``content``'s device.

    ``blend`` weighs the style images' Grams (normalised to sum to 1; default equal).
    """
    weights = blend_weights(len(styles), blend)
    device = content.device
    content_feats = {n: f.to(device) for n, f in extractor(content, config.content_layers).items()}
    grams: dict[str, Tensor] = {}
    for style, weight in zip(styles, weights, strict=True):
        if weight == 0:
            continue
        for name, feats in extractor(style, config.style_layers).items():
            grams[name] = grams.get(name, 0) + weight * gram_matrix(feats.to(device))
    return Targets(content=content_feats, grams=grams)


def blend_weights(count: int, blend: Sequence[float] | None) -> list[float]:
    """Per-style weights summing to 1."""
    if blend is None:
        return [1.0 / count] * count
    if len(blend) != count:
        raise ConfigError(f"style_blend has {len(blend)} weights for {count} style images")
    total = sum(blend)
    return [w / total for w in blend]


def objective(features: dict[str, Tensor], image: Tensor, targets: Targets, config: StyleConfig) -> dict[str, Tensor]:
    """Weighted content, style and TV terms and their ``total``."""
    content = torch.stack([content_loss(features[n], t) for n, t in targets.content.items()]).mean()
    grams = {n: gram_matrix(features[n]) for n in targets.grams}
    terms = {
        "content": config.content_weight * content,
        "style": config.style_weight * style_loss(grams, targets.grams),
        "tv": config.tv_weight * tv_loss(image),
    }
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms


def resize(image: Tensor, height: int, width: int) -> Tensor:
    """Antialiased bilinear resize of (B, C, H, W) pixels, kept in [0, 1]; a no-op at the same size."""
    if tuple(image.shape[-2:]) == (height, width):
        return image
    return F.interpolate(image, size=(height, width), mode="bilinear", antialias=True).clamp(0, 1)


def initial_image(content: Tensor, styles: Sequence[Tensor], config: StyleConfig) -> Tensor:
    """The starting pixels: a copy of the content (the design), noise, or the style."""
    if config.init == "noise":
        generator = torch.Generator().manual_seed(config.seed)  # CPU: same noise on any device
        return torch.rand(content.shape, generator=generator).to(content.device)
    if config.init == "style":
        return resize(styles[0], *content.shape[-2:]).clone()
    return content.clone()


class Optimisation:
    """The pixel optimisation of one run; :meth:`step` is one forward+backward+update.

    Adam works on the pixels and clamps them to [0, 1] after each step. Clamping
    after an L-BFGS step corrupts its curvature pairs (the loss oscillated in our
    runs), so L-BFGS works on logits instead: pixels = sigmoid(param).
    """

    def __init__(
        self, image: Tensor, extractor: VGGExtractor, targets: Targets, config: StyleConfig, *, bf16: bool = False
    ) -> None:
        self.extractor, self.targets, self.config = extractor, targets, config
        self.bf16 = bf16  # autocast the VGG pass only; losses, Grams and pixels stay fp32
        self.sigmoid = config.optimizer == "lbfgs"
        if self.sigmoid:
            self.param = torch.logit(image.detach().clamp(1e-3, 1 - 1e-3)).requires_grad_(True)
            # max_iter=1: one step() = one closure call = one forward+backward.
            self.optimizer: torch.optim.Optimizer = torch.optim.LBFGS(
                [self.param], lr=config.step_size, max_iter=1, history_size=LBFGS_HISTORY
            )
        else:
            self.param = image.detach().clone().requires_grad_(True)
            self.optimizer = torch.optim.Adam([self.param], lr=config.step_size)
        self._last: LossTerms | None = None

    def image(self) -> Tensor:
        """Current pixels in [0, 1], (1, 3, H, W); part of the graph unless detached."""
        return torch.sigmoid(self.param) if self.sigmoid else self.param

    def _closure(self) -> Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        image = self.image()
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            features = self.extractor(image, self.config.layers)
        features = {name: f.float() for name, f in features.items()}
        terms = objective(features, image, self.targets, self.config)
        terms["total"].backward()
        self._last = LossTerms(**{k: v.item() for k, v in terms.items()})
        return terms["total"]

    def step(self) -> LossTerms:
        """Evaluate the loss at the current pixels, then update them; returns that loss."""
        self.optimizer.step(self._closure)
        if not self.sigmoid:
            with torch.no_grad():
                self.param.clamp_(0, 1)
        assert self._last is not None
        return self._last
