"""FLOP counts of one step, and the machine's measured 3x3-conv throughput."""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from stylecore.extractor import _VGG19_CFG, VGG19_LAYERS


def conv_forward_flops(height: int, width: int, deepest: str) -> int:
    """Multiply-adds x 2 of every VGG19 conv up to and including ``deepest``."""
    flops, index, channels = 0, 0, 3
    for item in _VGG19_CFG:
        if index > VGG19_LAYERS[deepest]:
            break
        if item == "M":
            height, width, index = height // 2, width // 2, index + 1
        else:
            assert isinstance(item, int)
            flops += 2 * channels * item * 9 * height * width
            channels, index = item, index + 2
    return flops


def gram_flops(height: int, width: int, layers: tuple[str, ...]) -> int:
    """Forward Gram (C x HW x C) plus its one-matmul backward, per style layer."""
    total = 0
    for name in layers:
        block = int(name[-3])  # conv{block}_{n} / relu{block}_{n}
        channels = min(64 * 2 ** (block - 1), 512)
        positions = (height >> (block - 1)) * (width >> (block - 1))
        total += 2 * (2 * channels * channels * positions)
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
