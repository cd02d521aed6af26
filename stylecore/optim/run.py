"""A whole stylization: the plan (sizes, scales, colours, memory), the loop, the result.

:func:`plan_run` prepares everything that is fixed before the first step and
returns a frozen :class:`RunPlan`; :class:`StyleRun` iterates it, one
:class:`Progress` per step (front ends that stream drive it directly);
:func:`stylize` wraps it with a callback. One scale's optimization is
:mod:`stylecore.optim.engine`.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..config import FLAT_WINDOW, StyleConfig
from ..errors import ConfigError
from ..imaging.color import luminance_images, match_color, with_content_chroma
from ..imaging.sizing import fit_long_side
from ..model.extractor import VGGExtractor, vgg19_extractor
from ..model.layers import MIN_SIDE, min_side
from ..objective.regions import check_mask
from ..objective.style import STATISTICS
from ..objective.terms import LossTerm, default_terms
from .device import choose_precision
from .engine import LossTerms, PixelOptimizer, build_terms, check_term_names, initial_image, resize, to_long_side
from .memory import check_image_size, estimate_peak_bytes, largest_fitting_side, memory_budget, resolve_tile
from .tiling import TiledObjective, build_tiled_terms, tile_px, uses_tiles

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
    image: Tensor  # (1, 3, H, W) in [0, 1], on the CPU
    history: list[LossTerms]
    elapsed: float  # seconds in the optimization loop
    stopped: str | None  # why the run ended early; None if it ran all iterations
    diverged: bool  # the loss became non-finite (``image`` is the last finite one)
    weights_label: str  # provenance of the extractor weights
    trained_weights: bool  # False for random weights: the result is not real style transfer
    notices: list[str]  # things the user should know, e.g. "downscaled to fit GPU memory"
    precision: str = "fp32"  # the VGG pass's precision and why (stylecore.optim.device.choose_precision)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(name)


@dataclass(frozen=True)
class RunPlan:
    """Everything fixed before the first step."""

    content: Tensor  # (1, 3, H, W) at the output size, original colours, on ``device``
    styles: tuple[Tensor, ...]  # full-size style images, colours prepared, on ``device``
    scales: tuple[tuple[int, int, int], ...]  # (height, width, iterations) per scale, coarse to fine
    extractor: VGGExtractor  # on ``device``; a copy if the caller's was elsewhere
    device: torch.device
    bf16: bool
    shrink: float = 1.0  # below 1 when memory forces a smaller image than asked for
    notices: tuple[str, ...] = field(default=())
    regions: tuple[Tensor | None, ...] | None = None  # one content mask per style (see stylecore.objective.regions)
    style_regions: tuple[Tensor | None, ...] = ()  # where in each style image its statistics come from
    init: Tensor | None = None  # starting pixels instead of ``config.init`` (a video's warped last frame)
    extra_terms: tuple[LossTerm, ...] = ()  # added to config's content, style and tv terms
    precision: str = "fp32"  # label of the precision choice, for progress, result and metadata
    tile: int = 0  # config.tile, with "auto" resolved for this output size and device's memory


def plan_run(
    content: Tensor,
    styles: Tensor | Sequence[Tensor],
    config: StyleConfig,
    extractor: VGGExtractor | None = None,
    regions: Sequence[Tensor | None] | None = None,
    style_regions: Sequence[Tensor | None] | None = None,
    init: Tensor | None = None,
    terms: Sequence[LossTerm] = (),
) -> RunPlan:
    """Size the content to ``config.size``, prepare colours, pick the device and scales, check memory."""
    device = _device_for(config, extractor)
    extractor = _extractor_on(extractor, config, device)
    photo = to_long_side(_as_batch(content, "content").to(device), config.size)
    style_list = [_as_batch(s, "style").to(device) for s in ([styles] if isinstance(styles, Tensor) else styles)]
    if not style_list:
        raise ConfigError("at least one style image is required")
    check_term_names([*default_terms(config), *terms])  # before any work, not at the first scale
    height, width = photo.shape[-2:]
    scales = tuple(scale_plan(height, width, config))
    config = resolve_tile(*scales[-1][:2], config, _tile_budget(device))
    # A tiled scale sums its style targets tile by tile unless the statistic gathers every position.
    _check_sizes(scales, style_list, config, device, tiled_targets=not STATISTICS[config.style_loss].gathered)
    shrink, notices = _fit_gpu_memory(scales[-1], config, device)
    precision = choose_precision(device, config.precision)
    masks = _check_regions(regions, len(style_list), device)
    if style_regions is not None and masks is None:
        raise ConfigError("style regions need content regions too (regions=...)")
    style_masks = _check_regions(style_regions, len(style_list), device, "style region") or ()
    start = None if init is None else resize(_as_batch(init, "init").to(device), height, width)
    return RunPlan(photo, tuple(_prepare_styles(style_list, photo, config)), scales, extractor, device, precision.bf16,
                   shrink, tuple(notices), masks, style_masks, start, tuple(terms), precision.label,
                   tile_px(config))  # fmt: skip


def _tile_budget(device: torch.device) -> int:
    """What ``tile="auto"`` must fit: 90% of free GPU memory on CUDA (as the downscale), else the host's budget."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0] * 0.9)
    return memory_budget(device.type)


def _check_sizes(
    scales: Sequence[tuple[int, int, int]],
    styles: Sequence[Tensor],
    config: StyleConfig,
    device: torch.device,
    *,
    tiled_targets: bool,
) -> None:
    """Every image the run will build (each scale, each style at ``style_scale``) fits, before any is made.

    ``tiled_targets``: a tiled scale computes its style targets tile by tile (every statistic that sums over
    positions; :func:`stylecore.optim.tiling.build_tiled_terms`), so only a tile's activations count.
    """
    budget = memory_budget(device.type)
    for height, width, _ in scales:
        # On CUDA the output is shrunk to fit instead (_fit_gpu_memory); only the pixel limit holds there.
        check_image_size(height, width, "the output", None if device.type == "cuda" else config, budget=budget)
        side = round(config.style_scale * max(height, width))
        for number, style in enumerate(styles, start=1):
            what = f"style image {number} at style_scale {config.style_scale:g}"
            sized = fit_long_side(style.shape[-2], style.shape[-1], side)
            tile = tile_px(config) if tiled_targets and uses_tiles(height, width, config) else 0
            check_image_size(*sized, what, config, forward_only=True, budget=budget, tile=tile)
            if min(sized) < (need := min_side(config.layers)):
                raise ConfigError(
                    f"{what} would be {sized[1]}x{sized[0]} px, and the style layers need {need} px on each side; "
                    "use a style image that is less thin, or a larger --style-scale"
                )


def _check_regions(
    regions: Sequence[Tensor | None] | None, count: int, device: torch.device, what: str = "region"
) -> tuple[Tensor | None, ...] | None:
    if regions is None:
        return None
    if len(regions) != count:
        raise ConfigError(f"{len(regions)} {what}s for {count} style images; give one mask per style (or none)")
    return tuple(None if m is None else check_mask(m, f"{what} {i + 1}").to(device) for i, m in enumerate(regions))


def _device_for(config: StyleConfig, extractor: VGGExtractor | None) -> torch.device:
    """``auto`` with a given extractor follows it; otherwise :func:`resolve_device`."""
    if config.device == "auto" and extractor is not None:
        return extractor.mean.device
    return resolve_device(config.device)


def _extractor_on(extractor: VGGExtractor | None, config: StyleConfig, device: torch.device) -> VGGExtractor:
    if extractor is None:
        return vgg19_extractor(layers=config.layers, weights=config.weights, device=device)
    if extractor.mean.device != device:  # never move the caller's model under its feet
        return copy.deepcopy(extractor).to(device)
    return extractor


def _prepare_styles(styles: list[Tensor], content: Tensor, config: StyleConfig) -> list[Tensor]:
    if config.preserve_colors == "match":
        return [match_color(s, content).clamp(0, 1) for s in styles]
    if config.preserve_colors == "luminance":
        return [luminance_images(content, s)[1] for s in styles]
    return styles


def _fit_gpu_memory(final: tuple[int, int, int], config: StyleConfig, device: torch.device) -> tuple[float, list[str]]:
    """On CUDA, downscale before starting when the estimate exceeds free memory."""
    height, width, _ = final
    if device.type != "cuda":
        return 1.0, []
    free = int(torch.cuda.mem_get_info(device)[0] * 0.9)
    if estimate_peak_bytes(height, width, config) <= free:
        return 1.0, []
    side = largest_fitting_side(height, width, config, free)
    if side <= MIN_SIDE:
        raise ConfigError(f"not enough GPU memory ({free / 2**30:.1f} GiB free) even at {MIN_SIDE} px; free the GPU")
    note = f"downscaled from {max(height, width)} to {side} px to fit {free / 2**30:.1f} GiB of GPU memory"
    if not config.tile:
        note += "; --tile 512 keeps the full size (see Print size in the README)"
    return side / max(height, width), [note]


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
    run = StyleRun(
        content,
        styles,
        config,
        extractor=extractor,
        regions=regions,
        style_regions=style_regions,
        init=init,
        terms=terms,
    )
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
        self.plan = plan_run(content, styles, self.config, extractor, regions, style_regions, init, terms)
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
        content = self._run_content(h, w)
        style_side = round(self.config.style_scale * max(h, w))
        styles = [resize(s, *fit_long_side(s.shape[-2], s.shape[-1], style_side)) for s in self.plan.styles]
        plan = self.plan
        tiled = uses_tiles(h, w, self.config)  # coarse scales smaller than a tile run whole
        terms = (build_tiled_terms if tiled else build_terms)(
            plan.extractor, content, styles, self.config, plan.regions, plan.style_regions, plan.extra_terms
        )
        # The first scale starts from `init` or config.init; later ones (and OOM retries) from the pixels so far.
        start = resize(self._image, h, w) if self.history else self._initial(content, styles)
        objective = TiledObjective(plan.extractor, terms, content, plan.tile, bf16=plan.bf16) if tiled else None
        optimizer = PixelOptimizer(start, plan.extractor, terms, self.config, bf16=plan.bf16, tiled=objective)
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

    def _run_content(self, height: int, width: int) -> Tensor:
        content = resize(self.plan.content, height, width)
        if self.config.preserve_colors == "luminance":
            return luminance_images(content, content)[0]
        return content

    def _progress(self, scale: int) -> Progress:
        """The Progress of the step just taken; also where the time budget is enforced."""
        config, step = self.config, len(self.history)
        if config.time_budget is not None and self.elapsed >= config.time_budget:
            self.stop(f"time budget of {config.time_budget:g} s reached at iteration {step}")
        if config.stop_when_flat is not None and self.stopped is None and _flat(self.history, config.stop_when_flat):
            self.stop(f"loss flat (fell < {config.stop_when_flat:g} over {FLAT_WINDOW} steps) at iteration {step}")
        periodic = config.save_every > 0 and step % config.save_every == 0
        snapshot = step == config.iterations or self.stopped is not None or periodic
        image = self._present(self._image)
        return Progress(step, config.iterations, self.history[-1], image, self.elapsed, snapshot,
                        scale, len(self.plan.scales), self.plan.precision)  # fmt: skip

    def _recover_from_oom(self) -> None:
        torch.cuda.empty_cache()  # the failed scale's tensors were released when its generator unwound
        self._shrink *= OOM_SHRINK
        height, width, _ = self.plan.scales[-1]
        side = round(max(height, width) * self._shrink)
        if side < MIN_SIDE:
            raise ConfigError(f"CUDA ran out of memory even at {MIN_SIDE} px; free the GPU or use --device cpu")
        self.notices.append(f"CUDA ran out of memory; continuing at {side} px")

    def _present(self, image: Tensor) -> Tensor:
        """What the user sees: with luminance-only transfer, the content's colours come back."""
        if self.config.preserve_colors != "luminance":
            return image
        return with_content_chroma(image, resize(self.plan.content, *image.shape[-2:]))

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


def _flat(history: Sequence[LossTerms], threshold: float) -> bool:
    """The loss fell by less than ``threshold`` (relative) over the last FLAT_WINDOW steps."""
    if len(history) <= FLAT_WINDOW:
        return False
    before, now = history[-1 - FLAT_WINDOW].total, history[-1].total
    return before - now < threshold * abs(before)


def _as_batch(image: Tensor, what: str) -> Tensor:
    """(3, H, W) or (1, 3, H, W) float in [0, 1] -> (1, 3, H, W)."""
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[:2] != (1, 3) or not image.is_floating_point():
        raise ConfigError(f"{what} must be a float RGB tensor (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}")
    return image.detach().float()
