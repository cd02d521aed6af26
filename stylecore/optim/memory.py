"""Memory planning: a run's peak-memory estimate, and the checks and choices made from it before anything
is allocated (every image fits the budget, CUDA downscales to fit, ``tile="auto"`` picks a tile).

The model counts the activations the VGG trunk keeps for backward (elements per
input pixel, from the layer table) and scales them by a factor calibrated on
measured peak RSS (``tests/benchmarks/memory_probe.py``; see docs/performance.md).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import Tensor

from ..config import LBFGS_HISTORY, TILE_AUTO, StyleConfig
from ..errors import ConfigError
from ..imaging.sizing import fit_long_side
from ..model.layers import MIN_SIDE, VGG19_LAYERS, min_side, trunk_shapes
from ..objective.style import STATISTICS
from .tiling import CONTENT_CACHE_BYTES, halo_for, layer_stride, tile_px, uses_tiles

#: The share of memory a run is planned into (the rest: the allocator's slack, other processes).
HEADROOM = 0.9

#: Measured bytes per counted activation element, CPU, fp32 (autograd saves conv
#: inputs and outputs, oneDNN keeps reordered copies): 4 bytes x 1.74.
ACTIVATION_FACTOR = 1.74 * 4
#: Allocator arenas, oneDNN primitive caches and autograd bookkeeping (measured ~220 MiB).
FIXED_OVERHEAD = 220 * 2**20


def activation_elements(height: int, width: int, deepest: str) -> int:
    """Elements of every module output up to ``deepest`` (what backward keeps alive)."""
    return sum(c_out * h * w for _, _, c_out, h, w in trunk_shapes(height, width, deepest))


def weight_bytes(deepest: str) -> int:
    """fp32 conv weights and biases up to ``deepest``."""
    return sum(
        4 * (c_in * c_out * 9 + c_out) for kind, c_in, c_out, _, _ in trunk_shapes(1, 1, deepest) if kind == "conv"
    )


def estimate_peak_bytes(height: int, width: int, config: StyleConfig) -> int:
    """Extra memory a run of ``config`` at ``height`` x ``width`` needs beyond the runtime itself.

    Weights, activations kept for backward, optimiser state and a fixed overhead.
    Calibrated on the CPU; on CUDA it is an upper-bound-leaning guess (bf16 halves activations).
    """
    deepest = max(config.layers, key=VGG19_LAYERS.__getitem__)
    image_bytes = 3 * height * width * 4  # one fp32 copy of the pixels
    state = image_bytes * (2 if config.optimizer == "adam" else 2 * LBFGS_HISTORY + 2)
    if uses_tiles(height, width, config):  # backward keeps one tile's activations, not the image's
        crop = tile_px(config) + 2 * halo_for(config.layers)
        activations = int(activation_elements(min(height, crop), min(width, crop), deepest) * ACTIVATION_FACTOR)
        return weight_bytes(deepest) + activations + state + tiled_image_bytes(height, width, config) + FIXED_OVERHEAD
    activations = int(activation_elements(height, width, deepest) * ACTIVATION_FACTOR)
    return weight_bytes(deepest) + activations + state + FIXED_OVERHEAD


def layer_bytes(height: int, width: int, layers: tuple[str, ...]) -> int:
    """fp32 features of the whole image at ``layers``."""
    return sum(
        4 * list(trunk_shapes(1, 1, name))[-1][2] * (height // layer_stride(name)) * (width // layer_stride(name))
        for name in layers
    )


def tiled_image_bytes(height: int, width: int, config: StyleConfig) -> int:
    """What a tiled step keeps at the whole image's size: the pixel gradient, the content image and its
    copies, the content targets when they are cached, and (sliced) the gathered features and their gradient."""
    image_bytes = 3 * height * width * 4
    content = layer_bytes(height, width, config.content_layers)
    cached = content if content <= CONTENT_CACHE_BYTES else 0
    gathering = bool(STATISTICS[config.style_loss].gathered)
    gathered = 2 * layer_bytes(height, width, config.style_layers) if gathering else 0
    return 4 * image_bytes + cached + gathered


def largest_fitting_side(height: int, width: int, config: StyleConfig, budget_bytes: int) -> int:
    """The largest long side (multiple of 16, at most the current one) whose estimate fits."""
    long_side = max(height, width)
    side = long_side
    while side > MIN_SIDE:
        scale = side / long_side
        if estimate_peak_bytes(round(height * scale), round(width * scale), config) <= budget_bytes:
            return side
        side -= 16
    return MIN_SIDE


def resolve_tile(height: int, width: int, config: StyleConfig, budget_bytes: int) -> StyleConfig:
    """``config`` with ``tile="auto"`` made a number for a ``height`` x ``width`` output.

    0 (untiled, the fastest) when the untiled estimate fits ``budget_bytes``; else the largest tile,
    a multiple of 16 below the long side, whose tiled estimate fits, since bigger tiles recompute less
    halo (docs/cli.md, Print size). When none fits, 32: the size check then says what to lower.
    """
    if config.tile != TILE_AUTO:
        return config
    whole = config.with_overrides(tile=0)
    if estimate_peak_bytes(height, width, whole) <= budget_bytes:
        return whole
    for tile in range((max(height, width) - 1) // 16 * 16, 31, -16):
        tiled = config.with_overrides(tile=tile)
        if estimate_peak_bytes(height, width, tiled) <= budget_bytes:
            return tiled
    return config.with_overrides(tile=32)


#: The most pixels any image a run builds may have (about 8000 x 8000), whatever the memory.
MAX_PIXELS = 64_000_000


def memory_budget(device: str = "cpu") -> int:
    """Bytes a run may use: :data:`HEADROOM` of the GPU's memory on CUDA, else of the host's RAM."""
    if device == "cuda":
        return int(torch.cuda.get_device_properties(0).total_memory * HEADROOM)
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        total = 8 * 2**30
    return int(total * HEADROOM)


def free_gpu_budget(device: torch.device) -> int:
    """:data:`HEADROOM` of the CUDA device's free memory."""
    return int(torch.cuda.mem_get_info(device)[0] * HEADROOM)


def tile_budget(device: torch.device) -> int:
    """What ``tile="auto"`` must fit: free GPU memory on CUDA (as the downscale), else the host's budget."""
    return free_gpu_budget(device) if device.type == "cuda" else memory_budget(device.type)


def check_image_size(
    height: int, width: int, what: str, config: StyleConfig | None = None, *, forward_only: bool = False,
    budget: int | None = None, tile: int = 0,
) -> None:  # fmt: skip
    """Refuse, before anything is decoded or allocated, an image over :data:`MAX_PIXELS` or the memory budget.

    Args:
        height, width: the size the image would have.
        what: how the message names it, e.g. "style image 1 at style_scale 100".
        config: with it, the run's estimated peak memory must also fit ``budget``.
        forward_only: the image only goes through VGG once, without backward (a style image).
        tile: with ``forward_only``, the image goes through VGG in tiles of this size (0: whole), as a
            tiled run's Gram and mean/covariance style targets do.
        budget: bytes allowed (default :func:`memory_budget` of the host).

    Raises:
        ConfigError: one sentence saying the size, the limit and what to lower.
    """
    if height * width > MAX_PIXELS:
        raise ConfigError(
            f"{what} would be {width}x{height} px, over the {MAX_PIXELS:,}-pixel limit; "
            "lower --size or --style-scale, or use a smaller file"
        )
    if config is None:
        return
    budget = memory_budget() if budget is None else budget
    if forward_only:
        deepest = max(config.layers, key=VGG19_LAYERS.__getitem__)
        crop = tile + 2 * halo_for(config.layers) if tile else max(height, width)
        activations = 4 * activation_elements(min(height, crop), min(width, crop), deepest)
        need = weight_bytes(deepest) + activations + 2 * 3 * height * width * 4 + FIXED_OVERHEAD  # + image, copy
    else:
        need = estimate_peak_bytes(height, width, config)
    if need > budget:
        raise ConfigError(
            f"{what} would be {width}x{height} px and need about {need / 2**30:.1f} GiB of memory, more than the "
            f"{budget / 2**30:.1f} GiB available; lower --size or --style-scale"
        )


def check_sizes(
    scales: Sequence[tuple[int, int, int]],
    styles: Sequence[Tensor],
    config: StyleConfig,
    device: torch.device,
    *,
    tiled_targets: bool,
) -> None:
    """Every image the run will build (each scale, each style at ``style_scale``) fits, before any is made.

    ``tiled_targets``: a tiled scale computes its style targets tile by tile (every statistic that sums over
    positions; :meth:`stylecore.objective.terms.StyleTerm.set_tile_targets`), so only a tile's activations count.
    """
    budget = memory_budget(device.type)
    for height, width, _ in scales:
        # On CUDA the output is shrunk to fit instead (fit_gpu_memory); only the pixel limit holds there.
        check_image_size(height, width, "the output", None if device.type == "cuda" else config, budget=budget)
        side = round(config.style_scale * max(height, width))
        tile = tile_px(config) if tiled_targets and uses_tiles(height, width, config) else 0
        for number, style in enumerate(styles, start=1):
            what = f"style image {number} at style_scale {config.style_scale:g}"
            sized = fit_long_side(style.shape[-2], style.shape[-1], side)
            check_image_size(*sized, what, config, forward_only=True, budget=budget, tile=tile)
            if min(sized) < (need := min_side(config.layers)):
                raise ConfigError(
                    f"{what} would be {sized[1]}x{sized[0]} px, and the style layers need {need} px on each side; "
                    "use a style image that is less thin, or a larger --style-scale"
                )


def fit_gpu_memory(final: tuple[int, int, int], config: StyleConfig, device: torch.device) -> tuple[float, list[str]]:
    """On CUDA, the factor that shrinks the output to fit free memory (1: it fits), and a notice saying so."""
    height, width, _ = final
    if device.type != "cuda":
        return 1.0, []
    free = free_gpu_budget(device)
    if estimate_peak_bytes(height, width, config) <= free:
        return 1.0, []
    side = largest_fitting_side(height, width, config, free)
    if side <= MIN_SIDE:
        raise ConfigError(f"not enough GPU memory ({free / 2**30:.1f} GiB free) even at {MIN_SIDE} px; free the GPU")
    note = f"downscaled from {max(height, width)} to {side} px to fit {free / 2**30:.1f} GiB of GPU memory"
    if not config.tile:
        note += "; --tile 512 keeps the full size (see Print size in docs/cli.md)"
    return side / max(height, width), [note]
