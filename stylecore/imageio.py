"""Image I/O: the only stylecore module that touches files.

Images cross into the engine as float RGB tensors in [0, 1], (1, 3, H, W).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import IO

import numpy as np
import torch
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError
from torch import Tensor

from .errors import ImageError

#: Refuse inputs above this many pixels (about 8000 x 8000) before decoding them.
MAX_INPUT_PIXELS = 64_000_000
_HIGH_BIT_MODES = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I": 65535.0, "F": 1.0}


def open_image(source: str | Path | IO[bytes], *, max_pixels: int = MAX_INPUT_PIXELS) -> Image.Image:
    """Decode an image file to 8-bit RGB, upright, alpha composited onto white.

    Raises:
        ImageError: missing, not an image, truncated, or too large.
    """
    name = getattr(source, "name", source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source)
            _check_size(image, name, max_pixels)
            image.load()  # decode now so truncation surfaces here
            image = ImageOps.exif_transpose(image)
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a directory, not an image") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a recognised image file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name}: image is too large (over {max_pixels:,} pixels)") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise ImageError(f"{name}: cannot decode image ({exc})") from None
    return to_rgb(image)


def _check_size(image: Image.Image, name: object, max_pixels: int) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(f"{name}: image is {width}x{height}, over the {max_pixels:,}-pixel limit")


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparency is composited onto white."""
    if image.mode in _HIGH_BIT_MODES:
        # Pillow's own conversion clips 16-bit data to 255, turning it white.
        scale = _HIGH_BIT_MODES[image.mode]
        array = np.asarray(image, dtype=np.float64) / scale
        image = Image.fromarray((array.clip(0, 1) * 255).round().astype(np.uint8), "L")
    if image.mode in ("P", "PA", "LA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "La", "RGBa"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image.convert("RGBA"))
    return image.convert("RGB")


def resize_long_side(image: Image.Image, size: int) -> Image.Image:
    """Scale so the long side is ``size`` pixels, keeping the aspect ratio."""
    width, height = image.size
    scale = size / max(width, height)
    new = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image if new == image.size else image.resize(new, Image.Resampling.LANCZOS)


def pil_to_tensor(image: Image.Image) -> Tensor:
    """RGB PIL image -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.asarray(to_rgb(image), dtype=np.float32) / 255.0  # (H, W, 3)
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_pil(image: Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> RGB PIL image."""
    array = image.detach().float().squeeze(0).clamp(0, 1).mul(255).round().byte()
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy(), "RGB")


def load_image(source: str | Path | IO[bytes], size: int | None = None) -> Tensor:
    """Open, convert and (optionally) resize to long side ``size``, as a tensor."""
    image = open_image(source)
    return pil_to_tensor(resize_long_side(image, size) if size else image)


def save_image(image: Tensor | Image.Image, path: str | Path, metadata: Mapping[str, str] | None = None) -> Path:
    """Save as PNG with text metadata (e.g. which weights made it); creates folders."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ImageError(f"{path}: output must be a .png file")
    pil = image if isinstance(image, Image.Image) else tensor_to_pil(image)
    info = PngImagePlugin.PngInfo()
    for key, value in (metadata or {}).items():
        info.add_text(key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    pil.save(path, format="PNG", pnginfo=info)
    return path
