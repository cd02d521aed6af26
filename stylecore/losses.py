"""Style-transfer losses as pure tensor functions.

Normalisation (a departure from Gatys et al., who use raw sums): every term is
a *relative* squared error, ``||x - t||^2 / ||t||^2``, and Gram matrices are
divided by the number of positions. So a term does not grow with image size,
layers with large activations do not drown out the others, and the same
weights work for 128 px and 1024 px, for ImageNet and random weights alike.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import FunctionCtx

_EPS = 1e-8


class _SymmetricGram(torch.autograd.Function):
    """``scale * F Fᵀ`` whose backward is one matmul, ``scale * (dG + dGᵀ) F``.

    Plain autograd treats F and Fᵀ as two inputs and pays two (C x C x HW)
    matmuls in backward; the Gram is a large part of each step's non-conv time.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, flat: Tensor, scale: float) -> Tensor:
        ctx.save_for_backward(flat)
        ctx.scale = scale  # type: ignore[attr-defined]
        out = flat.new_empty(flat.shape[0], flat.shape[1], flat.shape[1])
        return torch.baddbmm(out, flat, flat.transpose(1, 2), beta=0, alpha=scale)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor, None]:
        (flat,) = ctx.saved_tensors  # type: ignore[attr-defined]
        return torch.bmm(grad + grad.transpose(1, 2), flat).mul_(ctx.scale), None  # type: ignore[attr-defined]


def gram_matrix(features: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, C, C) channel correlations, averaged over positions."""
    b, c, h, w = features.shape
    flat = features.reshape(b, c, h * w)  # (B, C, HW)
    gram: Tensor = _SymmetricGram.apply(flat, 1.0 / (h * w))
    return gram


def relative_error(x: Tensor, target: Tensor) -> Tensor:
    """``||x - target||^2 / ||target||^2`` as a scalar; 0 when ``x == target``."""
    # mse_loss(sum) is one fused kernel each way, unlike (x - t).pow(2).sum().
    return F.mse_loss(x, target, reduction="sum") / (target.pow(2).sum() + _EPS)


def content_loss(features: Tensor, target: Tensor) -> Tensor:
    """Relative squared error between generated and content features."""
    return relative_error(features, target)


def style_loss(
    grams: Mapping[str, Tensor],
    targets: Mapping[str, Tensor],
    weights: Mapping[str, float] | None = None,
) -> Tensor:
    """Weighted sum over layers of the relative Gram error.

    Args:
        grams: layer -> Gram of the generated image, (B, C, C).
        targets: layer -> target Gram, broadcastable to ``grams[layer]``.
        weights: layer -> weight; default equal weights summing to 1.
    """
    if weights is None:
        weights = {name: 1.0 / len(targets) for name in targets}
    terms = [w * relative_error(grams[name], targets[name]) for name, w in weights.items()]
    return torch.stack(terms).sum()


def tv_loss(image: Tensor) -> Tensor:
    """Mean squared difference between neighbouring pixels; 0 for a flat image."""
    dy = image[..., 1:, :] - image[..., :-1, :]
    dx = image[..., :, 1:] - image[..., :, :-1]
    return dy.pow(2).mean() + dx.pow(2).mean()
