"""Colour preservation, both methods of Gatys et al. 2017, "Controlling Perceptual
Factors in Neural Style Transfer" (section 5). Pure tensor functions on RGB in [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

# NTSC YIQ, as used in the paper: Y is luminance, I and Q carry the colour.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]])


def rgb_to_yiq(image: Tensor) -> Tensor:
    """(B, 3, H, W) RGB -> (B, 3, H, W) YIQ."""
    return torch.einsum("ij,bjhw->bihw", _RGB_TO_YIQ.to(image), image)


def yiq_to_rgb(image: Tensor) -> Tensor:
    """(B, 3, H, W) YIQ -> (B, 3, H, W) RGB (not clamped)."""
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(_RGB_TO_YIQ).to(image), image)


def luminance_images(content: Tensor, style: Tensor) -> tuple[Tensor, Tensor]:
    """Grey (3-channel) luminance of both; the style's is matched to the content's mean and std."""
    content_y = rgb_to_yiq(content)[:, :1]
    style_y = rgb_to_yiq(style)[:, :1]
    style_y = (style_y - style_y.mean()) / (style_y.std() + 1e-6) * content_y.std() + content_y.mean()
    return content_y.expand(-1, 3, -1, -1).clone(), style_y.clamp(0, 1).expand(-1, 3, -1, -1).clone()


def with_content_chroma(stylised: Tensor, content: Tensor) -> Tensor:
    """The stylised image's luminance with the content's I and Q channels, as RGB in [0, 1]."""
    luminance = rgb_to_yiq(stylised)[:, :1]
    chroma = rgb_to_yiq(content)[:, 1:]
    return yiq_to_rgb(torch.cat([luminance, chroma], dim=1)).clamp(0, 1)


def match_color(style: Tensor, content: Tensor) -> Tensor:
    """Linear colour transfer: ``style`` with the content's RGB mean and covariance (not clamped).

    x' = C_c^{1/2} C_s^{-1/2} (x - mu_s) + mu_c, with symmetric matrix square roots.
    """
    s = style.double().flatten(2)[0]  # (3, N)
    c = content.double().flatten(2)[0]
    mu_s, mu_c = s.mean(1, keepdim=True), c.mean(1, keepdim=True)
    transform = _sqrtm(torch.cov(c)) @ _sqrtm(torch.cov(s), inverse=True)
    matched = transform @ (s - mu_s) + mu_c
    return matched.reshape(style.shape).to(style.dtype)


def _sqrtm(matrix: Tensor, *, inverse: bool = False) -> Tensor:
    """Square root (or inverse square root) of a symmetric positive semi-definite matrix."""
    values, vectors = torch.linalg.eigh(matrix)
    values = values.clamp(min=1e-8)
    root: Tensor = vectors @ torch.diag(values.rsqrt() if inverse else values.sqrt()) @ vectors.T
    return root


@dataclass(frozen=True)
class ColorPolicy:
    """What ``preserve_colors`` does to a run, in its three places: the style images before the run,
    the content each scale matches, and the image the user sees.

    ``none``: nothing. ``match``: each style image is recoloured to the content's colours first.
    ``luminance``: the run sees only luminance (content and styles), and the content's chroma is put
    back on every image shown.
    """

    mode: str  # "none", "luminance" or "match" (StyleConfig.preserve_colors)

    def styles(self, styles: Sequence[Tensor], content: Tensor) -> list[Tensor]:
        """The style images as the run uses them (full size, before the first scale)."""
        if self.mode == "match":
            return [match_color(s, content).clamp(0, 1) for s in styles]
        if self.mode == "luminance":
            return [luminance_images(content, s)[1] for s in styles]
        return list(styles)

    def content(self, content: Tensor) -> Tensor:
        """The content image as a scale's terms see it."""
        return luminance_images(content, content)[0] if self.mode == "luminance" else content

    @property
    def recolours(self) -> bool:
        """Whether :meth:`present` changes the image (so the caller need not size the content for it)."""
        return self.mode == "luminance"

    def present(self, image: Tensor, content: Tensor) -> Tensor:
        """What the user sees of ``image``, given the original ``content`` at its size."""
        return with_content_chroma(image, content) if self.recolours else image
