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


def feature_moments(features: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """(B, C, H, W) -> mean (B, C) and covariance (B, C, C) over positions, weighted by ``mask`` (1, 1, H, W)."""
    flat = features.flatten(2)  # (B, C, HW)
    weights = torch.ones_like(flat[:, :1]) if mask is None else mask.flatten(2).expand_as(flat[:, :1])
    total = weights.sum(dim=2, keepdim=True).clamp_min(_EPS)  # (B, 1, 1)
    mean = (flat * weights).sum(dim=2, keepdim=True) / total  # (B, C, 1)
    centered = flat - mean
    return mean.squeeze(2), (centered * weights) @ centered.transpose(1, 2) / total


def sqrtm_newton_schulz(matrix: Tensor, iterations: int = 20) -> Tensor:
    """Square root of symmetric positive semi-definite (B, C, C) matrices, differentiable and GPU-friendly.

    Newton-Schulz iteration on the matrix scaled by its Frobenius norm (which makes it converge);
    the eigen-decomposition's gradient is unstable for repeated eigenvalues, this one is not.
    """
    norm = matrix.flatten(1).norm(dim=1).clamp_min(_EPS).view(-1, 1, 1)
    eye = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device).expand_as(matrix)
    y: Tensor = matrix / norm
    z: Tensor = eye
    for _ in range(iterations):
        t = 0.5 * (3.0 * eye - z @ y)
        y, z = y @ t, t @ z
    root: Tensor = y * norm.sqrt()
    return root


def wasserstein2_gaussian(
    mean: Tensor, cov: Tensor, target_mean: Tensor, target_cov: Tensor, target_cov_sqrt: Tensor
) -> Tensor:
    """Squared 2-Wasserstein distance between N(mean, cov) and the target Gaussian, relative to the target.

    ``|m - m'|^2 + tr(C + C' - 2 (C'^1/2 C C'^1/2)^1/2)``, divided by ``|m'|^2 + tr(C')`` so that, like the
    other terms, it does not grow with the features' scale. (crowsonkb/style-transfer-pytorch's
    "mean and covariance" style loss, itself from the closed form for Gaussians.)
    """
    cross = sqrtm_newton_schulz(target_cov_sqrt @ cov @ target_cov_sqrt)
    trace = torch.diagonal(cov + target_cov - 2 * cross, dim1=-2, dim2=-1).sum(-1)
    distance = (mean - target_mean).pow(2).sum(-1) + trace
    scale = target_mean.pow(2).sum(-1) + torch.diagonal(target_cov, dim1=-2, dim2=-1).sum(-1)
    return (distance / (scale + _EPS)).mean()


def sliced_wasserstein(features: Tensor, target_sorted: Tensor, projections: Tensor) -> Tensor:
    """Sliced 2-Wasserstein distance (Heitz et al., CVPR 2021) along ``projections``, relative to the target.

    Args:
        features: (B, C, H, W) generated features, or (B, C, N) samples of them.
        target_sorted: (P, M) the target's features projected on the same directions, sorted; M may differ
            from the generated count, so the target's quantiles are read at the generated sample's positions.
        projections: (C, P) unit directions.
    """
    flat = features.flatten(2)  # (B, C, N)
    projected = torch.einsum("bcn,cp->bpn", flat, projections)  # (B, P, N)
    ours = projected.sort(dim=-1).values
    theirs = resample_sorted(target_sorted, flat.shape[-1]).expand_as(ours)
    return F.mse_loss(ours, theirs, reduction="sum") / (theirs.pow(2).sum() + _EPS)


def resample_sorted(values: Tensor, count: int) -> Tensor:
    """(P, M) sorted samples -> (P, count) linearly interpolated quantiles (the identity when M == count)."""
    m = values.shape[-1]
    if m == count:
        return values
    positions = torch.linspace(0, m - 1, count, device=values.device, dtype=values.dtype)
    low = positions.floor().long().clamp(max=m - 1)
    high = (low + 1).clamp(max=m - 1)
    frac = positions - low.to(values.dtype)
    return values[..., low] * (1 - frac) + values[..., high] * frac


def guided_gram(features: Tensor, mask: Tensor) -> Tensor:
    """Gram matrix of ``features`` (B, C, H, W) weighted by ``mask`` (1, 1, H, W), normalised by the mask's area.

    ``sum_p m(p)^2 f(p) f(p)^T / sum_p m(p)^2`` (Gatys et al. 2017, guided Gram): a region's statistics
    do not depend on how big the region is.
    """
    masked = features * mask
    b, c, h, w = masked.shape
    flat = masked.reshape(b, c, h * w)
    return flat @ flat.transpose(1, 2) / (mask.pow(2).sum() + _EPS)


def temporal_loss(image: Tensor, target: Tensor, mask: Tensor) -> Tensor:
    """Relative squared error to ``target`` where ``mask`` (1, 1, H, W) trusts it (Ruder et al. 2016).

    ``sum m (x - t)^2 / sum m t^2``: the previous stylised frame warped into this one, counted only
    where the optical flow is consistent; 0 when the mask is empty.
    """
    weights = mask.expand_as(image)
    return (weights * (image - target).pow(2)).sum() / ((weights * target.pow(2)).sum() + _EPS)
