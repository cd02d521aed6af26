"""``stylecore batch``: a folder of photos, resumable, one bad file skipped, a summary at the end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from stylecore.cli.main import main

from .conftest import EXAMPLES

RUN = ["--size", "32", "--iterations", "1", "-q"]


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(EXAMPLES / "chelsea.jpg", folder / "cat.jpg")
    shutil.copy(EXAMPLES / "hubble.jpg", folder / "sky.jpg")
    (folder / "broken.png").write_text("not an image")
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    return folder


def test_batch_writes_skips_and_resumes(photos: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random")
    out = tmp_path / "out"
    argv = ["batch", str(photos), str(EXAMPLES / "strokes.png"), "-o", str(out), *RUN]
    assert main(argv) == 1  # one photo failed
    captured = capsys.readouterr()
    assert "skipped broken.png: broken.png: not a recognised image file" in captured.err
    assert "2 written, 0 already there, 1 failed" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["cat.png", "sky.png"]
    with Image.open(out / "cat.png") as image:
        assert image.size == (32, 21)

    (out / "sky.png").unlink()  # as if the last run had stopped before it
    before = (out / "cat.png").stat().st_mtime_ns
    (photos / "broken.png").unlink()
    assert main(argv) == 0
    assert "1 written, 1 already there, 0 failed" in capsys.readouterr().out
    assert (out / "cat.png").stat().st_mtime_ns == before and (out / "sky.png").is_file()

    assert main([*argv, "--overwrite"]) == 0
    assert "2 written, 0 already there" in capsys.readouterr().out


def test_a_glob_works_too(photos: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random")
    argv = ["batch", str(photos / "c*.jpg"), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o"), *RUN]
    assert main(argv) == 0
    assert "1 written" in capsys.readouterr().out


def test_an_empty_input_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["batch", str(tmp_path), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no images there" in err[0]


@pytest.mark.parametrize("backend", ["local", "ray"])
def test_untrained_weights_are_announced_like_the_other_commands(photos: Path, tmp_path: Path, capsys,
                                                                  monkeypatch, backend: str) -> None:  # fmt: skip
    from stylecore import StylecoreError
    from stylecore.backends import ray as ray_backend

    def no_cluster(workers):
        raise StylecoreError("no cluster in this test")

    monkeypatch.setattr(ray_backend, "connect", no_cluster)  # the warning comes before any worker
    main(["batch", str(photos), str(EXAMPLES / "strokes.png"), "-o", str(tmp_path / "out"), "--weights", "random",
          "--backend", backend, *RUN])  # fmt: skip
    assert "stylecore: warning: using UNTRAINED random VGG19 weights (seed 0)" in capsys.readouterr().err
