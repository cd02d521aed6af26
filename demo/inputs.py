"""Checked uploads, and how they are decoded: no Gradio here.

:mod:`demo.uploads` checks what arrives over HTTP and hands on an :class:`Upload`
(or a :class:`Rejected` with its sentence); this module turns an ``Upload`` into
the tensors :mod:`demo.service` takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from stylecore import StylecoreError, open_image, pil_to_tensor
from stylecore.imaging.formats import FORMATS
from stylecore.imaging.images import load_mask
from stylecore.model.layers import MIN_SIDE
from stylecore.objective.regions import check_mask

#: Header pixel limit for the app: outputs are at most 1024 px, so a 25 MP photo is
#: already 5x more than any run can use. Decoded RGB at this size is ~75 MB.
MAX_INPUT_PIXELS = 25_000_000
#: Photos up to this many pixels are decoded whole, as the CLI decodes them, and the engine
#: resizes them: the page and ``stylecore`` then start from the same pixels and give the same
#: image. Larger ones are decoded at reduced scale (JPEG ``draft``, then LANCZOS) to bound
#: memory, which changes the starting pixels slightly (docs/known-limits.md).
FULL_DECODE_PIXELS = 4_000_000


@dataclass(frozen=True)
class Upload:
    """An uploaded image that passed the checks; ``name`` is what messages call it."""

    path: Path
    name: str
    size: tuple[int, int]  # width, height from the header (before EXIF rotation)


@dataclass(frozen=True)
class Rejected:
    """An input that failed a check; ``message`` is the one sentence the user sees."""

    message: str


#: An image input as a checked component hands it over.
Input = Upload | Rejected | None


def read_upload(upload: Input, what: str, max_side: int, *, like_cli: bool = True) -> Tensor:
    """An upload as an RGB tensor: whole when small (``like_cli``: as the CLI reads it), else at most ``max_side``."""
    if upload is None:
        raise StylecoreError(f"please upload {what}")
    if isinstance(upload, Rejected):
        raise StylecoreError(upload.message)
    whole = like_cli and upload.size[0] * upload.size[1] <= FULL_DECODE_PIXELS
    side = None if whole else max_side
    return pil_to_tensor(open_image(upload.path, max_pixels=MAX_INPUT_PIXELS, max_side=side, name=upload.name))


def size_problem(upload: Input, what: str, size: int) -> str | None:
    """Why an image this size cannot make a ``size`` px result (from its header), or None.

    A side under MIN_SIDE is refused outright; at ``size`` (0: any size), the short
    side must still reach MIN_SIDE, or the run would have to change the aspect ratio.
    """
    if not isinstance(upload, Upload):
        return None
    width, height = upload.size
    if min(width, height) < MIN_SIDE:
        return f"The {what} is {width}x{height} pixels; use one at least {MIN_SIDE} pixels on each side."
    short = min(width, height) * size / max(width, height)
    if size and short < MIN_SIDE:
        return (
            f"The {what} is {width}x{height} pixels: at size {size} its short side would be {short:.0f} px, "
            f"under {MIN_SIDE}; use a photo closer to square, or a larger size."
        )
    return None


def read_region(upload: Input, *, painted: bool) -> Tensor | None:
    """A region mask (1, 1, H, W) in [0, 1]: a painted layer's alpha, or an uploaded greyscale mask."""
    if upload is None:
        return None
    if isinstance(upload, Rejected):
        raise StylecoreError(upload.message)
    if not painted:  # an uploaded mask follows the core's rule (all black is refused)
        return check_mask(load_mask(upload.path), upload.name)
    with Image.open(upload.path) as layer:  # its size was checked from the header
        alpha = layer.getchannel("A") if "A" in layer.getbands() else layer.convert("L")
        mask = torch.from_numpy(np.asarray(alpha, dtype=np.float32) / 255.0)[None, None]
    if float(mask.max()) == 0:
        return None  # nothing painted: no region, which is not an all-black mask
    return mask


def result_name(*uploads: Input) -> str:
    """``stylecore-<content>-<style>.png`` from the uploads' own names (the app offers 8-bit PNG)."""
    stems = [Path(u.name).stem for u in uploads if isinstance(u, Upload)]
    return "-".join(["stylecore", *stems]) + FORMATS["png"].suffix
