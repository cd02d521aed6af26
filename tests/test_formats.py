"""The output formats' table (stylecore.imaging.formats): every entry writes and reads back its pixels and provenance.

Pixels are read back by independent decoders (OpenCV: libpng and libtiff; Pillow, pypng, tifffile), not by our own
code; the seal covers decoded pixels, text and place, so a copied or edited seal is not ours.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import png
import pytest
import tifffile
import torch
from PIL import Image, PngImagePlugin

from stylecore import save_image
from stylecore.imaging.formats import (
    FORMATS,
    SEAL,
    claims_provenance,
    encode_file,
    format_for,
    quantise,
    read_provenance,
)
from stylecore.imaging.images import open_image
from stylecore.imaging.outputs import made_by_stylecore

TEXT = {"stylecore:weights": "random:0", "stylecore:config": '{"size": 32, "note": "é"}'}


@pytest.fixture(scope="module")
def image() -> torch.Tensor:
    return torch.rand(1, 3, 19, 27, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_format_round_trips_its_pixels_and_its_provenance(tmp_path: Path, image: torch.Tensor, name) -> None:
    cv2 = pytest.importorskip("cv2")
    fmt = FORMATS[name]
    path = save_image(image, tmp_path / f"out{fmt.suffix}", TEXT, bits=fmt.bits)
    stored = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[..., ::-1]  # BGR -> RGB
    assert stored.dtype == (np.uint16 if fmt.bits == 16 else np.uint8) and stored.shape == (19, 27, 3)
    exact = image[0].permute(1, 2, 0).double().numpy() * (2**fmt.bits - 1)
    assert np.abs(stored - exact).max() <= 0.51  # rounded once at the format's depth (float32 adds < 0.01)
    text = read_provenance(path)
    assert text is not None and {k: text[k] for k in TEXT} == TEXT
    assert made_by_stylecore(path)
    assert open_image(path).size == (27, 19)  # and it is an input the tool itself reads


def test_each_suffix_and_depth_picks_one_entry(tmp_path: Path) -> None:
    assert format_for("a.png").name == "png" and format_for("a.PNG", 16).name == "png16"
    assert format_for("a.tif").name == format_for("a.tiff", 16).name == "tiff"
    with pytest.raises(ValueError, match=r"a \.tif file is written at 16 bits, not 8"):
        format_for("a.tif", 8)
    with pytest.raises(ValueError, match=r"output must end in \.png or \.tif or \.tiff"):
        save_image(torch.rand(1, 3, 4, 4), tmp_path / "a.jpg")
    assert not (tmp_path / "a.jpg").exists()


def test_a_hand_added_chunk_or_a_copy_from_elsewhere_is_not_ours(tmp_path: Path) -> None:
    info = PngImagePlugin.PngInfo()
    for key, value in {**TEXT, SEAL: "0" * 64}.items():
        info.add_text(key, value)
    Image.new("RGB", (8, 8)).save(tmp_path / "hand.png", pnginfo=info)
    assert not made_by_stylecore(tmp_path / "hand.png")
    app, mine = tmp_path / "app", tmp_path / "mine"
    app.mkdir(), mine.mkdir()
    downloaded = save_image(torch.rand(1, 3, 8, 8), app / "stylecore-cat-strokes.png", TEXT)  # what the app offers
    assert made_by_stylecore(downloaded)
    shutil.copy(downloaded, mine / "stylecore-cat-strokes.png")  # the user keeps the download
    assert not made_by_stylecore(mine / "stylecore-cat-strokes.png")


def test_edited_pixels_or_settings_break_the_seal(tmp_path: Path) -> None:
    path = save_image(torch.rand(1, 3, 8, 8), tmp_path / "a.png", TEXT)
    blob = path.read_bytes()
    path.write_bytes(blob.replace(b'"size": 32', b'"size": 64'))
    assert not made_by_stylecore(path)
    path.write_bytes(blob)
    assert made_by_stylecore(path)


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_file_reads_back_exactly_in_another_library(tmp_path: Path, image: torch.Tensor, name) -> None:
    fmt = FORMATS[name]
    path = save_image(image, tmp_path / f"out{fmt.suffix}", TEXT, bits=fmt.bits)
    if name == "png":  # Pillow: pixels and text
        with Image.open(path) as opened:
            stored, text = np.asarray(opened.convert("RGB")), dict(opened.info)
    elif name == "png16":  # pypng's reader: 16-bit rows
        width, height, rows, _ = png.Reader(filename=str(path)).read()
        stored = np.vstack([np.asarray(row, np.uint16) for row in rows]).reshape(height, width, 3)
        with Image.open(path) as opened:
            text = dict(opened.info)
    else:  # tifffile: pixels, and the text as JSON in ImageDescription
        stored, text = tifffile.imread(path), json.loads(tifffile.TiffFile(path).pages[0].description)
    assert stored.dtype == quantise(image, fmt.bits).dtype
    np.testing.assert_array_equal(stored, quantise(image, fmt.bits))
    assert {k: text[k] for k in TEXT} == TEXT and len(text[SEAL]) == 64


@pytest.mark.parametrize("name", list(FORMATS))
def test_a_copied_or_edited_seal_is_not_ours(tmp_path: Path, name) -> None:
    fmt = FORMATS[name]
    path = tmp_path / f"out{fmt.suffix}"
    images = [torch.rand(1, 3, 9, 11, generator=torch.Generator().manual_seed(seed)) for seed in (1, 2)]
    first, second = (quantise(im, fmt.bits) for im in images)
    path.write_bytes(encode_file(images[0], path, TEXT, fmt))
    text = read_provenance(path)
    assert text is not None
    path.write_bytes(fmt.write(second, text))  # another image under the first one's seal
    assert read_provenance(path) is None and not made_by_stylecore(path)
    edited = {**text, SEAL: text[SEAL][:-1] + ("0" if text[SEAL][-1] != "0" else "1")}
    path.write_bytes(fmt.write(first, edited))  # the right pixels, a seal one digit off
    assert read_provenance(path) is None and not made_by_stylecore(path)
    path.write_bytes(fmt.write(first, text))  # the same pixels and text written again: still ours
    assert read_provenance(path) == text


def test_the_seal_covers_pixels_not_bytes_so_another_writer_keeps_it(tmp_path: Path) -> None:
    path = save_image(torch.rand(1, 3, 8, 8), tmp_path / "a.png", TEXT)
    text = read_provenance(path)
    assert text is not None
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    with Image.open(path) as opened:
        opened.load()
        opened.save(path, pnginfo=info, optimize=True)  # other chunks and compression, the same pixels
    assert read_provenance(path) == text


@pytest.mark.parametrize("name", list(FORMATS))
def test_a_sealed_file_cut_short_claims_to_be_ours_but_is_not_read(tmp_path: Path, name) -> None:
    fmt = FORMATS[name]
    path = tmp_path / f"out{fmt.suffix}"
    blob = encode_file(torch.rand(1, 3, 16, 16), path, TEXT, fmt)
    path.write_bytes(blob)
    assert not claims_provenance(path, blob)
    cut = blob[: len(blob) // 2]  # the text comes before the pixels in every format
    assert read_provenance(path, cut) is None
    assert claims_provenance(path, cut)
