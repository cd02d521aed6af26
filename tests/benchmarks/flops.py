"""FLOP counts of one step, and the machine's measured 3x3-conv throughput."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from stylecore.model.layers import VGG19_LAYERS, trunk_shapes


def conv_forward_flops(height: int, width: int, deepest: str) -> int:
    """Multiply-adds x 2 of every VGG19 conv up to and including ``deepest``."""
    shapes = trunk_shapes(height, width, deepest)
    return sum(2 * c_in * c_out * 9 * h * w for kind, c_in, c_out, h, w in shapes if kind == "conv")


def gram_flops(height: int, width: int, layers: tuple[str, ...]) -> int:
    """Forward Gram (C x HW x C) plus its one-matmul backward, per style layer."""
    total = 0
    for name in layers:
        *_, channels, h, w = list(trunk_shapes(height, width, name))[-1]
        total += 2 * (2 * channels * channels * h * w)
    return total


def step_flops(height: int, width: int, layers: tuple[str, ...], style_layers: tuple[str, ...]) -> int:
    """One step: conv forward + conv input-gradient (same count; no weight grads) + Grams."""
    deepest = max(layers, key=VGG19_LAYERS.__getitem__)
    return 2 * conv_forward_flops(height, width, deepest) + gram_flops(height, width, style_layers)


def conv_throughput(channels: int = 512, side: int = 64, runs: int = 5) -> float:
    """Sustained GFLOP/s of a large 3x3 conv (median of ``runs``), this machine's practical limit."""
    x, w = torch.rand(1, channels, side, side), torch.rand(channels, channels, 3, 3)
    flops = 2 * channels * channels * 9 * side * side
    times = []
    with torch.no_grad():
        F.conv2d(x, w, padding=1)
        for _ in range(runs):
            start = time.perf_counter()
            F.conv2d(x, w, padding=1)
            times.append(time.perf_counter() - start)
    return flops / sorted(times)[len(times) // 2] / 1e9
