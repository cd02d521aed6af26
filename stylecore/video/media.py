"""Reading and writing video files with PyAV (FFmpeg's libraries, shipped in its wheels).

Frames are RGB ``uint8`` arrays (H, W, 3). Writing encodes H.264 (yuv420p, what every player
plays) and carries the source's audio over for the span of frames written: copied packet by
packet when the output container takes its codec, re-encoded otherwise.

PyAV is imported on first use: only video needs it (``pip install 'stylecore[video]'``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import StylecoreError
from ..extras import require
from ..imaging.outputs import VIDEO_TAG, atomic_file

Frame = np.ndarray[Any, np.dtype[np.uint8]]  # (H, W, 3) RGB
VIDEO_SUFFIXES = (".mp4", ".mkv")  # containers we write H.264 into
# Audio codecs copied as they are into those containers; others (PCM, Vorbis, ...) become AAC.
# (PyAV's ``supported_codecs`` lists PCM for MP4, but FFmpeg then fails to finish the file.)
COPIED_AUDIO = frozenset({"aac", "mp3", "opus", "flac", "alac", "ac3", "eac3"})
CRF = 18  # x264 quality: visually lossless for stylised frames, a few MB per minute at 512 px


@dataclass(frozen=True)
class VideoInfo:
    fps: Fraction  # frames per second (the stream's average rate)
    frames: int  # frame count from the header; 0 when the container does not say
    width: int
    height: int
    audio: str | None  # the first audio stream's codec, None without sound


@dataclass(frozen=True)
class Selection:
    """Which frames to take: ``start`` (inclusive) to ``end`` (exclusive), every ``stride``-th."""

    start: int = 0
    end: int | None = None
    stride: int = 1

    def __post_init__(self) -> None:
        if self.start < 0:
            raise StylecoreError(f"start must be 0 or more (frames count from 0), got {self.start}")
        if self.stride < 1:
            raise StylecoreError(f"stride must be 1 or more, got {self.stride}")
        if self.end is not None and self.end <= self.start:
            raise StylecoreError(f"end {self.end} is not after start {self.start}, so the range selects nothing")

    def count(self, frames: int) -> int:
        """How many frames this takes from a clip of ``frames``."""
        end = frames if self.end is None else min(self.end, frames)
        return max(0, -(-(end - self.start) // self.stride))

    def fps(self, fps: Fraction) -> Fraction:
        """The output rate: every ``stride``-th frame at ``fps / stride`` keeps the clip's length and sound."""
        return fps / self.stride

    def span(self, fps: Fraction, written: int) -> tuple[float, float]:
        """Seconds of the source that ``written`` output frames cover (where their audio comes from)."""
        return float(self.start / fps), float((self.start + written * self.stride) / fps)


def _av() -> Any:
    return require("av", "video", "video")


def _open(path: Path) -> Any:
    av = _av()
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as exc:
        raise StylecoreError(f"{path.name}: cannot open as a video ({exc})") from exc
    if not container.streams.video:
        container.close()
        raise StylecoreError(f"{path.name}: has no video stream")
    if container.streams.video[0].codec_context is None:  # a damaged header: PyAV found no codec to open
        container.close()
        raise StylecoreError(f"{path.name}: the video stream has no codec FFmpeg can decode (damaged file?)")
    return container


def probe(path: Path) -> VideoInfo:
    """Frame rate, frame count, size and sound of the video at ``path``."""
    with _open(path) as container:
        stream = container.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate or Fraction(25)
        audio = container.streams.audio[0].codec_context.name if container.streams.audio else None
        frames = stream.frames or round(float(container.duration or 0) / 1e6 * fps)
        return VideoInfo(Fraction(fps), int(frames), stream.width, stream.height, audio)


def read_frames(path: Path, selection: Selection = Selection()) -> Iterator[tuple[int, Frame]]:
    """(index, RGB frame) for each selected frame, in order; indices count from the first frame."""
    av = _av()
    with _open(path) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = -1  # the last frame decoded; -1 until the first (decoding can fail before it)
        try:
            for index, frame in enumerate(container.decode(stream)):
                if selection.end is not None and index >= selection.end:
                    return
                if index >= selection.start and (index - selection.start) % selection.stride == 0:
                    yield index, frame.to_ndarray(format="rgb24")
        except av.error.FFmpegError as exc:
            raise StylecoreError(f"{path.name}: decoding failed at frame {index + 2} ({exc})") from exc


def write_video(
    path: Path, frames: Iterable[Frame], fps: Fraction, audio: tuple[Path, float, float] | None = None
) -> int:
    """Encode ``frames`` as H.264 at ``fps``; with ``audio`` = (source, start s, end s), its sound too.

    Odd widths or heights lose their last row or column (yuv420p needs even sizes). Returns the
    number of frames written; the file is complete (playable) when this returns, even for zero. It is
    written beside ``path`` and renamed onto it at the end, so ``path`` is never half a video.
    """
    with atomic_file(path) as temp:  # a failed or killed encode leaves the earlier result whole
        return _encode(temp, frames, fps, audio)


def _encode(path: Path, frames: Iterable[Frame], fps: Fraction, audio: tuple[Path, float, float] | None) -> int:
    av = _av()
    with av.open(str(path), "w") as out:
        out.metadata[VIDEO_TAG[0]] = VIDEO_TAG[1]  # how --overwrite knows the file is ours
        video: Any = None
        sound = _AudioCopy(out, *audio) if audio is not None else None
        count = 0
        for count, frame in enumerate(frames, start=1):
            even = frame[: frame.shape[0] // 2 * 2, : frame.shape[1] // 2 * 2]
            if video is None:  # the size is known from the first frame
                video = _video_stream(out, fps, even.shape[1], even.shape[0])
            picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(even), format="rgb24")
            picture.pts = count - 1
            out.mux(video.encode(picture))
            if sound is not None:
                sound.until(float(count / fps))  # interleaved with the video, as players expect
        if video is not None:
            out.mux(video.encode(None))
        if sound is not None:
            sound.until(None)
            sound.close()
    return count


def _video_stream(out: Any, fps: Fraction, width: int, height: int) -> Any:
    stream = out.add_stream("libx264", rate=fps, options={"crf": str(CRF)})
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.time_base = 1 / fps
    return stream


class _AudioCopy:
    """The source's first audio stream between two times, into ``out``: copied, or re-encoded if it must be."""

    def __init__(self, out: Any, source: Path, start: float, end: float) -> None:
        self.out, self.start, self.end = out, start, end
        self.container = _open(source)
        streams = self.container.streams.audio
        self.stream = streams[0] if streams else None
        self.packets = iter(self.container.demux(self.stream)) if self.stream is not None else iter(())
        self.copy = self.stream is not None and self.stream.codec_context.name in COPIED_AUDIO
        self.target: Any = None
        self.resampler: Any = None  # only when re-encoding
        if self.stream is not None:
            if self.copy:
                self.target = out.add_stream_from_template(self.stream)
            else:
                self.target = out.add_stream("aac", rate=self.stream.rate)
                self.resampler = _av().AudioResampler(format="fltp", layout="stereo", rate=self.stream.rate)
        self.pending: Any = None

    def until(self, seconds: float | None) -> None:
        """Write the source's audio up to ``seconds`` of output time (None: to the end of the span)."""
        if self.stream is None:
            return
        limit = self.end if seconds is None else min(self.end, self.start + float(seconds))
        while (packet := self._next()) is not None:
            if packet.pts is None:  # the demuxer's empty flush packet
                continue
            time = float(packet.pts * packet.time_base)
            if time >= limit:
                self.pending = packet  # it belongs to a later frame
                return
            if time >= self.start and packet.size:
                self._write(packet)

    def _next(self) -> Any:
        """The packet held back last time, else the next one from the source; None at its end."""
        packet, self.pending = self.pending, None
        return packet if packet is not None else next(self.packets, None)

    def _write(self, packet: Any) -> None:
        shift = round(self.start / packet.time_base)
        if self.copy:
            packet.pts -= shift
            packet.dts = None if packet.dts is None else packet.dts - shift
            packet.stream = self.target
            self.out.mux(packet)
            return
        for frame in packet.decode():
            for part in self.resampler.resample(frame):
                part.pts = None  # the encoder counts samples from 0
                self.out.mux(self.target.encode(part))

    def close(self) -> None:
        if self.target is not None and not self.copy:
            self.out.mux(self.target.encode(None))
        self.container.close()
