"""Where each style goes (Gatys et al. 2017, "Controlling Perceptual Factors", spatial control).

A region is a greyscale mask over the content image (white = inside, soft edges allowed), one per
style image. The masks become per-pixel shares that sum to 1: where regions overlap they are scaled
down to share the pixel; whatever no region covers goes to the styles given without a mask (or, if
every style has one, to the first style). A mask reaches each VGG layer by area averaging to that
layer's resolution, so a soft edge stays soft and a layer sees the fraction of each cell inside.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from ..errors import ConfigError

Mask = Tensor  # (1, 1, H, W) in [0, 1]


def check_mask(mask: Tensor, what: str) -> Mask:
    """A mask as (1, 1, H, W) float in [0, 1]; refuses empty (all-black) masks."""
    if mask.dim() == 2:
        mask = mask[None, None]
    elif mask.dim() == 3:
        mask = mask[None]
    if mask.dim() == 4 and mask.shape[:2] == (1, 1) and not mask.is_floating_point():
        raise ConfigError(f"{what} must be a float tensor in [0, 1], got {mask.dtype}; divide an 8-bit mask by 255")
    if mask.dim() != 4 or mask.shape[:2] != (1, 1) or not mask.is_floating_point():
        raise ConfigError(f"{what} must be a float greyscale tensor (H, W) or (1, 1, H, W), got {tuple(mask.shape)}")
    if mask.numel() == 0:
        raise ConfigError(f"{what} has no pixels ({tuple(mask.shape[-2:])}); give a mask with at least one pixel")
    if not bool(torch.isfinite(mask).all()):
        raise ConfigError(f"{what} holds NaN or infinite values; give values in [0, 1]")
    if float(mask.max()) <= 0:
        raise ConfigError(f"{what} is all black: its style would apply nowhere")
    return mask.detach().float().clamp(0, 1)


def region_shares(masks: Sequence[Mask | None], height: int, width: int) -> Tensor:
    """(N, 1, H, W) per-pixel shares of N styles, summing to 1 at every pixel."""
    if all(m is None for m in masks):
        raise ConfigError("regions need at least one mask")
    template = next(m for m in masks if m is not None)
    resized = [
        torch.zeros(1, 1, height, width, device=template.device)
        if m is None
        else F.interpolate(m, size=(height, width), mode="bilinear", align_corners=False).clamp(0, 1)
        for m in masks
    ]
    shares = torch.cat(resized)  # (N, 1, H, W)
    shares = shares / shares.sum(0, keepdim=True).clamp_min(1.0)  # overlaps share the pixel
    rest = 1 - shares.sum(0, keepdim=True)
    defaults = [i for i, m in enumerate(masks) if m is None] or [0]
    for i in defaults:
        shares[i : i + 1] += rest / len(defaults)
    return shares


def at_layer(shares: Tensor, height: int, width: int) -> Tensor:
    """Shares averaged over each cell of a (height, width) feature map."""
    return F.adaptive_avg_pool2d(shares, (height, width))
