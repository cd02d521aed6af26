"""Groups video and ray: temporal consistency and per-frame time on a synthetic clip; batch on Ray vs in-process.

Random weights: temporal consistency is a property of the method, not of trained weights. The clip pans
a textured scene and moves a square across it (tests/synthetic_clip.py); the warping error is
mean |warp(out[t-1]) - out[t]| over pixels the true flow says are visible in both frames.
"""

from __future__ import annotations

import math
import time

import pytest

from stylecore import StyleConfig
from stylecore.video.chain import FrameChain, VideoSettings

from ..conftest import EXAMPLES
from ..synthetic_clip import synthetic_clip, texture, warping_error
from .conftest import smoke

FRAMES, FIRST, LATER = 12, 40, 10  # smoke: 3 frames, 2 then 1 steps
VARIANTS = {
    "frame by frame, 40 then 10 steps": VideoSettings(0.0, LATER),
    "frame by frame, 40 steps each": VideoSettings(0.0, FIRST),
    "temporal (defaults), 40 then 10 steps": VideoSettings(later_iterations=LATER),
}


def _stylise(clip, config: StyleConfig, settings: VideoSettings, extractor) -> tuple[list, list[float], list]:
    """Each frame's image, seconds (flow and warp included) and final losses."""
    chain = FrameChain([texture(64, 64, 7) ** 2], config, settings, extractor=extractor)
    images, seconds, losses = [], [], []
    for frame in clip.frames:
        start = time.perf_counter()
        run = chain.start(frame)
        for _ in run:
            pass
        images.append(run.result().image)
        chain.accept(frame, images[-1])
        seconds.append(time.perf_counter() - start)
        losses.append(run.history[-1])
    return images, seconds, losses


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_video_consistency(benchmark, request, extractor, variant: str) -> None:
    quick = smoke(request.config)
    clip = synthetic_clip(frames=3 if quick else FRAMES)
    settings = VARIANTS[variant]
    if quick:
        settings = VideoSettings(settings.temporal_weight, 1)
    config = StyleConfig(size=96, iterations=2 if quick else FIRST, device="cpu")
    images, seconds, losses = benchmark.pedantic(_stylise, args=(clip, config, settings, extractor), rounds=1)
    benchmark.group = "video"
    benchmark.extra_info.update(kind="video", size=96, variant=variant, frames=len(images),
                                warping_error=warping_error(images, clip), first_frame_s=seconds[0],
                                later_frame_s=sum(seconds[1:]) / len(seconds[1:]),
                                later_style_loss=sum(loss["style"] for loss in losses[1:]) / len(losses[1:]),
                                first_style_loss=losses[0]["style"])  # fmt: skip
    assert len(images) == len(clip.frames) and math.isfinite(benchmark.extra_info["warping_error"])
    assert all(math.isfinite(loss.total) for loss in losses)


@pytest.mark.parametrize("backend", ["in-process", "ray, 2 CPU workers"])
def test_batch_backends(benchmark, request, tmp_path, backend: str) -> None:
    """8 photos at 64 px, 100 steps each, through `stylecore batch` (Ray's start-up included)."""
    from stylecore.cli.main import main

    quick = smoke(request.config)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2 if quick else 8):
        (photos / f"{i}.jpg").write_bytes((EXAMPLES / "chelsea.jpg").read_bytes())
    argv = ["batch", str(photos), str(EXAMPLES / "strokes.png"), "--size", "64", "--iterations",
            "1" if quick else "100", "--weights", "random:0", "-q", "--overwrite"]  # fmt: skip
    if backend.startswith("ray"):
        pytest.importorskip("ray")
        argv += ["--backend", "ray", "--workers", "2"]

    def run() -> None:
        assert main([*argv, "-o", str(tmp_path / "out")]) == 0

    benchmark.pedantic(run, rounds=1)
    assert len(list((tmp_path / "out").glob("*.png"))) == (2 if quick else 8)
    benchmark.group = "ray"
    benchmark.extra_info.update(kind="ray", size=64, variant=backend, photos=2 if quick else 8)
    if backend.startswith("ray"):
        import ray

        ray.shutdown()
