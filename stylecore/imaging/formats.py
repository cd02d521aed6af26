"""Output formats: one table entry per format, each saving its pixels and its provenance and reading it back.

Every file is *sealed*: beside the caller's text (which weights and settings made it) it carries
``stylecore:seal``, a SHA-256 of the pixel data as stored, that text, and the folder and name the
file was written to. :func:`read_provenance` gives the text back only when the seal matches, so a
hand-added text chunk, a copy moved from elsewhere or a download from the app is not "ours" and is
never replaced (see notes/files.md for what this guards and what it does not).

To add a format, add one :class:`ImageFormat` to :data:`FORMATS`: an encoder of the pixel data, a
function that wraps it with the text into the file's bytes, and one that takes a file's bytes apart.
"""

from __future__ import annotations

import hashlib
import json
import struct
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ImageError

SEAL = "stylecore:seal"  # the text key holding the digest
SNAPSHOT_OF = "stylecore:snapshot-of"  # a snapshot's text: the name of the result it belongs to

Pixels = np.ndarray[Any, np.dtype[Any]]  # (H, W, 3) uint8 or uint16 RGB
Text = dict[str, str]


@dataclass(frozen=True)
class ImageFormat:
    """One output format: what it is called, its bit depth and its three byte-level steps."""

    name: str  # what --format and the notes call it
    suffixes: tuple[str, ...]  # the first is the one results get
    bits: int  # 8 or 16 per channel
    encode: Callable[[Pixels], bytes]  # the pixel data as stored (what the seal covers)
    wrap: Callable[[tuple[int, int], bytes, Text], bytes]  # (height, width), pixel data, text -> the file
    unwrap: Callable[[bytes], tuple[Text, bytes] | None]  # the file -> (text, pixel data); None: not ours

    @property
    def suffix(self) -> str:
        return self.suffixes[0]


# --- PNG: our own writer, so 16-bit RGB (which Pillow cannot write) and 8-bit share one path ------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_encode(pixels: Pixels) -> bytes:
    """Rows with PNG's "Up" filter (2), deflated: the IDAT stream."""
    height = pixels.shape[0]
    rows = np.ascontiguousarray(pixels.astype(">u2" if pixels.dtype == np.uint16 else np.uint8))
    raw = rows.view(np.uint8).reshape(height, -1)
    up = raw.copy()
    up[1:] -= raw[:-1]  # uint8 arithmetic wraps, as the filter wants
    filtered = np.concatenate([np.full((height, 1), 2, np.uint8), up], axis=1)
    return zlib.compress(filtered.tobytes(), 6)


def _png_wrap(bits: int) -> Callable[[tuple[int, int], bytes, Text], bytes]:
    def wrap(shape: tuple[int, int], data: bytes, text: Text) -> bytes:
        header = struct.pack(">IIBBBBB", shape[1], shape[0], bits, 2, 0, 0, 0)  # colour type 2: RGB
        texts = b"".join(  # iTXt (UTF-8, uncompressed) before the pixels: readable from the header alone
            _png_chunk(b"iTXt", key.encode("latin-1") + b"\0\0\0\0\0" + value.encode()) for key, value in text.items()
        )
        step = 1 << 23
        idat = b"".join(_png_chunk(b"IDAT", data[i : i + step]) for i in range(0, max(len(data), 1), step))
        return _PNG_SIGNATURE + _png_chunk(b"IHDR", header) + texts + idat + _png_chunk(b"IEND", b"")

    return wrap


def _png_unwrap(bits: int) -> Callable[[bytes], tuple[Text, bytes] | None]:
    def unwrap(blob: bytes) -> tuple[Text, bytes] | None:
        if not blob.startswith(_PNG_SIGNATURE) or blob[24:25] != bytes([bits]):
            return None  # not a PNG, or another bit depth (IHDR's bit depth is byte 24)
        text, data, at = {}, [], len(_PNG_SIGNATURE)
        while at + 8 <= len(blob):
            (length,), kind = struct.unpack(">I", blob[at : at + 4]), blob[at + 4 : at + 8]
            body = blob[at + 8 : at + 8 + length]
            if kind == b"tEXt":
                key, _, value = body.partition(b"\0")
                text[key.decode("latin-1")] = value.decode("latin-1")
            elif kind == b"iTXt":
                key, _, rest = body.partition(b"\0")
                if rest[:1] == b"\0":  # uncompressed
                    text[key.decode("latin-1")] = rest[2:].split(b"\0", 2)[-1].decode(errors="replace")
            elif kind == b"IDAT":
                data.append(body)
            elif kind == b"IEND":
                return text, b"".join(data)
            at += 12 + length
        return text, b""  # cut short: no IEND, so no pixel data the seal can match

    return unwrap


# --- TIFF: baseline RGB, 16 bits per channel, one deflated strip; the text is JSON in ImageDescription --------


def _tiff_encode(pixels: Pixels) -> bytes:
    return zlib.compress(np.ascontiguousarray(pixels.astype("<u2")).tobytes(), 6)


def _tiff_wrap(shape: tuple[int, int], data: bytes, text: Text) -> bytes:
    height, width = shape
    description = json.dumps(text, ensure_ascii=True, sort_keys=True).encode() + b"\0"
    bits_at = 8 + len(data) + (len(data) & 1)
    description_at = bits_at + 6
    ifd_at = description_at + len(description) + (len(description) & 1)
    entries = [  # (tag, type, count, value): type 3 SHORT, 4 LONG, 2 ASCII; sorted by tag as TIFF requires
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 3, bits_at), (259, 3, 1, 8), (262, 3, 1, 2),
        (270, 2, len(description), description_at), (273, 4, 1, 8), (277, 3, 1, 3), (278, 4, 1, height),
        (279, 4, 1, len(data)), (284, 3, 1, 1),
    ]  # fmt: skip
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        packed = struct.pack("<H", value) + b"\0\0" if kind == 3 and count == 1 else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, count) + packed
    head = b"II*\0" + struct.pack("<I", ifd_at)
    return head + _even(data) + struct.pack("<3H", 16, 16, 16) + _even(description) + ifd + b"\0\0\0\0"


def _even(blob: bytes) -> bytes:
    """TIFF offsets are word-aligned."""
    return blob + b"\0" * (len(blob) & 1)


def _tiff_unwrap(blob: bytes) -> tuple[Text, bytes] | None:
    try:
        if blob[:4] != b"II*\0":
            return None
        (ifd_at,) = struct.unpack("<I", blob[4:8])
        (count,) = struct.unpack("<H", blob[ifd_at : ifd_at + 2])
        tags = {}
        for k in range(count):
            tag, _, n, value = struct.unpack("<HHII", blob[ifd_at + 2 + 12 * k : ifd_at + 14 + 12 * k])
            tags[tag] = (n, value)
        (n, at), (_, start), (_, size) = tags[270], tags[273], tags[279]
        text = json.loads(blob[at : at + n].rstrip(b"\0"))
        if not isinstance(text, dict) or not all(isinstance(v, str) for v in text.values()):
            return None
        return text, blob[start : start + size]
    except (KeyError, ValueError, struct.error):
        return None


FORMATS: dict[str, ImageFormat] = {
    f.name: f
    for f in (
        ImageFormat("png", (".png",), 8, _png_encode, _png_wrap(8), _png_unwrap(8)),
        ImageFormat("png16", (".png",), 16, _png_encode, _png_wrap(16), _png_unwrap(16)),
        ImageFormat("tiff", (".tif", ".tiff"), 16, _tiff_encode, _tiff_wrap, _tiff_unwrap),
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


def seal(path: Path, text: Mapping[str, str], data: bytes) -> str:
    """The digest of the pixel data, the text and where the file lives (its resolved folder and name)."""
    where = str(Path(path).parent.resolve() / Path(path).name)
    settings = json.dumps({k: v for k, v in text.items() if k != SEAL}, sort_keys=True)
    digest = hashlib.sha256(b"stylecore-seal-1\0" + where.encode() + b"\0" + settings.encode() + b"\0")
    digest.update(data)
    return digest.hexdigest()


def encode_file(image: Any, path: Path, text: Mapping[str, str], fmt: ImageFormat) -> bytes:
    """The bytes of a sealed file of ``image`` at ``path``."""
    pixels = quantise(image, fmt.bits)
    data = fmt.encode(pixels)
    text = {k: v for k, v in text.items() if k != SEAL}
    return fmt.wrap(pixels.shape[:2], data, {**text, SEAL: seal(path, text, data)})


def read_provenance(path: str | Path, blob: bytes | None = None) -> Text | None:
    """The text a file we wrote at ``path`` carries, or None when it is not ours (no seal, or it does not match).

    ``blob`` is the file's bytes when the caller has read them (a regular file: see ``outputs``).
    """
    path = Path(path)
    if blob is None:
        blob = path.read_bytes()
    for fmt in FORMATS.values():
        if path.suffix.lower() not in fmt.suffixes or (parts := fmt.unwrap(blob)) is None:
            continue
        text, data = parts
        if text.get(SEAL) == seal(path, text, data):
            return text
    return None


def claims_provenance(path: Path, blob: bytes) -> bool:
    """The file says it is sealed but its pixel data stops early (an older, cut-short result)."""
    for fmt in FORMATS.values():
        parts = fmt.unwrap(blob) if path.suffix.lower() in fmt.suffixes else None
        if parts is not None and SEAL in parts[0] and not parts[1]:
            return True
    return False
