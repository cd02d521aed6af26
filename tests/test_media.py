"""Video files: PyAV decoding with a frame selection, H.264 encoding, and the sound carried over."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from stylecore.errors import StylecoreError
from stylecore.video.media import Selection, probe, read_frames, write_video

from .support import decoded
from .synthetic_clip import synthetic_clip, write_clip

FPS = 12


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    write_clip(str(path), synthetic_clip(frames=24, height=64, width=96).frames, FPS)
    return path


def test_selection_arithmetic() -> None:
    selection = Selection(start=4, end=20, stride=2)
    assert selection.count(24) == 8 and selection.count(10) == 3
    assert selection.fps(Fraction(30000, 1001)) == Fraction(15000, 1001)
    assert selection.span(Fraction(12), 8) == pytest.approx((4 / 12, 20 / 12))
    with pytest.raises(StylecoreError, match="selects nothing"):
        Selection(start=5, end=5)


def test_probe_reads_rate_count_size_and_sound(source: Path) -> None:
    info = probe(source)
    assert (info.fps, info.frames, info.width, info.height, info.audio) == (FPS, 24, 96, 64, "aac")


def test_read_frames_takes_the_selection(source: Path) -> None:
    frames = list(read_frames(source, Selection(start=3, end=11, stride=3)))
    assert [index for index, _ in frames] == [3, 6, 9]
    reference = decoded(source)[0]
    assert all(np.array_equal(frame, reference[index]) for index, frame in frames)


def test_written_video_keeps_its_frames_rate_and_the_sound_of_its_span(source: Path, tmp_path: Path) -> None:
    selection = Selection(start=4, end=20, stride=2)
    frames = [frame for _, frame in read_frames(source, selection)]
    out = tmp_path / "out.mp4"
    fps = selection.fps(probe(source).fps)
    assert write_video(out, frames, fps, (source, *selection.span(FPS, len(frames)))) == 8
    got, rate, audio, seconds = decoded(out)
    assert len(got) == 8 and rate == 6 and audio == "aac"
    assert seconds == pytest.approx(16 / 12, abs=0.05)  # source frames 4..19 last 16/12 s
    assert np.abs(got[3].astype(int) - frames[3].astype(int)).mean() < 3  # crf 18: close to the input


def test_sound_another_container_cannot_take_is_re_encoded(tmp_path: Path) -> None:
    source = tmp_path / "pcm.mkv"
    write_clip(str(source), synthetic_clip(frames=12).frames, FPS, codec="pcm_s16le")
    frames = [frame for _, frame in read_frames(source)]
    out = tmp_path / "out.mp4"
    write_video(out, frames, Fraction(FPS), (source, 0.0, 1.0))
    _, _, audio, seconds = decoded(out)
    assert audio == "aac" and seconds == pytest.approx(1.0, abs=0.05)


def test_odd_sizes_lose_a_row_and_a_column(tmp_path: Path) -> None:
    out = tmp_path / "odd.mp4"
    write_video(out, [np.zeros((33, 47, 3), np.uint8)] * 3, Fraction(10))
    got, _, audio, _ = decoded(out)
    assert len(got) == 3 and got[0].shape == (32, 46, 3) and audio is None


def test_a_file_that_is_not_a_video_is_one_line(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("not a video")
    with pytest.raises(StylecoreError, match=r"^notes.mp4: cannot open as a video"):
        probe(bogus)


def test_decoding_that_fails_before_the_first_frame_is_one_line(source: Path, monkeypatch) -> None:
    class Broken:
        """A container that opens but whose first packet does not decode."""

        def __init__(self, real) -> None:
            self.real, self.streams = real, real.streams

        def __enter__(self):
            return self

        def __exit__(self, *exc) -> None:
            self.real.close()

        def decode(self, stream):
            raise av.error.InvalidDataError(1094995529, "Invalid data found when processing input")
            yield  # a generator, like PyAV's

    opened = av.open
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: Broken(opened(*args, **kwargs)))
    with pytest.raises(StylecoreError, match=r"clip.mp4: decoding failed at frame 1 \(.*Invalid data"):
        list(read_frames(source))
