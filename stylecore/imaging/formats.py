"""Output formats: one table entry per format, each saving its pixels and its provenance and reading it back.

Every file is *sealed*: beside the caller's text (which weights and settings made it) it carries
``stylecore:seal``, a SHA-256 of the decoded pixels, that text, and the folder and name the file was
written to. :func:`read_provenance` gives the text back only when the seal matches, so a hand-added
text chunk, a copy moved from elsewhere or a download from the app is not "ours" and is never
replaced (docs/safety.md says what this guards and what it does not).

The bytes come from well-kept libraries: Pillow (8-bit PNG), pypng (16-bit RGB PNG, which Pillow
cannot write) and tifffile (16-bit TIFF). The seal covers decoded pixels, so it does not depend on
how a library lays them out. To add a format, add one :class:`ImageFormat` to :data:`FORMATS`.
"""

from __future__ import annotations

import hashlib
import io
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import png
import tifffile
from PIL import Image, PngImagePlugin

from ..errors import ImageError

SEAL = "stylecore:seal"  # the text key holding the digest
SNAPSHOT_OF = "stylecore:snapshot-of"  # a snapshot's text: the name of the result it belongs to

Pixels = np.ndarray[Any, np.dtype[Any]]  # (H, W, 3) uint8 or uint16 RGB
Text = dict[str, str]


@dataclass(frozen=True)
class ImageFormat:
    """One output format: what it is called, its bit depth, its writer and its two readers."""

    name: str  # what --format and the docs call it
    suffixes: tuple[str, ...]  # the first is the one results get
    bits: int  # 8 or 16 per channel
    write: Callable[[Pixels, Text], bytes]  # (H, W, 3) pixels and text -> the file's bytes
    read_text: Callable[[bytes], Text | None]  # the file's text, pixels left undecoded; None: not this format
    read_pixels: Callable[[bytes], Pixels | None]  # the decoded pixels; None: they do not decode (cut short)

    @property
    def suffix(self) -> str:
        return self.suffixes[0]


# What a damaged or foreign file may raise from the libraries' readers: any of these means "cannot read".
_PIL_ERRORS = (OSError, SyntaxError, ValueError, EOFError, zlib.error, Image.DecompressionBombError)
_PNG_ERRORS = (png.Error, ValueError, EOFError, zlib.error)
_TIFF_ERRORS = (tifffile.TiffFileError, OSError, ValueError, KeyError, IndexError, zlib.error)


# --- PNG: Pillow writes 8 bits and reads every PNG's text; pypng writes and decodes 16-bit RGB ---------------


def _png8_write(pixels: Pixels, text: Text) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_itxt(key, value)  # UTF-8, before the pixels: readable without decoding them
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG", pnginfo=info, compress_level=6)
    return out.getvalue()


def _png16_write(pixels: Pixels, text: Text) -> bytes:
    height, width = pixels.shape[:2]
    rows = np.ascontiguousarray(pixels.astype(">u2")).view(np.uint8).reshape(height, -1)  # PNG's byte order
    image = io.BytesIO()  # pypng filters no rows: smooth 16-bit images come out larger than TIFF's (docs/safety.md)
    png.Writer(width, height, greyscale=False, bitdepth=16, compression=6).write_packed(image, rows)
    # pypng has no text API: its own chunk reader and writer put iTXt chunks (uncompressed) after IHDR.
    chunks = list(png.Reader(bytes=image.getvalue()).chunks())
    texts = [(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode()) for key, value in text.items()]
    out = io.BytesIO()
    png.write_chunks(out, chunks[:1] + texts + chunks[1:])
    return out.getvalue()


def _png_text(bits: int) -> Callable[[bytes], Text | None]:
    def read_text(blob: bytes) -> Text | None:
        try:
            header = png.Reader(bytes=blob)
            header.preamble()  # IHDR and the chunks before the pixels only
            if header.bitdepth != bits or header.color_type != 2:  # type 2: RGB, no alpha, no palette
                return None  # another depth or layout: another entry's (or nobody's) file
            with Image.open(io.BytesIO(blob), formats=["PNG"]) as image:
                return {k: str(v) for k, v in image.info.items() if isinstance(k, str) and isinstance(v, str)}
        except (*_PNG_ERRORS, *_PIL_ERRORS):
            return None

    return read_text


def _png8_pixels(blob: bytes) -> Pixels | None:
    try:
        with Image.open(io.BytesIO(blob), formats=["PNG"]) as image:
            image.load()
            return np.asarray(image) if image.mode == "RGB" else None
    except _PIL_ERRORS:
        return None


def _png16_pixels(blob: bytes) -> Pixels | None:
    try:
        width, height, rows, _ = png.Reader(bytes=blob).read()
        pixels = np.stack([np.frombuffer(row, np.uint16) for row in rows])  # pypng's rows: native uint16
    except _PNG_ERRORS:
        return None
    return pixels.reshape(height, width, 3)


# --- TIFF: tifffile, deflated with the horizontal predictor; the text is JSON (ASCII) in ImageDescription -----


def _tiff_write(pixels: Pixels, text: Text) -> bytes:
    out = io.BytesIO()
    description = json.dumps(text, ensure_ascii=True, sort_keys=True)  # TIFF strings are 7-bit ASCII
    tifffile.imwrite(
        out, pixels.astype(np.uint16), photometric="rgb", compression="zlib", predictor=True,
        description=description, metadata=None, software=False,
    )  # fmt: skip
    return out.getvalue()


def _tiff_read(blob: bytes, decode: bool) -> tuple[Text, Pixels | None] | None:
    """(text, decoded pixels or None); None: not a 16-bit RGB TIFF with our JSON text."""
    try:
        with tifffile.TiffFile(io.BytesIO(blob)) as tiff:
            page = tiff.pages[0]
            if (
                not isinstance(page, tifffile.TiffPage)
                or page.dtype != np.uint16
                or page.shape[-1:] != (3,)
                or page.photometric != tifffile.PHOTOMETRIC.RGB
            ):
                return None
            text = json.loads(page.description)
            if not isinstance(text, dict) or not all(isinstance(v, str) for v in text.values()):
                return None
            ends = [at + size for at, size in zip(page.dataoffsets, page.databytecounts, strict=True)]
            if not decode or not ends or max(ends) > len(blob):
                return text, None  # cut short: tifffile would fill the missing strips with zeros
            return text, page.asarray()
    except _TIFF_ERRORS:
        return None


def _tiff_text(blob: bytes) -> Text | None:
    parts = _tiff_read(blob, decode=False)
    return None if parts is None else parts[0]


def _tiff_pixels(blob: bytes) -> Pixels | None:
    parts = _tiff_read(blob, decode=True)
    return None if parts is None else parts[1]


FORMATS: dict[str, ImageFormat] = {
    f.name: f
    for f in (
        ImageFormat("png", (".png",), 8, _png8_write, _png_text(8), _png8_pixels),
        ImageFormat("png16", (".png",), 16, _png16_write, _png_text(16), _png16_pixels),
        ImageFormat("tiff", (".tif", ".tiff"), 16, _tiff_write, _tiff_text, _tiff_pixels),
    )
}
#: Every suffix an image result may have, in table order.
SUFFIXES: tuple[str, ...] = tuple(dict.fromkeys(s for f in FORMATS.values() for s in f.suffixes))


def format_for(path: str | Path, bits: int | None = None) -> ImageFormat:
    """The table entry for ``path``'s suffix at ``bits`` per channel (None: the suffix's first entry)."""
    suffix = Path(path).suffix.lower()
    found = [f for f in FORMATS.values() if suffix in f.suffixes]
    if not found:
        raise ImageError(f"{path}: output must end in {' or '.join(SUFFIXES)}")
    chosen = next((f for f in found if bits in (None, f.bits)), None)
    if chosen is None:
        depths = " or ".join(str(f.bits) for f in found)
        raise ImageError(f"{path}: a {suffix} file is written at {depths} bits, not {bits}")
    return chosen


def quantise(image: Any, bits: int) -> Pixels:
    """A (1, 3, H, W) / (3, H, W) float tensor in [0, 1], or a PIL image, as (H, W, 3) at ``bits``.

    The float result goes straight to 16 bits: never through 8 first.
    """
    if hasattr(image, "detach"):
        scale = 65535.0 if bits == 16 else 255.0
        array = image.detach().float().squeeze(0).clamp(0, 1).mul(scale).round()
        return np.ascontiguousarray(array.permute(1, 2, 0).cpu().numpy().astype(np.uint16 if bits == 16 else np.uint8))
    pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return pixels.astype(np.uint16) * 257 if bits == 16 else pixels  # 255 -> 65535 exactly


def seal(path: Path, text: Mapping[str, str], pixels: Pixels) -> str:
    """The digest of the decoded pixels, the text and where the file lives (its resolved folder and name).

    The pixels enter as little-endian values after their dtype and shape, so the digest is the same
    whichever library (or byte order) stored them.
    """
    where = str(Path(path).parent.resolve() / Path(path).name)
    settings = json.dumps({k: v for k, v in text.items() if k != SEAL}, sort_keys=True)
    values = np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<"))
    layout = f"{values.dtype.str}{values.shape}"  # e.g. "<u2(1024, 1024, 3)"
    digest = hashlib.sha256(b"stylecore-seal-2\0" + where.encode() + b"\0" + settings.encode() + b"\0")
    digest.update(layout.encode() + b"\0")
    digest.update(values.tobytes())
    return digest.hexdigest()


def encode_file(image: Any, path: Path, text: Mapping[str, str], fmt: ImageFormat) -> bytes:
    """The bytes of a sealed file of ``image`` at ``path``."""
    pixels = quantise(image, fmt.bits)
    text = {k: v for k, v in text.items() if k != SEAL}
    return fmt.write(pixels, {**text, SEAL: seal(path, text, pixels)})


def _sealed(path: Path, blob: bytes) -> list[tuple[ImageFormat, Text]]:
    """The entries for ``path``'s suffix that read ``blob``, with its text, where that text has a seal."""
    found = []
    for fmt in FORMATS.values():
        text = fmt.read_text(blob) if path.suffix.lower() in fmt.suffixes else None
        if text is not None and SEAL in text:
            found.append((fmt, text))
    return found


def read_provenance(path: str | Path, blob: bytes | None = None) -> Text | None:
    """The text a file we wrote at ``path`` carries, or None when it is not ours (no seal, or it does not match).

    ``blob`` is the file's bytes when the caller has read them (a regular file: see ``outputs``). The
    pixels are decoded only when the text has a seal.
    """
    path = Path(path)
    if blob is None:
        blob = path.read_bytes()
    for fmt, text in _sealed(path, blob):
        pixels = fmt.read_pixels(blob)
        if pixels is not None and text[SEAL] == seal(path, text, pixels):
            return text
    return None


def claims_provenance(path: Path, blob: bytes) -> bool:
    """The file says it is sealed but its pixels do not decode (an older result cut short mid-write)."""
    return any(fmt.read_pixels(blob) is None for fmt, _ in _sealed(path, blob))
