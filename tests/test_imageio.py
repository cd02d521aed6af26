import io
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from stylecore import ImageError, load_image, open_image, save_image, tensor_to_pil
from stylecore.imaging.images import pil_to_tensor, resize_long_side


def _save(image: Image.Image, path: Path, **kwargs: object) -> Path:
    image.save(path, **kwargs)
    return path


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), "red")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = _save(image, tmp_path / "rotated.jpg", exif=exif)
    assert open_image(path).size == (20, 40)


@pytest.mark.parametrize(
    ("mode", "color", "expected"),
    [
        ("L", 128, (128, 128, 128)),
        ("CMYK", (0, 0, 0, 0), (255, 255, 255)),
        ("RGBA", (0, 0, 0, 0), (255, 255, 255)),  # transparent -> white, not black
        ("LA", (0, 0), (255, 255, 255)),
        ("RGBA", (255, 0, 0, 255), (255, 0, 0)),
    ],
)
def test_modes_become_rgb(mode: str, color: object, expected: tuple[int, int, int]) -> None:
    image = open_image(_roundtrip(Image.new(mode, (4, 4), color), "TIFF" if mode == "CMYK" else "PNG"))
    assert image.mode == "RGB" and image.getpixel((1, 1)) == expected


def test_palette_with_transparency_composites_on_white() -> None:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([0, 0, 0] * 256)
    image.info["transparency"] = 0
    assert open_image(_roundtrip(image, "PNG")).getpixel((0, 0)) == (255, 255, 255)


def test_16_bit_grey_is_scaled_not_clipped() -> None:
    array = np.full((4, 4), 32768, dtype=np.uint16)  # mid-grey in 16 bits
    image = open_image(_roundtrip(Image.fromarray(array), "PNG"))
    assert image.getpixel((0, 0)) == (128, 128, 128)


def _roundtrip(image: Image.Image, fmt: str) -> io.BytesIO:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    buffer.seek(0)
    return buffer


def test_non_image_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.png"
    path.write_text("hello")
    with pytest.raises(ImageError, match="not a recognised image"):
        open_image(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    with pytest.raises(ImageError, match="not a recognised image"):
        open_image(path)


def test_truncated_file(tmp_path: Path) -> None:
    data = _roundtrip(Image.effect_noise((64, 64), 50).convert("RGB"), "JPEG").getvalue()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="damaged or truncated"):
        open_image(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        open_image(tmp_path / "absent.png")


def test_decompression_bomb_refused_before_decoding() -> None:
    with pytest.raises(ImageError, match="over the 100-pixel limit"):
        open_image(_roundtrip(Image.new("RGB", (20, 20)), "PNG"), max_pixels=100)


@pytest.mark.parametrize(("size", "expected"), [((300, 200), (96, 64)), ((200, 300), (64, 96)), ((64, 64), (96, 96))])
def test_resize_keeps_aspect_ratio(size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert resize_long_side(Image.new("RGB", size), 96).size == expected


def test_load_image_tensor_layout(tmp_path: Path) -> None:
    path = _save(Image.new("RGB", (30, 20), (255, 0, 0)), tmp_path / "red.png")
    tensor = load_image(path, size=60)
    assert tensor.shape == (1, 3, 40, 60) and tensor.dtype == torch.float32
    assert tensor[0, 0].min() == 1.0 and tensor[0, 1:].max() == 0.0


def test_tensor_pil_roundtrip_is_exact_on_8_bit_values() -> None:
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8))
    assert np.array_equal(np.asarray(tensor_to_pil(pil_to_tensor(image))), np.asarray(image))


def test_save_png_with_metadata(tmp_path: Path) -> None:
    path = save_image(torch.rand(1, 3, 8, 8), tmp_path / "sub" / "out.png", {"stylecore:weights": "random"})
    with Image.open(path) as saved:
        assert saved.format == "PNG" and saved.info["stylecore:weights"] == "random"
    with pytest.raises(ImageError, match=r"\.png"):
        save_image(torch.rand(1, 3, 8, 8), tmp_path / "out.jpg")


def test_messages_name_the_file_not_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "holiday.png"
    path.write_text("not an image")
    with pytest.raises(ImageError) as info:
        open_image(path)
    assert str(info.value) == "holiday.png: not a recognised image file"
    with pytest.raises(ImageError, match=r"^my photo: not a recognised"):
        open_image(path, name="my photo")


def test_large_jpeg_is_decoded_at_a_reduced_scale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.jpg"
    Image.effect_noise((2400, 1600), 40).convert("RGB").save(path, quality=80)
    decoded: list[tuple[int, int]] = []
    transpose = ImageOps.exif_transpose
    monkeypatch.setattr(ImageOps, "exif_transpose", lambda im: decoded.append(im.size) or transpose(im))
    image = open_image(path, max_side=256)
    assert decoded == [(300, 200)]  # JPEG's DCT scaling: 1/64 of the pixels are ever decoded
    assert image.size == (256, 171)


def test_16_bit_conversion_stays_in_float32(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[np.dtype] = []
    original = np.asarray

    def spy(obj: object, dtype: object = None, **kwargs: object) -> np.ndarray:
        array = original(obj, dtype=dtype, **kwargs)
        if isinstance(obj, Image.Image):
            seen.append(array.dtype)
        return array

    monkeypatch.setattr(np, "asarray", spy)
    image = Image.fromarray(np.full((8, 8), 65535, dtype=np.uint16))
    assert np.array_equal(original(open_image(_roundtrip(image, "PNG"))), np.full((8, 8, 3), 255))
    assert seen and all(dtype == np.float32 for dtype in seen)
