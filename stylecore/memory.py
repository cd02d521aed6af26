"""Peak-memory estimate of a run, so sizes can be checked before anything is allocated.

The model counts the activations the VGG trunk keeps for backward (elements per
input pixel, from the layer table) and scales them by a factor calibrated on
measured peak RSS (``tests/benchmarks/memory_probe.py``; see README).
"""

from __future__ import annotations

from .config import StyleConfig
from .engine import LBFGS_HISTORY
from .extractor import VGG19_LAYERS, trunk_shapes
from .sizing import MIN_SIDE
from .tiling import CONTENT_CACHE_BYTES, halo_for, layer_stride, uses_tiles

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
        crop = config.tile + 2 * halo_for(config.layers)
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
    copies, the content targets when they are cached, and (sliced) the gathered projections and their gradient."""
    image_bytes = 3 * height * width * 4
    content = layer_bytes(height, width, config.content_layers)
    cached = content if content <= CONTENT_CACHE_BYTES else 0
    gathered = 2 * layer_bytes(height, width, config.style_layers) if config.style_loss == "sliced" else 0
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
