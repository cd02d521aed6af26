"""Decoding proven by properties (Hypothesis): any image, frame or mask either decodes or is refused in one sentence.

Images are drawn over every Pillow mode and every format Pillow writes for that mode, at random sizes
from 1 px, with random pixels, and sometimes cut short. The property: ``open_image`` gives an RGB image
of the size the file declares (the drawn size; an ICO stores its own square sizes), ``load_mask`` a
(1, 1, H, W) float mask in [0, 1], or either raises one ``ImageError`` sentence; never another exception.
Video frames: small clips in several codecs and pixel formats, written with PyAV and sometimes cut
short, give RGB frames of the clip's size (and tensors in [0, 1]) or one ``StylecoreError`` sentence.
A deeper search: ``STYLECORE_DECODE_EXAMPLES=2000 pytest tests/test_decode_properties.py`` (default 150).
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from PIL import Image

from stylecore.errors import ImageError, StylecoreError
from stylecore.imaging.images import array_to_tensor, load_mask, open_image, pil_to_tensor

MODES = ["1", "L", "P", "RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16", "I;16B", "F", "LA", "PA", "La",
         "RGBa"]  # fmt: skip
FORMATS = ["PNG", "TIFF", "WEBP", "BMP", "GIF", "JPEG", "ICO", "PPM"]
#: Together these stay well under a minute (about 10 s on a 2-core EPYC).
QUICK = settings(
    max_examples=int(os.environ.get("STYLECORE_DECODE_EXAMPLES", 150)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def _image(mode: str, width: int, height: int, seed: int) -> Image.Image:
    """Random pixels in ``mode``: raw bytes for the integer modes, finite floats in [-1, 2] for ``F``."""
    rng = np.random.default_rng(seed)
    if mode == "F":
        return Image.fromarray(rng.uniform(-1, 2, (height, width)).astype(np.float32), "F")
    length = len(Image.new(mode, (width, height)).tobytes())
    image = Image.frombytes(mode, (width, height), rng.bytes(length))
    if mode in ("P", "PA"):
        image.putpalette(list(rng.integers(0, 256, 768, dtype=np.uint8).tobytes()))
    return image


def _writes(mode: str, fmt: str) -> bool:
    """Whether Pillow writes ``mode`` as ``fmt`` at the sizes drawn (it refuses, e.g., CMYK as PNG)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. Pillow 12 deprecates writing mode I as PNG
            for side in (1, 16, 40):  # an ICO embeds PNGs from 16 px on, which some modes cannot be
                _image(mode, side, side, 0).save(io.BytesIO(), format=fmt)
    except (OSError, KeyError, ValueError, TypeError):
        return False
    return True


PAIRS = [(mode, fmt) for mode in MODES for fmt in FORMATS if _writes(mode, fmt)]


@dataclass(frozen=True)
class Case:
    mode: str
    fmt: str
    width: int
    height: int
    seed: int
    cut: float | None  # keep this fraction of the file's bytes; None: the whole file

    def data(self) -> bytes:
        out = io.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. a lossy palette for GIF
            _image(self.mode, self.width, self.height, self.seed).save(out, format=self.fmt)
        data = out.getvalue()
        return data if self.cut is None else data[: int(len(data) * self.cut)]

    @property
    def name(self) -> str:
        return f"drawn.{self.fmt.lower()}"


@st.composite
def image_cases(draw: st.DrawFn) -> Case:
    mode, fmt = draw(st.sampled_from(PAIRS))
    width, height = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    cut = draw(st.none() | st.floats(0.0, 0.99))
    return Case(mode, fmt, width, height, draw(st.integers(0, 2**32 - 1)), cut)


def _declared_size(case: Case, data: bytes) -> tuple[int, int]:
    if case.fmt != "ICO":
        return case.width, case.height
    with Image.open(io.BytesIO(data)) as image:  # an icon holds square sizes of its own choosing
        return image.size


def _pillow_reads(data: bytes) -> bool:
    """Whether Pillow itself decodes these bytes (it writes some files it cannot read, e.g. a 1 px CMYK icon)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                image.load()
    except Exception:
        return False
    return True


def _one_sentence(error: Exception, name: str) -> None:
    text = str(error)
    assert text.startswith(name) and "\n" not in text and "Traceback" not in text, text


def test_every_mode_is_drawn_in_several_formats() -> None:
    formats = {mode: [f for m, f in PAIRS if m == mode] for mode in MODES}
    unwritten = [mode for mode, written in formats.items() if not written]
    assert unwritten == ["La"], formats  # premultiplied LA exists only in memory: the next test has it
    assert {fmt for _, fmt in PAIRS} == set(FORMATS)
    assert "TIFF" in formats["F"]


@QUICK
@given(image_cases())
@example(Case("F", "TIFF", 5, 3, 0, None))  # float32 TIFF: crashed ("output array is read-only")
@example(Case("I;16", "PNG", 1, 1, 7, None))
@example(Case("1", "BMP", 1, 1, 0, None))
@example(Case("PA", "TIFF", 3, 1, 0, 0.5))
def test_an_image_decodes_to_rgb_of_its_size_or_one_image_error(case: Case) -> None:
    data = case.data()
    try:
        image = open_image(io.BytesIO(data), name=case.name)
    except ImageError as error:
        _one_sentence(error, case.name)
        assert case.cut is not None or not _pillow_reads(data), f"a readable {case.mode} {case.fmt} file: {error}"
        return
    assert image.mode == "RGB" and image.size == _declared_size(case, data)
    image.tobytes()  # every pixel is there


@QUICK
@given(st.sampled_from(MODES), st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_an_image_in_memory_becomes_rgb_of_its_size_in_every_mode(mode: str, width: int, height: int, seed: int):
    tensor = pil_to_tensor(_image(mode, width, height, seed))  # what the app and the library hand over
    assert tensor.shape == (1, 3, height, width) and 0 <= float(tensor.min()) <= float(tensor.max()) <= 1


def test_a_float32_tiff_keeps_its_values() -> None:
    array = np.array([[0.0, 0.5, 1.0, 2.0]], np.float32)  # [0, 1] is black to white; beyond clips
    out = io.BytesIO()
    Image.fromarray(array, "F").save(out, format="TIFF")
    pixels = np.asarray(open_image(io.BytesIO(out.getvalue())))
    assert pixels[0, :, 0].tolist() == [0, 128, 255, 255] and (pixels[..., 0] == pixels[..., 2]).all()


@QUICK
@given(image_cases())
@example(Case("F", "TIFF", 4, 9, 1, None))
def test_a_mask_decodes_to_a_grey_float_mask_or_one_image_error(case: Case) -> None:
    data = case.data()
    try:
        mask = load_mask(io.BytesIO(data))
    except ImageError as error:
        _one_sentence(error, "the image")  # load_mask names a file object "the image"
        assert case.cut is not None or not _pillow_reads(data), f"a readable {case.mode} {case.fmt} mask: {error}"
        return
    width, height = _declared_size(case, data)
    assert mask.shape == (1, 1, height, width) and mask.dtype == torch.float32
    assert float(mask.min()) >= 0 and float(mask.max()) <= 1


#: (container suffix, codec, pixel format): what PyAV writes and the command reads.
CODECS = [(".mp4", "libx264", "yuv420p"), (".mp4", "libx264", "yuv444p"), (".mkv", "ffv1", "gray"),
          (".mkv", "ffv1", "bgra"), (".avi", "mjpeg", "yuvj420p"), (".mkv", "mpeg4", "yuv420p"),
          (".mov", "png", "rgb24")]  # fmt: skip


@st.composite
def clips(draw: st.DrawFn) -> tuple[tuple[str, str, str], int, int, int, int, float | None]:
    codec, width, height = draw(st.sampled_from(CODECS)), draw(st.integers(1, 24)), draw(st.integers(1, 24))
    return (
        codec,
        width,
        height,
        draw(st.integers(1, 3)),
        draw(st.integers(0, 2**32 - 1)),
        draw(st.none() | st.floats(0.0, 0.99)),
    )


def _write_clip(path: Path, codec: str, pix_fmt: str, width: int, height: int, frames: int, seed: int) -> bool:
    """A clip of random frames; False when the codec does not take that size (e.g. odd sizes for 4:2:0)."""
    av = pytest.importorskip("av")
    rng = np.random.default_rng(seed)
    try:
        with av.open(str(path), "w") as out:
            stream = out.add_stream(codec, rate=12)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            for _ in range(frames):
                pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
                out.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
            out.mux(stream.encode(None))
    except (av.error.FFmpegError, ValueError):
        return False
    return True


@settings(
    max_examples=int(os.environ.get("STYLECORE_DECODE_EXAMPLES", 40)),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(clips())
@example(((".mov", "png", "rgb24"), 1, 1, 1, 0, 0.625))  # a cut header: PyAV's stream had no codec (AttributeError)
def test_video_frames_decode_to_rgb_of_the_clip_size_or_one_error(clip) -> None:
    from stylecore.video.media import probe, read_frames

    (suffix, codec, pix_fmt), width, height, count, seed, cut = clip
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip{suffix}"
        if not _write_clip(path, codec, pix_fmt, width, height, count, seed):
            return  # that codec does not write this size: nothing to decode
        if cut is not None:
            data = path.read_bytes()
            path.write_bytes(data[: int(len(data) * cut)])
        try:
            info = probe(path)
            frames = [pixels for _, pixels in read_frames(path)]
        except StylecoreError as error:
            _one_sentence(error, path.name)
            assert cut is not None, f"a whole {codec} {pix_fmt} clip was refused: {error}"
            return
    assert (info.width, info.height) == (width, height)
    assert len(frames) <= count and (cut is not None or len(frames) == count)
    for pixels in frames:
        assert pixels.shape == (height, width, 3) and pixels.dtype == np.uint8
        tensor = array_to_tensor(pixels)
        assert tensor.shape == (1, 3, height, width) and 0 <= float(tensor.min()) <= float(tensor.max()) <= 1
