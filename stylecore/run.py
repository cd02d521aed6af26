"""A whole stylisation: preparation, coarse-to-fine scales, limits, and :func:`stylize`.

:class:`StyleRun` is an iterator of :class:`Progress` (front ends that stream
drive it directly); :func:`stylize` wraps it with a callback.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from .color import luminance_images, match_color, with_content_chroma
from .config import StyleConfig
from .engine import (
    Callback,
    FeatureFn,
    LossTerms,
    Optimisation,
    Progress,
    StyleResult,
    compute_targets,
    initial_image,
    resize,
    resolve_device,
)
from .errors import ConfigError
from .extractor import VGGExtractor, vgg19_extractor
from .memory import estimate_peak_bytes, largest_fitting_side

OOM_SHRINK = 0.75  # each CUDA out-of-memory retry shrinks the image by this factor
MIN_SIDE = 32


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
        content: RGB in [0, 1], (3, H, W) or (1, 3, H, W); the output has its size
            (unless memory forces it smaller, which ``result.notices`` says).
        styles: one or more RGB images in [0, 1], any sizes; ``config.style_blend``
            weighs them and ``config.style_scale`` sizes them relative to the output.
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


def auto_scales(long_side: int) -> int:
    """1 scale up to 255 px, one more per doubling, at most 4 (1024 px and up)."""
    return max(1, min(4, int(math.log2(max(long_side, 128) / 128)) + 1))


def scale_plan(height: int, width: int, config: StyleConfig) -> list[tuple[int, int, int]]:
    """(height, width, iterations) per scale, coarse to fine, each scale twice the last.

    Iterations are split evenly (the final scale takes the remainder): coarse
    steps are 4x cheaper per halving, so early scales cost little.
    """
    count = config.scales or auto_scales(max(height, width))
    while count > 1 and min(height, width) / 2 ** (count - 1) < MIN_SIDE:
        count -= 1
    count = min(count, config.iterations)
    per_scale = config.iterations // count
    plan = []
    for index in range(count):
        factor = 2.0 ** (index - count + 1)
        iterations = per_scale if index < count - 1 else config.iterations - per_scale * (count - 1)
        plan.append((max(1, round(height * factor)), max(1, round(width * factor)), iterations))
    return plan


def scale_style(style: Tensor, long_side: int) -> Tensor:
    """Resize so the long side is ``long_side``, keeping the aspect ratio."""
    h, w = style.shape[-2:]
    factor = long_side / max(h, w)
    return resize(style, max(1, round(h * factor)), max(1, round(w * factor)))


class StyleRun:
    """A stylisation in progress: iterate it to take steps, one :class:`Progress` each.

    Targets are computed once per scale, before that scale's first step.
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
        self.device = resolve_device(config.device)
        if extractor is None:
            extractor = vgg19_extractor(layers=config.layers, weights=config.weights)
        self.extractor = extractor.to(self.device)
        self.target_extractor = target_extractor or self.extractor
        self.content = _as_batch(content, "content").to(self.device)  # original colours, full size
        style_list = [_as_batch(s, "style").to(self.device) for s in _as_list(styles)]
        if not style_list:
            raise ConfigError("at least one style image is required")
        self.styles = self._prepare_styles(style_list)
        self.plan = scale_plan(*self.content.shape[-2:], config)
        self.notices: list[str] = []
        self._shrink = 1.0
        self._fit_gpu_memory()
        self.bf16 = config.precision == "bf16" or (
            config.precision == "auto" and self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        )
        self.history: list[LossTerms] = []
        self.stopped: str | None = None
        self.diverged = False
        self._image = self.content  # latest pixels, at the current scale
        self._last_finite = self.content
        self._start: float | None = None

    def _prepare_styles(self, styles: list[Tensor]) -> list[Tensor]:
        if self.config.preserve_colors == "match":
            return [match_color(s, self.content).clamp(0, 1) for s in styles]
        if self.config.preserve_colors == "luminance":
            return [luminance_images(self.content, s)[1] for s in styles]
        return styles

    def _run_content(self, height: int, width: int) -> Tensor:
        content = resize(self.content, height, width)
        if self.config.preserve_colors == "luminance":
            return luminance_images(content, content)[0]
        return content

    def _fit_gpu_memory(self) -> None:
        """On CUDA, downscale before starting when the estimate exceeds free memory."""
        if self.device.type != "cuda":
            return
        height, width, _ = self.plan[-1]
        free = int(torch.cuda.mem_get_info(self.device)[0] * 0.9)
        if estimate_peak_bytes(height, width, self.config) <= free:
            return
        side = largest_fitting_side(height, width, self.config, free)
        if side <= MIN_SIDE:
            raise ConfigError(
                f"not enough GPU memory ({free / 2**30:.1f} GiB free) even at {MIN_SIDE} px; free the GPU"
            )
        self._shrink = side / max(height, width)
        self.notices.append(
            f"downscaled from {max(height, width)} to {side} px to fit {free / 2**30:.1f} GiB of GPU memory"
        )

    def __iter__(self) -> Iterator[Progress]:
        self._start = self._start or time.perf_counter()
        end = 0
        for height, width, iterations in self.plan:
            end += iterations
            while len(self.history) < end and not self.stopped:
                try:
                    yield from self._run_scale(height, width, end)
                except torch.cuda.OutOfMemoryError:
                    self._recover_from_oom()
            if self.stopped:
                return

    def _run_scale(self, height: int, width: int, end: int) -> Iterator[Progress]:
        """Steps at one scale until ``end`` steps in all; targets are computed once, here."""
        h, w = max(MIN_SIDE, round(height * self._shrink)), max(MIN_SIDE, round(width * self._shrink))
        content = self._run_content(h, w)
        styles = [scale_style(s, round(self.config.style_scale * max(h, w))) for s in self.styles]
        targets = compute_targets(self.target_extractor, content, styles, self.config, self.config.style_blend)
        # The first scale starts from config.init; later ones (and OOM retries) from the pixels so far.
        start = resize(self._image, h, w) if self.history else initial_image(content, styles, self.config)
        run = Optimisation(start, self.extractor, targets, self.config, bf16=self.bf16)
        while len(self.history) < end:
            before = run.image().detach().clone()
            self.history.append(run.step())  # the loss of `before`
            if not math.isfinite(self.history[-1].total):
                self.stop(f"loss became non-finite at iteration {len(self.history)}; kept the last finite image")
                self.diverged = True
                return
            self._last_finite, self._image = before, run.image().detach()
            yield self._progress()
            if self.stopped:
                return

    def _progress(self) -> Progress:
        """The Progress of the step just taken; also where the time budget is enforced."""
        config, step = self.config, len(self.history)
        if config.time_budget is not None and self.elapsed >= config.time_budget:
            self.stop(f"time budget of {config.time_budget:g} s reached at iteration {step}")
        periodic = config.save_every > 0 and step % config.save_every == 0
        snapshot = step == config.iterations or self.stopped is not None or periodic
        return Progress(step, config.iterations, self.history[-1], self._present(self._image), self.elapsed, snapshot)

    def _recover_from_oom(self) -> None:
        torch.cuda.empty_cache()  # the failed scale's tensors were released when its generator unwound
        self._shrink *= OOM_SHRINK
        height, width, _ = self.plan[-1]
        side = round(max(height, width) * self._shrink)
        if side < MIN_SIDE:
            raise ConfigError(f"CUDA ran out of memory even at {MIN_SIDE} px; free the GPU or use --device cpu")
        self.notices.append(f"CUDA ran out of memory; continuing at {side} px")

    def _present(self, image: Tensor) -> Tensor:
        """What the user sees: with luminance-only transfer, the content's colours come back."""
        if self.config.preserve_colors != "luminance":
            return image
        return with_content_chroma(image, resize(self.content, *image.shape[-2:]))

    @property
    def elapsed(self) -> float:
        """Seconds since the first step started."""
        return 0.0 if self._start is None else time.perf_counter() - self._start

    def stop(self, reason: str) -> None:
        """End the run after the current step; ``reason`` goes to the result."""
        self.stopped = reason

    def result(self) -> StyleResult:
        image = self._last_finite if self.diverged else self._image
        return StyleResult(
            image=self._present(image).detach().cpu().clone(),
            history=list(self.history),
            elapsed=self.elapsed,
            stopped=self.stopped,
            diverged=self.diverged,
            weights_label=self.extractor.weights.label,
            trained_weights=self.extractor.weights.trained,
            notices=list(self.notices),
        )


def _as_list(styles: Tensor | Sequence[Tensor]) -> Sequence[Tensor]:
    return [styles] if isinstance(styles, Tensor) else styles


def _as_batch(image: Tensor, what: str) -> Tensor:
    """(3, H, W) or (1, 3, H, W) float in [0, 1] -> (1, 3, H, W)."""
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[:2] != (1, 3) or not image.is_floating_point():
        raise ConfigError(f"{what} must be a float RGB tensor (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}")
    return image.detach().float()
