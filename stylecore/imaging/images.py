"""Image I/O: reading and writing images (weights files are read in ``weights``).

Images cross into the engine as float RGB tensors in [0, 1], (1, 3, H, W).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

from ..errors import ImageError
from .outputs import atomic_file
from .sizing import fit_long_side

#: Refuse inputs above this many pixels (about 8000 x 8000) before decoding them.
MAX_INPUT_PIXELS = 64_000_000
_HIGH_BIT_MODES = {"I;16": 65535.0, "I;16B": 65535.0, "I;16L": 65535.0, "I": 65535.0, "F": 1.0}


def open_image(
    source: str | Path | IO[bytes],
    *,
    max_pixels: int = MAX_INPUT_PIXELS,
    max_side: int | None = None,
    name: str | None = None,
    background: tuple[int, int, int] = (255, 255, 255),
) -> Image.Image:
    """Decode an image file to 8-bit RGB, upright, alpha composited onto white.

    Args:
        source: a path or a binary file object.
        max_pixels: refuse larger images from the header, before decoding anything.
        max_side: shrink so the long side is at most this; JPEGs are decoded at a
            reduced scale (``draft``), so a large photo never exists at full size.
        name: how messages call the file (default: the path as given).
        background: what transparent pixels become (white for photos).

    Raises:
        ImageError: missing, not an image, truncated, or too large.
    """
    name = name or str(getattr(source, "name", None) or (source if isinstance(source, str) else "the image"))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image: Image.Image = Image.open(source)
            _check_size(image, name, max_pixels)
            full = image.size  # the true aspect: draft's 1/2, 1/4, 1/8 scales round it
            if max_side is not None:  # JPEG only (a no-op elsewhere): decode at a reduced scale
                image.draft("RGB", _fitted(full, max_side))
            image.load()  # decode now so truncation surfaces here
            stored = image.size
            image = ImageOps.exif_transpose(image)
            if image.size != stored:  # rotated a quarter turn
                full = full[::-1]
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{name}: is a directory, not an image") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not a recognised image file") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name}: image is too large (over {max_pixels:,} pixels)") from None
    except (OSError, SyntaxError, ValueError):  # truncated or corrupt data
        raise ImageError(f"{name}: the image data is damaged or truncated") from None
    image = to_rgb(image, background)
    if max_side is not None and max(full) > max_side:
        image = image.resize(_fitted(full, max_side), Image.Resampling.LANCZOS)
    return image


def _fitted(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """A (width, height) shrunk, never grown, so its long side is at most ``max_side``."""
    height, width = fit_long_side(size[1], size[0], max_side, grow=False)
    return width, height


def _check_size(image: Image.Image, name: object, max_pixels: int) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageError(f"{name}: image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(f"{name}: image is {width}x{height}, over the {max_pixels:,}-pixel limit")


def to_rgb(image: Image.Image, background: tuple[int, int, int] = (255, 255, 255)) -> Image.Image:
    """Any Pillow mode -> RGB; transparency is composited onto ``background`` (white)."""
    if image.mode in _HIGH_BIT_MODES:
        # Pillow's own conversion clips 16-bit data to 255, turning it white.
        # float32 holds 16-bit values exactly at half float64's memory.
        array = np.asarray(image, dtype=np.float32)
        if not array.flags.writeable:  # a float32 image (mode F) comes back as a read-only view of itself
            array = array.copy()
        array *= 255.0 / _HIGH_BIT_MODES[image.mode]
        np.clip(array, 0, 255, out=array)
        image = Image.fromarray(np.rint(array, out=array).astype(np.uint8), "L")
    if image.mode == "La":  # Pillow converts premultiplied LA to no other mode; composited it is L + bg * (1 - A)
        grey, alpha = (np.asarray(band, dtype=np.int32) for band in image.split())
        image = Image.fromarray(np.clip(grey + background[0] * (255 - alpha) // 255, 0, 255).astype(np.uint8), "L")
    if image.mode in ("P", "PA", "LA") or "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "RGBa"):
        canvas = Image.new("RGBA", image.size, (*background, 255))
        image = Image.alpha_composite(canvas, image.convert("RGBA"))
    return image.convert("RGB")


def resize_long_side(image: Image.Image, size: int) -> Image.Image:
    """Scale so the long side is ``size`` pixels, keeping the aspect ratio."""
    height, width = fit_long_side(image.height, image.width, size)
    return image if (width, height) == image.size else image.resize((width, height), Image.Resampling.LANCZOS)


def pil_to_tensor(image: Image.Image) -> Tensor:
    """RGB PIL image -> (1, 3, H, W) float32 in [0, 1]."""
    return array_to_tensor(np.asarray(to_rgb(image)))


def tensor_to_pil(image: Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> RGB PIL image."""
    return Image.fromarray(tensor_to_array(image), "RGB")


def array_to_tensor(pixels: np.ndarray[Any, np.dtype[np.uint8]]) -> Tensor:
    """(H, W, 3) uint8 RGB (a PIL image's or a video frame's) -> (1, 3, H, W) float32 in [0, 1]."""
    array = np.asarray(pixels, dtype=np.float32) / 255.0  # a new array: read-only input is fine
    return torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0).contiguous()


def tensor_to_array(image: Tensor) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """(1, 3, H, W) or (3, H, W) in [0, 1] -> (H, W, 3) uint8 RGB."""
    array = image.detach().float().squeeze(0).clamp(0, 1).mul(255).round().byte()
    return np.ascontiguousarray(array.permute(1, 2, 0).cpu().numpy())


def load_mask(source: str | Path | IO[bytes]) -> Tensor:
    """A greyscale region mask (white = inside) as (1, 1, H, W) float in [0, 1]; colour images are greyed.

    Transparency means outside: a mask's transparent pixels count as black, not as the white a photo gets.
    """
    grey = open_image(source, background=(0, 0, 0)).convert("L")
    return torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255.0)[None, None].contiguous()


def load_image(source: str | Path | IO[bytes], size: int | None = None) -> Tensor:
    """Open, convert and (optionally) resize to long side ``size``, as a tensor."""
    image = open_image(source)
    return pil_to_tensor(resize_long_side(image, size) if size else image)


def save_image(
    image: Tensor | Image.Image,
    path: str | Path,
    metadata: Mapping[str, str] | None = None,
    *,
    bits: int | None = None,
) -> Path:
    """Save in the format of ``path``'s suffix (``.png``; ``.tif``/``.tiff``: 16-bit) with its provenance.

    Atomic (a crash leaves the old file or the new one) and creates folders. ``metadata`` is stored as
    text (e.g. which weights made it), with a seal that marks the file as ours at this path
    (:mod:`stylecore.imaging.formats`). ``bits``: 16 for a 16-bit PNG; the float result is quantised
    to 16 bits directly, never through 8.
    """
    from .formats import encode_file, format_for

    path = Path(path)
    blob = encode_file(image, path, dict(metadata or {}), format_for(path, bits))
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as temp:
        temp.write_bytes(blob)
    return path
