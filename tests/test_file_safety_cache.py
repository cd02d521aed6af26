"""Issue 30, findings 12-14: the frame cache deletes only frames it can recognise, keeps a user's folder, and takes
back a folder holding only its own half-written marker. Hashes before and after."""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from stylecore.cli.main import main

from .file_safety_support import error_line, hashes, photo
from .file_safety_support import video_argv as _video

pytest.importorskip("av")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, Path]:
    """Three 48x32 frames and a style."""
    from stylecore.video.media import write_video

    folder = tmp_path_factory.mktemp("clip")
    rng = np.random.default_rng(1)
    write_video(folder / "clip.mp4", iter([rng.integers(0, 255, (32, 48, 3), dtype=np.uint8) for _ in range(3)]),
                Fraction(12))  # fmt: skip
    return folder / "clip.mp4", photo(folder / "style.png", 2)


def test_a_planted_manifest_cannot_delete_or_replace_a_users_frames(clip, tmp_path: Path, capsys) -> None:
    from stylecore.video.frame_cache import MARKER

    user = tmp_path / "user"
    user.mkdir()
    for index in range(6):
        photo(user / f"{index:06d}.png", index)
    (user / MARKER).write_text(json.dumps({"id": "x", "settings": "planted", "frames": list(range(6))}))
    frames = {k: v for k, v in hashes(user).items() if k != MARKER}
    assert main(_video(clip, tmp_path / "o.mp4", "--frames-dir", str(user))) == 1
    assert "000000.png is not a frame this cache wrote, so it is kept" in error_line(capsys)
    assert {k: v for k, v in hashes(user).items() if k != MARKER} == frames


def test_a_users_empty_frames_dir_is_kept_after_a_complete_run(clip, tmp_path: Path) -> None:
    mine = tmp_path / "myframes"
    mine.mkdir()
    assert main(_video(clip, tmp_path / "o.mp4", "--frames-dir", str(mine))) == 0
    assert mine.is_dir() and os.listdir(mine) == []
    assert main(_video(clip, tmp_path / "o.mp4", "--end", "1")) == 0  # the default OUT.frames/ is the cache's
    assert not (tmp_path / "o.frames").exists()


def test_a_folder_holding_only_our_half_written_marker_is_taken_back(clip, tmp_path: Path, capsys) -> None:
    from stylecore.imaging.outputs import PARTIAL
    from stylecore.video.frame_cache import MARKER

    cache = tmp_path / "o.frames"
    cache.mkdir()
    (cache / f"{PARTIAL}4242-{MARKER}").write_text('{"id": ')  # a SIGKILL during the first marker write
    assert main(_video(clip, tmp_path / "o.mp4", "--end", "2", "--keep-frames")) == 0
    assert sorted(os.listdir(cache)) == [MARKER, "000000.png", "000001.png"]


def test_clean_up_keeps_a_frame_that_changed_since_it_was_written(clip, tmp_path: Path) -> None:
    cache = tmp_path / "o.frames"
    assert main(_video(clip, tmp_path / "o.mp4", "--end", "2", "--keep-frames")) == 0
    photo(cache / "000001.png", 7)  # the user replaced a cached frame with a picture of their own
    kept = hashes(cache)["000001.png"]
    assert main(_video(clip, tmp_path / "o.mp4", "--end", "2", "--style-weight", "3")) == 1  # other settings
    assert hashes(cache)["000001.png"] == kept
