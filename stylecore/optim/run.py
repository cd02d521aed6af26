"""A whole stylization: the loop over the scales, its progress and its result.

:func:`~stylecore.optim.plan.plan_run` fixes everything before the first step (sizes, device,
memory, scales, colours); :class:`StyleRun` iterates the plan, one :class:`Progress` per step
(front ends that stream drive it directly); :func:`stylize` wraps it with a callback. One scale's
objective is :func:`~stylecore.optim.scale.build_objective`, stepped by
:class:`~stylecore.optim.engine.PixelOptimizer`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import FLAT_WINDOW, StyleConfig
from ..errors import ConfigError
from ..imaging.sizing import fit_long_side
from ..model.extractor import VGGExtractor
from ..model.layers import MIN_SIDE, min_side
from ..objective.registry import LossTerm
from .device import resolve_device
from .engine import LossTerms, PixelOptimizer, initial_image, resize
from .plan import RunInputs, plan_run
from .scale import build_objective
from .schedule import is_flat

# resolve_device is re-exported: the CLI, video and Ray choose a run's device where they read its other inputs.
__all__ = ["Progress", "StyleResult", "StyleRun", "resolve_device", "stylize"]

OOM_SHRINK = 0.75  # each CUDA out-of-memory retry shrinks the image by this factor


@dataclass(frozen=True)
class Progress:
    """What a callback sees after each step."""

    iteration: int  # steps completed, 1-based, over all scales
    iterations: int  # steps planned
    losses: LossTerms  # evaluated at the start of this step
    image: Tensor  # (1, 3, H, W) current pixels; shared, so copy it to keep it
    elapsed: float  # seconds since the loop started
    snapshot: bool  # True every ``config.save_every`` steps and at the end
    scale: int = 0  # which coarse-to-fine scale, 0-based
    scales: int = 1  # how many scales the run has
    precision: str = "fp32"  # the VGG pass's precision and why, e.g. "bf16 (CPU has AVX512-BF16)"


#: Return True to stop early (a Stop button, a time budget).
Callback = Callable[[Progress], "bool | None"]


@dataclass(frozen=True)
class StyleResult:
    """What a run made: the image, the loss history, and how and why it ended."""

    image: Tensor  # (1, 3, H, W) in [0, 1], on the CPU
    history: list[LossTerms]
    elapsed: float  # seconds in the optimization loop
    stopped: str | None  # why the run ended early; None if it ran all iterations
    diverged: bool  # the loss became non-finite (``image`` is the last finite one)
    weights_label: str  # provenance of the extractor weights
    trained_weights: bool  # False for random weights: the result is not real style transfer
    notices: list[str]  # things the user should know, e.g. "downscaled to fit GPU memory"
    precision: str = "fp32"  # the VGG pass's precision and why (stylecore.optim.device.choose_precision)


def stylize(
    content: Tensor,
    styles: Tensor | Sequence[Tensor],
    config: StyleConfig | None = None,
    callback: Callback | None = None,
    *,
    extractor: VGGExtractor | None = None,
    regions: Sequence[Tensor | None] | None = None,
    style_regions: Sequence[Tensor | None] | None = None,
    init: Tensor | None = None,
    terms: Sequence[LossTerm] = (),
) -> StyleResult:
    """Optimize an image to have ``content``'s features and ``styles``' Grams.

    Args:
        content: RGB in [0, 1], (3, H, W) or (1, 3, H, W), any size: it is resized so
            its long side is ``config.size`` (unless memory forces it smaller, which
            ``result.notices`` says).
        styles: one or more RGB images in [0, 1], any sizes; ``config.style_blend``
            weighs them and ``config.style_scale`` sizes them relative to the output.
        config: run settings; default :class:`StyleConfig`.
        callback: called after every step with a :class:`Progress`; return True to stop.
        extractor: a preloaded extractor (the app loads one once); it must provide
            ``config.layers``. Default: build one from ``config.weights``.
        regions: one greyscale mask (H, W) in [0, 1] per style, over the content image (any size;
            stretched to it), or None for a style that fills what no mask covers
            (:mod:`stylecore.objective.regions`). Default: every style everywhere, blended.
        style_regions: with ``regions``, one mask per style image (or None) saying where in that
            image its statistics come from. Default: the whole style image.
        init: starting pixels (any size; resized to the content's) instead of ``config.init``.
        terms: more loss terms (:mod:`stylecore.objective.terms`) added to the content, style and tv terms,
            e.g. a video's :class:`~stylecore.objective.terms.TemporalTerm`.

    Returns:
        A :class:`StyleResult`. A non-finite loss ends the run early with the last
        image whose loss was finite and ``stopped`` saying so.
    """
    run = StyleRun(content, styles, config, extractor=extractor, regions=regions, style_regions=style_regions,
                   init=init, terms=terms)  # fmt: skip
    for progress in run:
        if callback is not None and callback(progress):
            run.stop(f"stopped at iteration {progress.iteration} of {progress.iterations}")
            break
    return run.result()


class StyleRun:
    """A stylization in progress: iterate it to take steps, one :class:`Progress` each.

    Targets are computed once per scale, before that scale's first step. ``clock``
    (seconds) measures ``elapsed`` and the time budget; tests pass a fake one.
    """

    def __init__(
        self,
        content: Tensor,
        styles: Tensor | Sequence[Tensor],
        config: StyleConfig | None = None,
        *,
        extractor: VGGExtractor | None = None,
        regions: Sequence[Tensor | None] | None = None,
        style_regions: Sequence[Tensor | None] | None = None,
        init: Tensor | None = None,
        terms: Sequence[LossTerm] = (),
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.config = config or StyleConfig()
        inputs = RunInputs(content, styles, extractor, regions, style_regions, init, terms)
        self.plan = plan_run(inputs, self.config)
        self.config = self.config.with_overrides(tile=self.plan.tile)  # "auto" resolved: what the run does
        self.notices = list(self.plan.notices)
        self.clock = clock
        self.history: list[LossTerms] = []
        self.stopped: str | None = None
        self.diverged = False
        self._shrink = self.plan.shrink
        self._image = self.plan.content  # latest pixels, at the current scale
        self._last_finite = self.plan.content
        self._start: float | None = None

    def __iter__(self) -> Iterator[Progress]:
        self._start = self._start or self.clock()
        end = 0
        for index, (height, width, iterations) in enumerate(self.plan.scales):
            end += iterations
            while len(self.history) < end and not self.stopped:
                try:
                    yield from self._run_scale(index, height, width, end)
                except torch.cuda.OutOfMemoryError:
                    self._recover_from_oom()
            if self.stopped:
                return

    def _run_scale(self, index: int, height: int, width: int, end: int) -> Iterator[Progress]:
        """Steps at one scale until ``end`` steps in all; targets are computed once, here."""
        need = min_side(self.config.layers)  # thin images keep their aspect down to what VGG accepts
        h, w = max(need, round(height * self._shrink)), max(need, round(width * self._shrink))
        plan = self.plan
        content = plan.colors.content(resize(plan.content, h, w))
        style_side = round(self.config.style_scale * max(h, w))
        styles = [resize(s, *fit_long_side(s.shape[-2], s.shape[-1], style_side)) for s in plan.styles]
        objective = build_objective(plan.extractor, content, styles, self.config, plan.regions, plan.style_regions,
                                    plan.extra_terms, bf16=plan.bf16)  # fmt: skip
        # The first scale starts from `init` or config.init; later ones (and OOM retries) from the pixels so far.
        start = resize(self._image, h, w) if self.history else self._initial(content, styles)
        optimizer = PixelOptimizer(start, objective, self.config)
        while len(self.history) < end:
            before = optimizer.image().detach().clone()
            self.history.append(optimizer.step())  # the loss of `before`
            if not math.isfinite(self.history[-1].total):
                self.stop(f"loss became non-finite at iteration {len(self.history)}; kept the last finite image")
                self.diverged = True
                return
            self._last_finite, self._image = before, optimizer.image().detach()
            yield self._progress(index)
            if self.stopped:
                return

    def _initial(self, content: Tensor, styles: list[Tensor]) -> Tensor:
        if self.plan.init is None:
            return initial_image(content, styles, self.config)
        return resize(self.plan.init, *content.shape[-2:]).clone()

    def _progress(self, scale: int) -> Progress:
        """The Progress of the step just taken; also where the time budget is enforced."""
        config, step = self.config, len(self.history)
        if config.time_budget is not None and self.elapsed >= config.time_budget:
            self.stop(f"time budget of {config.time_budget:g} s reached at iteration {step}")
        if config.stop_when_flat is not None and self.stopped is None and is_flat(self.history, config.stop_when_flat):
            self.stop(f"loss flat (fell < {config.stop_when_flat:g} over {FLAT_WINDOW} steps) at iteration {step}")
        periodic = config.save_every > 0 and step % config.save_every == 0
        snapshot = step == config.iterations or self.stopped is not None or periodic
        return Progress(
            iteration=step,
            iterations=config.iterations,
            losses=self.history[-1],
            image=self._present(self._image),
            elapsed=self.elapsed,
            snapshot=snapshot,
            scale=scale,
            scales=len(self.plan.scales),
            precision=self.plan.precision,
        )

    def _recover_from_oom(self) -> None:
        torch.cuda.empty_cache()  # the failed scale's tensors were released when its generator unwound
        self._shrink *= OOM_SHRINK
        height, width, _ = self.plan.scales[-1]
        side = round(max(height, width) * self._shrink)
        if side < MIN_SIDE:
            raise ConfigError(f"CUDA ran out of memory even at {MIN_SIDE} px; free the GPU or use --device cpu")
        self.notices.append(f"CUDA ran out of memory; continuing at {side} px")

    def _present(self, image: Tensor) -> Tensor:
        """What the user sees (with luminance-only transfer, the content's colours come back)."""
        colors = self.plan.colors
        return colors.present(image, resize(self.plan.content, *image.shape[-2:])) if colors.recolours else image

    @property
    def elapsed(self) -> float:
        """Seconds since the first step started."""
        return 0.0 if self._start is None else self.clock() - self._start

    def stop(self, reason: str) -> None:
        """End the run after the current step; ``reason`` goes to the result."""
        self.stopped = reason

    def result(self) -> StyleResult:
        image = self._last_finite if self.diverged else self._image
        weights = self.plan.extractor.weights
        return StyleResult(
            image=self._present(image).detach().cpu().clone(),
            history=list(self.history),
            elapsed=self.elapsed,
            stopped=self.stopped,
            diverged=self.diverged,
            weights_label=weights.label,
            trained_weights=weights.trained,
            notices=list(self.notices),
            precision=self.plan.precision,
        )
