"""The output formats' table (stylecore.imaging.formats): every entry writes and reads back its pixels and provenance.

Pixels are read back by an independent decoder (OpenCV: libpng and libtiff), not by our own code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin

from stylecore import save_image
from stylecore.imaging.formats import FORMATS, SEAL, format_for, read_provenance
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
