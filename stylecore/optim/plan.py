"""Everything fixed before a run's first step: its inputs checked, sized and placed, as a frozen :class:`RunPlan`.

Device: :mod:`~stylecore.optim.device`; memory: :mod:`~stylecore.optim.memory`; scales:
:mod:`~stylecore.optim.schedule`; colours: :class:`~stylecore.imaging.color.ColorPolicy`.
The loop that iterates a plan is :mod:`stylecore.optim.run`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..config import StyleConfig
from ..errors import ConfigError
from ..imaging.color import ColorPolicy
from ..model.extractor import VGGExtractor
from ..objective.regions import check_mask
from ..objective.registry import LossTerm
from ..objective.style import STATISTICS
from ..objective.terms import default_terms
from .device import choose_precision, extractor_on, run_device
from .engine import check_term_names, resize, to_long_side
from .memory import check_sizes, fit_gpu_memory, resolve_tile, tile_budget
from .schedule import Scale, scale_plan
from .tiling import tile_px


@dataclass(frozen=True)
class RunInputs:
    """What a run starts from besides its config: the parameters ``stylize`` and ``StyleRun`` take."""

    content: Tensor
    styles: Tensor | Sequence[Tensor]
    extractor: VGGExtractor | None = None
    regions: Sequence[Tensor | None] | None = None
    style_regions: Sequence[Tensor | None] | None = None
    init: Tensor | None = None
    terms: Sequence[LossTerm] = ()


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    """Everything fixed before the first step."""

    content: Tensor  # (1, 3, H, W) at the output size, original colours, on ``device``
    styles: tuple[Tensor, ...]  # full-size style images, colours prepared, on ``device``
    colors: ColorPolicy  # config.preserve_colors, applied where the run meets colours
    scales: tuple[Scale, ...]  # (height, width, iterations) per scale, coarse to fine
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


def plan_run(inputs: RunInputs, config: StyleConfig) -> RunPlan:
    """Size the content to ``config.size``, prepare colours, pick the device and scales, check memory."""
    device = run_device(config.device, inputs.extractor)
    extractor = extractor_on(inputs.extractor, config, device)
    photo = to_long_side(_as_batch(inputs.content, "content").to(device), config.size)
    styles = inputs.styles
    style_list = [_as_batch(s, "style").to(device) for s in ([styles] if isinstance(styles, Tensor) else styles)]
    if not style_list:
        raise ConfigError("at least one style image is required")
    check_term_names([*default_terms(config), *inputs.terms])  # before any work, not at the first scale
    height, width = photo.shape[-2:]
    scales = tuple(scale_plan(height, width, config))
    config = resolve_tile(*scales[-1][:2], config, tile_budget(device))
    check_sizes(scales, style_list, config, device, tiled_targets=not STATISTICS[config.style_loss].gathered)
    shrink, notices = fit_gpu_memory(scales[-1], config, device)
    precision = choose_precision(device, config.precision)
    masks = _check_regions(inputs.regions, len(style_list), device)
    if inputs.style_regions is not None and masks is None:
        raise ConfigError("style regions need content regions too (regions=...)")
    colors = ColorPolicy(config.preserve_colors)
    return RunPlan(
        content=photo,
        styles=tuple(colors.styles(style_list, photo)),
        colors=colors,
        scales=scales,
        extractor=extractor,
        device=device,
        bf16=precision.bf16,
        precision=precision.label,
        shrink=shrink,
        notices=tuple(notices),
        regions=masks,
        style_regions=_check_regions(inputs.style_regions, len(style_list), device, "style region") or (),
        init=None if inputs.init is None else resize(_as_batch(inputs.init, "init").to(device), height, width),
        extra_terms=tuple(inputs.terms),
        tile=tile_px(config),
    )


def _check_regions(
    regions: Sequence[Tensor | None] | None, count: int, device: torch.device, what: str = "region"
) -> tuple[Tensor | None, ...] | None:
    if regions is None:
        return None
    if len(regions) != count:
        raise ConfigError(f"{len(regions)} {what}s for {count} style images; give one mask per style (or none)")
    return tuple(None if m is None else check_mask(m, f"{what} {i + 1}").to(device) for i, m in enumerate(regions))


def _as_batch(image: Tensor, what: str) -> Tensor:
    """(3, H, W) or (1, 3, H, W) float in [0, 1] -> (1, 3, H, W)."""
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.dim() != 4 or image.shape[:2] != (1, 3) or not image.is_floating_point():
        raise ConfigError(f"{what} must be a float RGB tensor (3, H, W) or (1, 3, H, W), got {tuple(image.shape)}")
    return image.detach().float()
