"""Issue 30 at the output names: no FIFO can hang a run, a snapshot that fails is a warning, snapshots and
batch results know whose they are, and provenance cannot be added by accident. Hashes before and after."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image, PngImagePlugin

from stylecore.cli.main import main
from stylecore.imaging.formats import SNAPSHOT_OF
from stylecore.imaging.images import save_image
from stylecore.imaging.outputs import made_by_stylecore

from .file_safety_support import FAST, error_line, hashes, photo

HANG_GUARD = pytest.mark.timeout(180, method="signal")  # a FIFO opened for reading would block for ever


def _image(tmp_path: Path, out: Path, *more: str) -> list[str]:
    content, style = photo(tmp_path / "c.png", 1), photo(tmp_path / "s.png", 2)
    return [str(content), str(style), "-o", str(out), *FAST, *more]


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


# --- 2: a FIFO, a device or a link to one at any output name is refused in one sentence -----------------------


@HANG_GUARD
@pytest.mark.parametrize("kind", ["result", "device-link", "snapshot", "batch"])
def test_a_fifo_or_device_at_an_image_output_is_one_sentence(tmp_path: Path, capsys, kind: str) -> None:
    work = tmp_path / "w"
    work.mkdir()
    if kind == "result":
        _fifo(work / "f.png")
        argv = _image(tmp_path, work / "f.png")
    elif kind == "device-link":
        (work / "d.png").symlink_to("/dev/null")
        argv = _image(tmp_path, work / "d.png")
    elif kind == "snapshot":
        _fifo(work / "o_0001.png")
        argv = _image(tmp_path, work / "o.png", "--iterations", "3", "--save-every", "1")
    else:
        photos = tmp_path / "p"
        photos.mkdir()
        photo(photos / "a.jpg", 3)
        _fifo(work / "a.png")
        argv = ["batch", str(photos), str(photo(tmp_path / "s.png", 2)), "-o", str(work), *FAST]
    before = hashes(work), sorted(os.listdir(work))
    assert main(argv) == 1
    line = error_line(capsys)
    assert ("is a FIFO" in line or "is a device (through a link)" in line) and "not a regular file" in line
    assert (hashes(work), sorted(os.listdir(work))) == before


@HANG_GUARD
@pytest.mark.parametrize("kind", ["video", "frames"])
def test_a_fifo_at_a_video_output_or_frames_dir_is_one_sentence(tmp_path: Path, capsys, kind: str) -> None:
    pytest.importorskip("av")
    from fractions import Fraction

    import numpy as np

    from stylecore.video.media import write_video

    source = tmp_path / "clip.mp4"
    write_video(source, iter([np.full((32, 48, 3), 80 * i, np.uint8) for i in range(2)]), Fraction(12))
    style = photo(tmp_path / "s.png", 2)
    work = tmp_path / "w"
    work.mkdir()
    more = []
    if kind == "video":
        _fifo(work / "o.mp4")
    else:
        _fifo(work / "frames")
        more = ["--frames-dir", str(work / "frames")]
    argv = ["video", str(source), str(style), "-o", str(work / "o.mp4"), *FAST, *more]
    before = hashes(work), sorted(os.listdir(work))
    assert main(argv) == 1
    line = error_line(capsys)
    assert "is a FIFO" in line or "is not a folder" in line
    assert (hashes(work), sorted(os.listdir(work))) == before


# --- 3: a snapshot that fails is a warning; the result is still written --------------------------------------


def test_a_snapshot_that_fails_is_a_warning_and_the_result_is_written(tmp_path: Path, capsys, monkeypatch) -> None:
    import stylecore.imaging.images as imageio

    real_save = imageio.save_image

    def full_disk(image, path, meta=None, **kwargs):
        if "_" in Path(path).stem:  # o_0001.png: the snapshots; o.png goes through
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(image, path, meta, **kwargs)

    monkeypatch.setattr(imageio, "save_image", full_disk)
    out = tmp_path / "w" / "o.png"
    assert main(_image(tmp_path, out, "--iterations", "3", "--save-every", "1")) == 0
    err = capsys.readouterr().err
    assert err.count("could not write the snapshot") == 1 and "No space left on device" in err
    assert "Traceback" not in err and made_by_stylecore(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["o.png"]


# --- 4: a snapshot name replaces only a snapshot of the same output ---------------------------------------------


def test_snapshots_never_replace_another_runs_result(tmp_path: Path, capsys) -> None:
    work = tmp_path / "w"
    assert main(_image(tmp_path, work / "cat_0001.png")) == 0  # run a's result
    assert main(_image(tmp_path, work / "cat_0002.png")) == 0  # run b's result
    before = hashes(work)
    capsys.readouterr()
    assert main(_image(tmp_path, work / "cat.png", "--iterations", "3", "--save-every", "1")) == 1
    assert "exists and is not a snapshot of cat.png, so it is kept" in error_line(capsys)
    assert hashes(work) == before


def test_a_snapshot_of_the_same_output_is_replaced(tmp_path: Path) -> None:
    work = tmp_path / "w"
    save_image(torch.rand(1, 3, 8, 8), work / "cat_0001.png", {SNAPSHOT_OF: "cat.png"})  # an earlier run's snapshot
    assert main(_image(tmp_path, work / "cat.png", "--iterations", "3", "--save-every", "1")) == 0
    with Image.open(work / "cat_0001.png") as snapshot:
        assert snapshot.size != (8, 8) and snapshot.info[SNAPSHOT_OF] == "cat.png"


# --- 5: provenance cannot be added by accident; a batch trusts no file that matches its input pattern ----------


@pytest.mark.parametrize("how", ["hand-added chunk", "download from the app"])
def test_a_batch_does_not_trust_a_file_that_only_claims_to_be_ours(tmp_path: Path, capsys, how: str) -> None:
    folder = tmp_path / "g"
    folder.mkdir()
    photo(folder / "cat.jpg", 1)
    if how == "hand-added chunk":
        info = PngImagePlugin.PngInfo()
        info.add_text("stylecore:config", "{}")
        photo(tmp_path / "raw.png", 2)
        Image.open(tmp_path / "raw.png").save(folder / "cat.png", pnginfo=info)
    else:
        shutil.copy(save_image(torch.rand(1, 3, 32, 40), tmp_path / "app" / "cat.png", {"stylecore:config": "{}"}),
                    folder / "cat.png")  # fmt: skip
    kept = hashes(folder)["cat.png"]
    style = photo(tmp_path / "s.png", 3)
    argv = ["batch", str(folder / "*"), str(style), "-o", str(folder), *FAST]
    assert main([*argv, "--overwrite"]) == 0
    assert "2 written, 0 already there" in capsys.readouterr().out  # cat.png is a photo, stylised, never replaced
    assert hashes(folder)["cat.png"] == kept
    assert sorted(p.name for p in folder.iterdir()) == ["cat.jpg", "cat.jpg.png", "cat.png", "cat.png.png"]


# --- issue 28: a file the library wrote (the README's example: only stylecore:weights) is ours -------------------


def test_a_library_written_file_is_replaced_by_the_cli(tmp_path: Path) -> None:
    out = tmp_path / "w" / "cat.png"
    save_image(torch.rand(1, 3, 8, 8), out, {"stylecore:weights": "random:0"})  # the README's library example
    assert main(_image(tmp_path, out)) == 0
    with Image.open(out) as result:
        assert result.size != (8, 8) and "stylecore:config" in result.info


@pytest.mark.parametrize(("name", "more", "depth"), [("o.tif", [], 16), ("o.png", ["--bit-depth", "16"], 16)])
def test_the_cli_writes_16_bit_results_and_snapshots(tmp_path: Path, name: str, more: list[str], depth: int) -> None:
    cv2 = pytest.importorskip("cv2")
    out = tmp_path / "w" / name
    assert main(_image(tmp_path, out, "--iterations", "3", "--save-every", "1", *more)) == 0
    for path in (out, out.with_name(f"o_0001{out.suffix}")):
        assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype.itemsize * 8 == depth
        assert made_by_stylecore(path)
    assert main(_image(tmp_path, out, *more)) == 0  # its own 16-bit result is replaced by the next run


def test_a_tif_at_8_bits_and_batch_into_a_file_are_one_sentence(tmp_path: Path, capsys) -> None:
    assert main(_image(tmp_path, tmp_path / "o.tif", "--bit-depth", "8")) == 1
    assert "a .tif file is written at 16 bits, not 8" in error_line(capsys)
    photos = tmp_path / "p"
    photos.mkdir()
    photo(photos / "a.jpg", 3)
    (tmp_path / "afile").write_text("mine")
    assert main(["batch", str(photos), str(tmp_path / "s.png"), "-o", str(tmp_path / "afile"), *FAST]) == 1
    line = error_line(capsys)
    assert "afile is a file; give a folder for the results" in line and "Errno" not in line
    assert (tmp_path / "afile").read_text() == "mine"


def test_batch_writes_tiff_results(tmp_path: Path, capsys) -> None:
    photos = tmp_path / "p"
    photos.mkdir()
    photo(photos / "a.jpg", 3)
    argv = ["batch", str(photos), str(photo(tmp_path / "s.png")), "-o", str(tmp_path / "o"), "--format", "tiff", *FAST]
    assert main(argv) == 0 and main(argv) == 0
    assert "0 written, 1 already there" in capsys.readouterr().out.splitlines()[-1]
    assert made_by_stylecore(tmp_path / "o" / "a.tif")
