"""Issue 30, findings 1 and 11: ``python -m export`` keeps the user's files, writes through no link, checks its
arguments before exporting anything and leaves nothing behind when it fails. Hashes before and after."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from export.__main__ import main as export_main

from .file_safety_support import hashes

QUICK = ["--weights", "random:0", "--layers", "conv1_1", "--runs", "1", "--sizes", "16", "--profile-size", "16"]


def _state(folder: Path) -> tuple[dict[str, str], list[str]]:
    return hashes(folder), sorted(os.listdir(folder))


def _error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    return err.strip()


def test_the_export_keeps_what_is_in_out_and_writes_through_no_link(tmp_path: Path, capsys) -> None:
    """The issue's reproduction: user files at the report names and a link at the sidecar's name."""
    out, victim = tmp_path / "o", tmp_path / "victim.txt"
    out.mkdir()
    victim.write_text("precious")
    (out / "profile.md").write_text("notes")
    (out / "ort_profile.json").write_text("x")
    (out / "vgg19_extractor-conv1_1.json").symlink_to(victim)
    before = _state(tmp_path)
    assert export_main([*QUICK, "--out", str(out)]) == 1
    assert "is a link; the export writes no file through one" in _error(capsys)
    os.unlink(out / "vgg19_extractor-conv1_1.json")
    assert export_main([*QUICK, "--out", str(out)]) == 1
    assert "profile.md exists and was not made by the export, so it is kept" in _error(capsys)
    assert export_main([*QUICK, "--out", str(out), "--no-profile"]) == 0  # the report files are not written then
    assert victim.read_text() == "precious"
    assert {k: before[0][k] for k in ("victim.txt", "o/profile.md", "o/ort_profile.json")} == {
        k: hashes(tmp_path)[k] for k in ("victim.txt", "o/profile.md", "o/ort_profile.json")
    }


def test_the_weights_are_never_the_model(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    out.mkdir()
    weights = out / "vgg19_extractor-conv1_1.onnx"
    weights.write_bytes(b"a torch checkpoint")  # read only as far as its name before the plan refuses it
    before = _state(tmp_path)
    assert export_main([*QUICK, "--weights", str(weights), "--out", str(out)]) == 1
    assert "would overwrite the input" in _error(capsys)
    assert _state(tmp_path) == before


@pytest.mark.timeout(180, method="signal")
def test_a_fifo_at_an_export_name_is_one_sentence(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    out.mkdir()
    os.mkfifo(out / "profile.md")
    before = _state(tmp_path)
    assert export_main([*QUICK, "--out", str(out)]) == 1
    assert "is a FIFO, not a regular file" in _error(capsys)
    assert _state(tmp_path) == before


@pytest.mark.parametrize(
    ("more", "needle"),
    [
        (["--layers", "pool5", "--sizes", "16"], "--sizes 16 is too small for pool5: it needs at least 32 px"),
        (["--layers", "pool5,relu5_4", "--profile-size", "16"], "--profile-size 16 is too small for pool5"),
        (["--sizes", "6000"], "--sizes 6000 is too large; use at most 2048 px"),
    ],
)
def test_sizes_are_checked_before_anything_is_exported(tmp_path: Path, capsys, more, needle) -> None:
    out = tmp_path / "o"
    assert export_main(["--weights", "random:0", "--out", str(out), "--runs", "1", *more]) == 1
    assert needle in _error(capsys)
    assert not out.exists() or not os.listdir(out)


def test_a_failed_check_leaves_nothing_behind(tmp_path: Path, capsys, monkeypatch) -> None:
    from export import checks

    def fails(rows: object, tolerance: float = 0.0) -> None:
        raise checks.ExportCheckError("1 parity checks above 0.0001; worst conv1_1")

    monkeypatch.setattr(checks, "assert_parity", fails)
    out = tmp_path / "o"
    assert export_main([*QUICK, "--out", str(out)]) == 1
    assert "parity checks above" in _error(capsys)
    assert os.listdir(out) == []  # no unchecked model, no sidecar, no temporary file


def test_a_rerun_replaces_only_what_the_export_made(tmp_path: Path, capsys) -> None:
    out = tmp_path / "o"
    assert export_main([*QUICK, "--out", str(out)]) == 0
    assert export_main([*QUICK, "--out", str(out)]) == 0  # its own model, sidecar, report and trace
    names = ["ort_profile.json", "profile.md", "vgg19_extractor-conv1_1.json", "vgg19_extractor-conv1_1.onnx"]
    assert sorted(os.listdir(out)) == names
    model = out / "vgg19_extractor-conv1_1.onnx"
    model.write_bytes(model.read_bytes() + b"edited")  # no longer the file its sidecar vouches for
    before = _state(tmp_path)
    capsys.readouterr()
    assert export_main([*QUICK, "--out", str(out)]) == 1
    assert "vgg19_extractor-conv1_1.onnx exists and was not made by the export" in _error(capsys)
    assert _state(tmp_path) == before


def test_pool5_needs_32_px() -> None:
    from export.model import export_min_side

    assert export_min_side(["pool5"]) == 32 and export_min_side(["relu5_4"]) == 16
