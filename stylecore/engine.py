"""Gatys-style optimisation of the generated image's pixels."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import StyleConfig
from .errors import ConfigError
from .extractor import VGGExtractor, vgg19_extractor
from .losses import content_loss, gram_matrix, style_loss, tv_loss


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
def compute_targets(extractor: FeatureFn, content: Tensor, styles: Sequence[Tensor], config: StyleConfig) -> Targets:
    """Content features and the mean style Gram per layer, on ``content``'s device."""
    device = content.device
    content_feats = {n: f.to(device) for n, f in extractor(content, config.content_layers).items()}
    grams: dict[str, Tensor] = {}
    for style in styles:
        for name, feats in extractor(style, config.style_layers).items():
            grams[name] = grams.get(name, 0) + gram_matrix(feats.to(device)) / len(styles)
    return Targets(content=content_feats, grams=grams)


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


def initial_image(content: Tensor, styles: Sequence[Tensor], config: StyleConfig) -> Tensor:
    """The starting pixels: a copy of the content (the design), noise, or the style."""
    if config.init == "noise":
        generator = torch.Generator().manual_seed(config.seed)  # CPU: same noise on any device
        return torch.rand(content.shape, generator=generator).to(content.device)
    if config.init == "style":
        return F.interpolate(styles[0], size=content.shape[-2:], mode="bilinear", antialias=True).clamp(0, 1)
    return content.clone()


def stylize(
    content: Tensor,
    styles: Tensor | Sequence[Tensor],
    config: StyleConfig | None = None,
    callback: Callback | None = None,
    *,
    extractor: VGGExtractor | None = None,
    target_extractor: FeatureFn | None = None,
) -> StyleResult:
    """Optimise an image to have ``content``'s features and ``styles``' Grams.

    Args:
        content: RGB in [0, 1], (3, H, W) or (1, 3, H, W); the output has its size.
        styles: one or more RGB images in [0, 1], any sizes; their Grams are averaged.
        config: run settings; default :class:`StyleConfig`.
        callback: called after every step with a :class:`Progress`; return True to stop.
        extractor: a preloaded extractor (the app loads one once); it must provide
            ``config.layers``. Default: build one from ``config.weights``.
        target_extractor: computes the fixed targets instead of ``extractor``, e.g.
            a :class:`stylecore.onnx_extractor.OnnxExtractor` with the same weights.

    Returns:
        A :class:`StyleResult`. A non-finite loss ends the run early with the last
        image whose loss was finite and ``stopped`` saying so.
    """
    run = StyleRun(content, styles, config, extractor=extractor, target_extractor=target_extractor)
    for progress in run:
        if callback is not None and callback(progress):
            run.stop(f"stopped at iteration {progress.iteration} of {progress.iterations}")
            break
    return run.result()


class StyleRun:
    """A stylisation in progress: iterate it to take steps, one :class:`Progress` each.

    Front ends that stream (the app) drive it directly; :func:`stylize` wraps it
    with a callback. Targets are computed once, here, before the first step.
    """

    def __init__(
        self,
        content: Tensor,
        styles: Tensor | Sequence[Tensor],
        config: StyleConfig | None = None,
        *,
        extractor: VGGExtractor | None = None,
        target_extractor: FeatureFn | None = None,
    ) -> None:
        self.config = config = config or StyleConfig()
        device = resolve_device(config.device)
        if extractor is None:
            extractor = vgg19_extractor(layers=config.layers, weights=config.weights)
        self.extractor = extractor.to(device)
        content = _as_batch(content, "content").to(device)
        style_list = [_as_batch(s, "style").to(device) for s in ([styles] if isinstance(styles, Tensor) else styles)]
        if not style_list:
            raise ConfigError("at least one style image is required")
        targets = compute_targets(target_extractor or self.extractor, content, style_list, config)
        image = initial_image(content, style_list, config)
        self.optimisation = Optimisation(image, self.extractor, targets, config)
        self.history: list[LossTerms] = []
        self.stopped: str | None = None
        self.diverged = False
        self._last_finite = image.detach().clone()  # last pixels whose loss was finite
        self._start: float | None = None

    def __iter__(self) -> Iterator[Progress]:
        config, run = self.config, self.optimisation
        self._start = self._start or time.perf_counter()
        for step in range(len(self.history) + 1, config.iterations + 1):
            before = run.image().detach().clone()
            self.history.append(run.step())  # the loss of `before`
            if not math.isfinite(self.history[-1].total):
                self.stop(f"loss became non-finite at iteration {step}; kept the last finite image")
                self.diverged = True
                return
            self._last_finite = before
            snapshot = step == config.iterations or (config.save_every > 0 and step % config.save_every == 0)
            yield Progress(step, config.iterations, self.history[-1], run.image().detach(), self.elapsed, snapshot)
            if self.stopped:
                return

    @property
    def elapsed(self) -> float:
        """Seconds since the first step started."""
        return 0.0 if self._start is None else time.perf_counter() - self._start

    def stop(self, reason: str) -> None:
        """End the run after the current step; ``reason`` goes to the result."""
        self.stopped = reason

    def result(self) -> StyleResult:
        image = self._last_finite if self.diverged else self.optimisation.image()
        return StyleResult(
            image=image.detach().cpu().clone(),
            history=list(self.history),
            elapsed=self.elapsed,
            stopped=self.stopped,
            diverged=self.diverged,
            weights_label=self.extractor.weights.label,
            trained_weights=self.extractor.weights.trained,
        )


def _as_batch(image: Tensor, what: str) -> Tensor:
    """(3, H, W) or (1, 3, H, W) float in [0, 1] -> (1, 3, H, W)."""
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[:2] != (1, 3) or not image.is_floating_point():
        raise ConfigError(f"{what} must be a float RGB tensor (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}")
    return image.detach().float()


class Optimisation:
    """The pixel optimisation of one run; :meth:`step` is one forward+backward+update.

    Adam works on the pixels and clamps them to [0, 1] after each step. Clamping
    after an L-BFGS step corrupts its curvature pairs (the loss oscillated in our
    runs), so L-BFGS works on logits instead: pixels = sigmoid(param).
    """

    def __init__(self, image: Tensor, extractor: VGGExtractor, targets: Targets, config: StyleConfig) -> None:
        self.extractor, self.targets, self.config = extractor, targets, config
        self.sigmoid = config.optimizer == "lbfgs"
        if self.sigmoid:
            self.param = torch.logit(image.detach().clamp(1e-3, 1 - 1e-3)).requires_grad_(True)
            # max_iter=1: one step() = one closure call = one forward+backward.
            self.optimizer: torch.optim.Optimizer = torch.optim.LBFGS(
                [self.param], lr=config.step_size, max_iter=1, history_size=50
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
        terms = objective(self.extractor(image, self.config.layers), image, self.targets, self.config)
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
