"""Optical flow between video frames: OpenCV's DIS flow, warping, and the consistency mask.

Conventions: a flow (1, 2, H, W) holds, per pixel of the frame it belongs to, the (x, y)
displacement in pixels to the matching point in the other frame. ``flow(a, b)`` is the
flow of ``a`` towards ``b``, so ``warp(b, flow(a, b))`` looks like ``a``.

OpenCV is imported on first use: only video needs it (``pip install 'stylecore[video]'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..extras import require

# Ruder et al. 2016, section 3.3 (from Sundaram et al. 2010): the round trip
# forward-then-backward must return within 1 % of the motion plus half a pixel,
# and motion boundaries (steep flow gradients) are not trusted either.
ROUND_TRIP_RELATIVE, ROUND_TRIP_ABSOLUTE = 0.01, 0.5
BOUNDARY_RELATIVE, BOUNDARY_ABSOLUTE = 0.01, 0.002


def dis_flow(a: Tensor, b: Tensor) -> Tensor:
    """Dense flow of frame ``a`` towards ``b`` ((1, 3, H, W) RGB in [0, 1]) with OpenCV's DIS, (1, 2, H, W)."""
    cv2 = _cv2()
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    dis.setFinestScale(0)  # full resolution: at 1 (the preset's) small frames lose 2-3x in accuracy
    flow = dis.calc(_grey(a), _grey(b), None)  # (H, W, 2) float32
    return torch.from_numpy(flow).permute(2, 0, 1).unsqueeze(0).to(a.device)


def _grey(image: Tensor) -> np.ndarray[Any, np.dtype[np.uint8]]:
    weights = image.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    grey = (image * weights).sum(1)[0].clamp(0, 1).mul(255).round().to(torch.uint8)
    return np.ascontiguousarray(grey.cpu().numpy())


def _cv2() -> Any:
    return require("cv2", "optical flow", "video")


def _sample_grid(flow: Tensor) -> Tensor:
    """Where each pixel's flow points, as grid_sample's normalised (x, y) in [-1, 1]."""
    _, _, h, w = flow.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=flow.device, dtype=flow.dtype),
        torch.arange(w, device=flow.device, dtype=flow.dtype),
        indexing="ij",
    )
    x = (xs + flow[:, 0]) * 2 / max(w - 1, 1) - 1
    y = (ys + flow[:, 1]) * 2 / max(h - 1, 1) - 1
    return torch.stack((x, y), dim=-1)  # (1, H, W, 2)


def warp(image: Tensor, flow: Tensor) -> Tensor:
    """``image`` (1, C, H, W) sampled at each pixel + ``flow``: brings another frame into this one."""
    grid = _sample_grid(flow.to(image.dtype))
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def consistency_mask(forward: Tensor, backward: Tensor) -> Tensor:
    """(1, 1, H, W): 1 where ``backward`` (this frame -> previous) is trustworthy, 0 where it is not.

    ``forward`` is the previous frame's flow towards this one. A pixel is dropped when the
    round trip does not come back (it was occluded or just appeared), when its flow leaves the
    frame, or on a motion boundary.
    """
    there = warp(forward, backward)  # the forward flow where each pixel lands
    round_trip = (backward + there).pow(2).sum(1, keepdim=True)
    motion = backward.pow(2).sum(1, keepdim=True) + there.pow(2).sum(1, keepdim=True)
    consistent = round_trip <= ROUND_TRIP_RELATIVE * motion + ROUND_TRIP_ABSOLUTE
    gy, gx = torch.gradient(backward, dim=(2, 3))
    steep = (gx.pow(2) + gy.pow(2)).sum(1, keepdim=True)
    smooth = steep <= BOUNDARY_RELATIVE * backward.pow(2).sum(1, keepdim=True) + BOUNDARY_ABSOLUTE
    return (consistent & smooth & _inside(backward)).to(backward.dtype)


def _inside(flow: Tensor) -> Tensor:
    grid = _sample_grid(flow)
    return (grid.abs() <= 1).all(dim=-1).unsqueeze(1)
