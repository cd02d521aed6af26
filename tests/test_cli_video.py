"""``stylecore video`` end to end on a clip the test makes: frames, rate and sound, resuming, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stylecore.cli.main import main

from .support import FAST, decoded


def _argv(clip_files, out: Path, *more: str) -> list[str]:
    clip, style = clip_files
    return ["video", str(clip), str(style), "-o", str(out), *FAST, *more]


def test_video_keeps_rate_and_sound_and_cleans_up(clip_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.mp4"
    assert main(_argv(clip_files, out, "--stride", "2")) == 0
    frames, rate, audio, seconds = decoded(out)
    assert len(frames) == 6 and frames[0].shape == (32, 48, 3)
    assert rate == 6 and audio == "aac" and seconds == pytest.approx(1.0, abs=0.05)  # 12 frames at 12 fps
    line = capsys.readouterr().out
    assert "wrote" in line and "6 frames at 6 fps, sound kept (aac)" in line and "per later frame" in line
    assert not (tmp_path / "out.frames").exists()  # a finished run leaves no cache behind


def test_a_longer_run_resumes_from_the_frames_already_done(clip_files, tmp_path: Path, monkeypatch, capsys) -> None:
    from stylecore.video.chain import FrameChain

    out = tmp_path / "out.mp4"
    assert main(_argv(clip_files, out, "--end", "4", "--keep-frames")) == 0
    assert sorted(p.name for p in (tmp_path / "out.frames").glob("0*.png")) == [f"{i:06d}.png" for i in range(4)]
    started = []
    real_start = FrameChain.start
    monkeypatch.setattr(FrameChain, "start", lambda self, frame: started.append(1) or real_start(self, frame))
    capsys.readouterr()
    assert main(_argv(clip_files, out, "--end", "7")) == 0
    assert len(started) == 3  # frames 4, 5, 6 only
    summary = capsys.readouterr().out
    assert "per later frame" in summary and "first frame" not in summary  # frame 0 was not redone
    assert len(decoded(out)[0]) == 7


def test_other_settings_start_again(clip_files, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.mp4"
    assert main(_argv(clip_files, out, "--end", "2", "--keep-frames")) == 0
    assert main(_argv(clip_files, out, "--end", "2", "--temporal-weight", "5", "--keep-frames")) == 0
    assert "2 frames there were made with other settings; starting again" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"out": "out.png"}, "output must end in .mp4 or .mkv"),
        ({"clip": "notes.mp4"}, "notes.mp4: cannot open as a video"),
        ({"more": ["--stride", "0"]}, "stride must be 1 or more, got 0"),
        ({"more": ["--start", "-1"]}, "start must be 0 or more (frames count from 0), got -1"),
        ({"more": ["--temporal-weight", "nan"]}, "temporal weight must be a finite number"),
        ({"more": ["--backend", "ray", "--chunk", "4", "--overlap", "4"]}, "cannot overlap by 4"),
        ({"more": ["--backend", "ray", "--workers", "0"]}, "--workers must be at least 1"),
    ],
)
def test_bad_requests_are_one_line(clip_files, tmp_path: Path, capsys, change, message) -> None:
    clip, style = clip_files
    source = clip
    if change.get("clip"):
        source = tmp_path / change["clip"]
        source.write_text("not a video")
    out = tmp_path / change.get("out", "out.mp4")
    assert main(["video", str(source), str(style), "-o", str(out), *FAST, *change.get("more", [])]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.slow
def test_ctrl_c_still_writes_a_playable_video_of_the_frames_done(clip_files, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    argv = _argv(clip_files, out, "--later-iterations", "1000000")  # the second frame never ends by itself
    proc = subprocess.Popen([sys.executable, "-m", "stylecore", *argv], stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ))  # fmt: skip
    deadline = time.monotonic() + 300  # a guard against hanging: the test waits for the file, not a time
    while not (tmp_path / "out.frames" / "000000.png").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "SIGINT: wrote the first 1 of 12 frames; run the same command again" in err and "Traceback" not in err
    frames, rate, audio, seconds = decoded(out)
    assert len(frames) == 1 and rate == 12 and audio == "aac" and seconds < 0.2
    assert (tmp_path / "out.frames" / "000000.png").exists()  # kept for the next run


def test_a_frames_dir_holding_other_files_is_refused_and_left_alone(clip_files, tmp_path: Path, capsys) -> None:
    mine = tmp_path / "holiday"
    mine.mkdir()
    (mine / "0001.png").write_bytes(b"someone's photo")
    assert main(_argv(clip_files, tmp_path / "out.mp4", "--frames-dir", str(mine))) == 1
    assert "not empty and not a frame cache" in capsys.readouterr().err
    assert (mine / "0001.png").read_bytes() == b"someone's photo"


def test_a_finished_run_deletes_only_the_cache_files(clip_files, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    assert main(_argv(clip_files, tmp_path / "out.mp4", "--end", "2", "--frames-dir", str(cache), "--keep-frames")) == 0
    (cache / "notes.txt").write_text("added later by the user")
    assert main(_argv(clip_files, tmp_path / "out.mp4", "--end", "3", "--frames-dir", str(cache))) == 0
    assert [p.name for p in cache.iterdir()] == ["notes.txt"]
