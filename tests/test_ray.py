"""The Ray backend: chunk arithmetic (no Ray needed), then batch and video on a local Ray with 2 CPU workers."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from stylecore.backends.ray import assemble, chunk_spans, connect
from stylecore.cli.main import main
from stylecore.errors import StylecoreError

from .conftest import EXAMPLES, TEST_THREADS
from .support import FAST, decoded


def test_chunks_cover_every_frame_and_reach_back_by_the_overlap() -> None:
    assert chunk_spans(10, 4, 1) == [(0, 4), (3, 8), (7, 10)]
    assert chunk_spans(3, 4, 2) == [(0, 3)]
    with pytest.raises(StylecoreError, match="cannot overlap"):
        chunk_spans(10, 4, 4)


def test_overlaps_cross_fade_and_wait_for_both_chunks() -> None:
    spans = chunk_spans(8, 4, 2)  # (0, 4), (2, 8): positions 2 and 3 are in both
    early, late = np.zeros((4, 1, 1, 3), np.uint8), np.full((6, 1, 1, 3), 90, np.uint8)
    assert assemble(1, spans, {0: early}) is not None
    assert assemble(2, spans, {0: early}) is None  # the later chunk is not back yet
    results = {0: early, 1: late}
    assert [int(assemble(k, spans, results)[0, 0, 0]) for k in range(8)] == [0, 0, 30, 60, 90, 90, 90, 90]


@pytest.fixture(scope="module")
def local_ray():
    """A local Ray of 2 workers' worth of CPUs: ``connect(2)`` then gives each the tests' thread count."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2 * TEST_THREADS, include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    yield
    ray.shutdown()


def _photos(folder: Path) -> Path:
    folder.mkdir()
    for i, name in enumerate(["chelsea.jpg", "hubble.jpg"] * 2):
        shutil.copy(EXAMPLES / name, folder / f"{i}-{name}")
    (folder / "broken.png").write_text("not an image")
    return folder


@pytest.mark.slow
def test_batch_on_ray_matches_in_process(local_ray, tmp_path: Path, capsys) -> None:
    photos = _photos(tmp_path / "photos")
    # Precision is set, not left to `auto`: Ray workers are other processes and would read this CPU's bf16 units.
    run = [str(photos), str(EXAMPLES / "strokes.png"), "--size", "48", "--iterations", "20", "--weights", "random:0",
           "--precision", "fp32", "-q"]  # fmt: skip
    assert main(["batch", *run, "-o", str(tmp_path / "here")]) == 1  # the broken file
    assert main(["batch", *run, "-o", str(tmp_path / "ray"), "--backend", "ray", "--workers", "2"]) == 1
    out = capsys.readouterr()
    assert out.out.count("4 written, 0 already there, 1 failed") == 2
    assert out.err.count("skipped broken.png: broken.png: not a recognised image file") == 2
    # Same pixels, not close ones: the same code, seeds, steps and precision, and the same torch thread count
    # on both sides (set explicitly: the workers get TEST_THREADS, as this process does). With other thread
    # counts float sums split differently and pixels may differ by a few levels; nothing here promises otherwise.
    assert connect(2).threads == torch.get_num_threads() == TEST_THREADS
    compared = 0
    for here in sorted((tmp_path / "here").iterdir()):
        with Image.open(here) as a, Image.open(tmp_path / "ray" / here.name) as b:
            assert np.array_equal(np.asarray(a), np.asarray(b)), here.name
        compared += 1
    assert compared == 4


@pytest.mark.slow
def test_ray_workers_load_the_model_once(local_ray) -> None:
    import torch

    from stylecore import StyleConfig
    from stylecore.backends.ray import connect, stylize_photos

    config = StyleConfig(size=32, iterations=1, weights="random:0")
    data = (EXAMPLES / "chelsea.jpg").read_bytes()
    results = list(stylize_photos([(str(i), "chelsea.jpg", data) for i in range(6)], [torch.rand(1, 3, 32, 32)],
                                  config, connect(2)))  # fmt: skip
    workers = {r.worker for r in results}
    assert len(results) == 6 and all(r.image is not None for r in results)
    assert 1 <= len(workers) <= 2 and all(w.endswith("/1") for w in workers), workers  # one model per process


@pytest.mark.slow
def test_video_on_ray_writes_every_frame_with_sound(local_ray, clip_files, tmp_path: Path) -> None:
    clip, style = clip_files
    out = tmp_path / "out.mp4"
    argv = ["video", str(clip), str(style), "-o", str(out), *FAST, "--backend", "ray", "--workers", "2",
            "--chunk", "5", "--overlap", "2"]  # fmt: skip
    assert main(argv) == 0
    frames, rate, audio, seconds = decoded(out)
    assert len(frames) == 12 and rate == 12 and audio == "aac" and seconds == pytest.approx(1.0, abs=0.05)


class _FakeRay:
    """Just enough of ``ray`` to see what the backend asks for, without starting it."""

    def __init__(self, resources: dict[str, float]) -> None:
        self.resources, self.asked = resources, {}
        self.data = self
        self.DataContext = self

    def is_initialized(self) -> bool:
        return True

    def get_current(self):
        return self

    def cluster_resources(self) -> dict[str, float]:
        return self.resources

    def ActorPoolStrategy(self, size: int):  # Ray's spelling
        return ("actors", size)

    def from_items(self, items):
        return self

    def map_batches(self, worker, **kwargs):
        self.asked = kwargs
        return self

    def iter_rows(self):
        return iter(())


@pytest.mark.parametrize(
    ("resources", "workers", "expected"),
    [({"CPU": 2}, None, (2, 0.0, 1)), ({"CPU": 32, "GPU": 4}, None, (4, 1.0, 8)), ({"CPU": 8}, 2, (2, 0.0, 4))],
)
def test_one_worker_per_gpu_when_there_are_gpus(monkeypatch, resources, workers, expected) -> None:
    from stylecore.backends import ray as ray_backend

    fake = _FakeRay(resources)
    monkeypatch.setattr(ray_backend, "load_ray", lambda: fake)
    chosen = ray_backend.connect(workers)
    assert (chosen.count, chosen.gpus, chosen.threads) == expected
    list(ray_backend.stylize_photos([], [], None, chosen))
    assert fake.asked["num_gpus"] == expected[1] and fake.asked["compute"] == ("actors", expected[0])
    assert fake.asked["num_cpus"] == expected[2] and fake.asked["batch_size"] == 1
