"""``stylecore video IN STYLE [STYLE ...] -o OUT.mp4``: a temporally consistent stylised video.

Each frame starts from the previous result warped by optical flow and is held to it where the
flow is trusted (Ruder et al. 2016), so later frames take fewer steps; ``--temporal-weight 0`` is
plain frame by frame. Finished frames go to a cache folder (OUT.frames/): run the same command
again and it goes on where it stopped. Ctrl-C stops after the frame in progress and still writes
a playable video of the frames done. The frame rate is kept and the sound copied.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import (
    Interrupts,
    Parser,
    add_run_settings,
    check_output,
    config_from_args,
    fail,
    load_extractor,
    run_command,
    say,
    warn,
)

PROG = "stylecore video"

if TYPE_CHECKING:
    from ..config import StyleConfig
    from ..video.frame_cache import FrameCache
    from ..video.media import Selection, VideoInfo
    from ..video.settings import VideoSettings


def build_parser() -> argparse.ArgumentParser:
    from ..video.media import VIDEO_SUFFIXES
    from ..video.settings import DEFAULT_TEMPORAL_WEIGHT

    parser = Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", type=Path, help="a video file (anything FFmpeg reads)")
    parser.add_argument("styles", type=Path, nargs="+", metavar="style", help="style image(s)")
    parser.add_argument("-o", "--output", type=Path, required=True, help=f"output video ({', '.join(VIDEO_SUFFIXES)})")
    frames = parser.add_argument_group("frames")
    frames.add_argument("--start", type=int, default=0, help="first frame, counting from 0 (default: 0)")
    frames.add_argument("--end", type=int, help="stop before this frame (default: the last)")
    frames.add_argument("--stride", type=int, default=1, help="every Nth frame; the frame rate is divided by N so "
                        "the clip keeps its length and sound (default: 1)")  # fmt: skip
    frames.add_argument("--frames-dir", type=Path, help="cache of finished frames (default: OUT.frames/ beside OUT)")
    frames.add_argument("--keep-frames", action="store_true", help="keep the cache after a complete run")
    temporal = parser.add_argument_group("temporal consistency")
    temporal.add_argument("--temporal-weight", type=float, default=DEFAULT_TEMPORAL_WEIGHT,
                          help=f"hold each frame to the previous one, warped (0: frame by frame; "
                               f"default: {DEFAULT_TEMPORAL_WEIGHT:g})")  # fmt: skip
    temporal.add_argument("--later-iterations", type=int, help="steps for frames after the first "
                          "(default: a quarter of --iterations; all of them with --temporal-weight 0)")  # fmt: skip
    scale = parser.add_argument_group("scale-out")
    scale.add_argument("--backend", choices=["local", "ray"], default="local",
                       help="ray: chunks of frames on a Ray cluster ($RAY_ADDRESS, else a local one)")  # fmt: skip
    scale.add_argument("--workers", type=int, help="Ray workers (default: one per GPU, else one per CPU)")
    scale.add_argument("--chunk", type=int, default=24, help="frames per Ray chunk (default: 24)")
    scale.add_argument("--overlap", type=int, default=4, help="frames neighbouring chunks share and cross-fade "
                       "(default: 4)")  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    add_run_settings(parser)
    return parser


@dataclass
class Job:
    args: argparse.Namespace
    config: StyleConfig
    settings: VideoSettings
    selection: Selection
    info: VideoInfo
    cache: FrameCache
    styles: list[Any]
    seconds: dict[str, list[float]] = field(default_factory=dict)  # "first", "later" frames or "ray", this run
    failed: list[str] = field(default_factory=list)  # why frames or chunks failed, this run

    @property
    def total(self) -> int:
        return self.selection.count(self.info.frames)

    def index(self, position: int) -> int:
        """The source frame index of the ``position``-th selected frame."""
        return self.selection.start + position * self.selection.stride


def video_main(argv: list[str] | None = None) -> int:
    """Entry point of ``stylecore video``; 0 when every selected frame is in the output."""
    # A second signal, or one during the final encode, aborts: an earlier output stays whole.
    return run_command(PROG, lambda interrupts: _video(build_parser().parse_args(argv), interrupts))


def _video(args: argparse.Namespace, interrupts: Interrupts) -> int:
    from ..errors import StylecoreError

    try:
        job = _prepare(args)
    except (StylecoreError, OSError) as exc:
        return fail(PROG, exc)
    try:
        try:
            (_run_ray if args.backend == "ray" else _run_local)(job, interrupts)
        except Exception as exc:  # the frames finished so far stay cached for the next run
            reason = str(exc) if isinstance(exc, StylecoreError | OSError) else f"{type(exc).__name__}: {exc}"
            fail(PROG, reason)
            job.failed.append(reason)
        return _finish(job, interrupts)
    finally:
        if not job.cache.done():
            job.cache.remove()  # nothing finished: leave no empty OUT.frames/ behind


def _prepare(args: argparse.Namespace) -> Job:
    from ..errors import StylecoreError
    from ..imaging.images import load_image
    from ..imaging.outputs import WritePlan, check_no_inputs_inside
    from ..video.frame_cache import FrameCache
    from ..video.media import VIDEO_SUFFIXES, Selection, probe
    from ..video.settings import VideoSettings

    plan = WritePlan()
    plan.read(args.input, *args.styles)
    plan.write(args.output)
    check_output(args.output, plan, VIDEO_SUFFIXES)
    folder = args.frames_dir or args.output.with_name(f"{args.output.stem}.frames")
    check_no_inputs_inside(folder, [*plan.reads, args.output], "--frames-dir")
    config = config_from_args(args)
    settings = VideoSettings(args.temporal_weight, args.later_iterations)
    selection = Selection(args.start, args.end, args.stride)
    if args.workers is not None and args.workers < 1:
        raise StylecoreError(f"--workers must be at least 1, got {args.workers}")
    if args.backend == "ray":
        from ..backends.ray import chunk_spans

        chunk_spans(0, args.chunk, args.overlap)  # checks --chunk and --overlap before any work
    info = probe(args.input)
    _check_frames(args, info, selection, config, settings)
    styles = [load_image(path) for path in args.styles]
    cache = FrameCache(folder, _cache_key(args, config, settings, selection))
    if cache.discarded:
        warn(f"{folder}: {cache.discarded} frames there were made with other settings; starting again")
    return Job(args, config, settings, selection, info, cache, styles)


def _check_frames(
    args: argparse.Namespace, info: VideoInfo, selection: Selection, config: StyleConfig, settings: VideoSettings
) -> None:
    """From the stream header, before any frame is decoded: frame size, what the range selects, flow's minimum."""
    from ..errors import StylecoreError
    from ..imaging.sizing import fit_long_side
    from ..optim.memory import check_image_size

    name = args.input.name
    check_image_size(info.height, info.width, f"{name}: each frame")  # the pixel limit images have
    if info.frames and selection.start >= info.frames:
        raise StylecoreError(f"{name} has {info.frames} frames, so --start {selection.start} selects none")
    if info.frames and selection.stride > info.frames:
        raise StylecoreError(f"--stride {selection.stride} is longer than {name} ({info.frames} frames)")
    if selection.stride > 10_000:  # the output rate would be below what encoders take
        raise StylecoreError(f"--stride {selection.stride} is too large; use at most 10000")
    short = min(fit_long_side(info.height, info.width, config.size))
    if settings.temporal and short < MIN_FLOW_SIDE:
        raise StylecoreError(
            f"{name} is {info.width}x{info.height}: at --size {config.size} its short side is {short} px, and "
            f"optical flow needs {MIN_FLOW_SIDE}; raise --size or use --temporal-weight 0"
        )


#: OpenCV's DIS flow refuses frames under 12 px on a side.
MIN_FLOW_SIDE = 12


def _cache_key(
    args: argparse.Namespace, config: StyleConfig, settings: VideoSettings, sel: Selection
) -> dict[str, Any]:
    """What decides a finished frame (not ``--end``: a longer run reuses the frames of a shorter one)."""
    stat = args.input.stat()
    files = [(str(p.resolve()), p.stat().st_size, p.stat().st_mtime_ns) for p in args.styles]
    return {"input": [str(args.input.resolve()), stat.st_size, stat.st_mtime_ns], "styles": files,
            "config": asdict(config), "video": asdict(settings), "start": sel.start, "stride": sel.stride,
            "backend": args.backend, "chunk": args.chunk, "overlap": args.overlap}  # fmt: skip


def _bar(job: Job, unit: str, position: int) -> Any:
    """A progress bar on stderr: frames at the top (position 0), a frame's steps under it."""
    from tqdm import tqdm

    total = job.total if position == 0 and job.total else None
    return tqdm(total=total, unit=unit, disable=job.args.quiet, position=position, leave=position == 0,
                file=sys.stderr)  # fmt: skip


def _run_local(job: Job, interrupts: Interrupts) -> None:
    """Frames in order through one :class:`FrameChain`; cached ones are read back, not redone."""
    from ..imaging.images import array_to_tensor
    from ..video.chain import FrameChain
    from ..video.media import read_frames

    chain = FrameChain(job.styles, job.config, job.settings, extractor=load_extractor(job.config))
    frames_bar, steps_bar = _bar(job, "frame", 0), _bar(job, "step", 1)
    interrupts.running = True  # from here a first Ctrl-C means: stop, and write what is done
    try:
        with frames_bar, steps_bar:
            for index, pixels in read_frames(job.args.input, job.selection):
                frame = array_to_tensor(pixels)
                if job.cache.has(index):
                    chain.accept(frame, job.cache.load(index))
                elif (image := _stylise(chain, frame, steps_bar, interrupts, job)) is not None:
                    job.cache.save(index, image)
                    chain.accept(frame, image)
                if interrupts.received:
                    return  # a half-done frame is not kept
                frames_bar.update(1)
    finally:
        interrupts.running = False


def _stylise(chain: Any, frame: Any, bar: Any, interrupts: Interrupts, job: Job) -> Any:
    """Run one frame under the step bar (flow and warp timed too); None when a signal stopped it."""
    kind = "later" if chain.started else "first"
    started = time.perf_counter()
    run = chain.start(frame)
    bar.reset(total=run.config.iterations)
    for progress in run:
        bar.update(1)
        bar.set_postfix({name: f"{value:.3g}" for name, value in progress.losses.values.items()})
        if interrupts.received:
            return None
    job.seconds.setdefault(kind, []).append(time.perf_counter() - started)
    return run.result().image


def _run_ray(job: Job, interrupts: Interrupts) -> None:
    """Chunks of consecutive frames on Ray workers; a frame is written once every chunk holding it is back."""
    from ..backends.ray import ChunkError, chunk_spans, connect, stylize_chunks
    from ..imaging.images import array_to_tensor, tensor_to_array
    from ..optim.engine import to_long_side
    from ..video.media import read_frames

    size = job.config.size  # workers get frames at the output size: less to ship
    frames = [
        tensor_to_array(to_long_side(array_to_tensor(p), size)) for _, p in read_frames(job.args.input, job.selection)
    ]
    spans = chunk_spans(len(frames), job.args.chunk, job.args.overlap)
    indices = [job.index(k) for k in range(len(frames))]
    finished = frozenset(c for c, span in enumerate(spans) if all(job.cache.has(indices[k]) for k in range(*span)))
    workers = connect(job.args.workers)
    workers = replace(workers, count=max(1, min(workers.count, len(spans) - len(finished))))  # no idle actors
    results: dict[int, Any] = {}
    started = time.perf_counter()
    with _bar(job, "frame", 0) as bar:
        bar.update(sum(job.cache.has(i) for i in indices))
        interrupts.running = True  # Ctrl-C: stop taking results (once the next chunk is back), keep what is written
        try:
            chunks = stylize_chunks(frames, spans, job.styles, job.config, job.settings, workers, finished)
            for chunk, images, _worker in chunks:
                if isinstance(images, ChunkError):  # its frames stay missing; every other chunk is kept
                    a, b = spans[chunk]
                    job.failed.append(f"frames {indices[a]}-{indices[b - 1]} failed: {images}")
                    warn(job.failed[-1])
                    continue
                results[chunk] = images
                bar.update(_write_ready(job, spans, indices, results))
                if interrupts.received:
                    return
        finally:
            interrupts.running = False
    job.seconds["ray"] = [time.perf_counter() - started]


def _write_ready(job: Job, spans: list[tuple[int, int]], indices: list[int], results: dict[int, Any]) -> int:
    """Cache every frame whose chunks are all back; forget chunks with nothing left to give. Returns frames written."""
    from ..backends.ray import assemble
    from ..imaging.images import array_to_tensor

    written = 0
    for chunk in list(results):
        for k in range(*spans[chunk]):
            image = None if job.cache.has(indices[k]) else assemble(k, spans, results)
            if image is not None:
                job.cache.save(indices[k], array_to_tensor(image))
                written += 1
    for chunk in [c for c in results if all(job.cache.has(indices[k]) for k in range(*spans[c]))]:
        del results[chunk]
    return written


def _finish(job: Job, interrupts: Interrupts) -> int:
    """Encode the frames done (a prefix of the selection), with the sound of their span; say what happened."""
    from ..errors import StylecoreError
    from ..video.media import write_video

    ready = _ready(job)
    if not ready:
        say(PROG, "no frame finished; nothing written")
        return interrupts.status(failed=True)
    fps = job.selection.fps(job.info.fps)
    audio = (job.args.input, *job.selection.span(job.info.fps, len(ready))) if job.info.audio else None
    try:
        write_video(job.args.output, (job.cache.pixels(i) for i in ready), fps, audio)
    except (StylecoreError, OSError) as exc:
        return fail(PROG, f"{exc} (the frames are in {job.cache.folder})")
    print(_summary(job, len(ready), fps))
    complete = bool(job.total) and len(ready) == job.total
    if job.failed or (interrupts.received and not complete):
        stop = f"{interrupts.received}: " if interrupts.received else f"{len(job.failed)} failed; "
        warn(f"{stop}wrote the first {len(ready)} of {job.total or '?'} frames; "
              f"run the same command again to go on ({job.cache.folder} holds them)")  # fmt: skip
        return interrupts.status(failed=True)
    if not job.args.keep_frames:
        job.cache.remove()
    return 0


def _ready(job: Job) -> list[int]:
    """Source indices of the selected frames that are finished, up to the first that is not."""
    ready: list[int] = []
    while (not job.total or len(ready) < job.total) and job.cache.has(job.index(len(ready))):
        ready.append(job.index(len(ready)))
    return ready


def _summary(job: Job, written: int, fps: Fraction) -> str:
    sound = f", sound kept ({job.info.audio})" if job.info.audio else ", no sound"
    line = f"wrote {job.args.output} ({written} frames at {float(fps):g} fps{sound})"
    timing = []
    if "ray" in job.seconds:
        timing.append(f"{job.seconds['ray'][0]:.1f} s on Ray")
    if "first" in job.seconds:
        timing.append(f"{job.seconds['first'][0]:.1f} s for the first frame")
    if later := job.seconds.get("later"):
        timing.append(f"{sum(later) / len(later):.1f} s per later frame")
    return f"{line}; {', '.join(timing)}" if timing else line
