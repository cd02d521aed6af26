"""Scale-out on Ray Data (``pip install 'stylecore[ray]'``): photos, or chunks of a video, on many workers.

Each worker is an actor of a callable class that loads the model once, in ``__init__``, and then
stylises what ``map_batches`` hands it (one photo, or one chunk of consecutive frames, per call).
Ray does the scheduling; there is one actor per GPU when the cluster has GPUs, else one per CPU.
``ray.init()`` joins the cluster in ``RAY_ADDRESS`` when it is set and starts a local one otherwise.

Video chunks overlap by a few frames; both chunks stylise the overlap and :func:`assemble` fades
from one to the other across it, so a seam between workers is a short cross-fade, not a jump.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..config import StyleConfig
from ..errors import StylecoreError
from ..extras import require
from ..imaging.images import array_to_tensor, tensor_to_array
from ..model.extractor import vgg19_extractor
from ..optim.device import resolve_device
from ..optim.run import stylize
from ..video.chain import VideoSettings, stylize_frames
from ..video.media import Frame


def load_ray() -> Any:
    """The ``ray`` module, or a one-line error saying which extra installs it (tests stand a fake in)."""
    return require("ray", "the Ray backend", "ray")


@dataclass(frozen=True)
class Workers:
    count: int  # actors
    gpus: float  # per actor: 1 on a GPU cluster, else 0
    threads: int  # torch threads per actor


def connect(workers: int | None = None) -> Workers:
    """Join ``RAY_ADDRESS`` or start a local Ray; one worker per GPU, or per CPU without GPUs."""
    if workers is not None and workers < 1:
        raise StylecoreError(f"--workers must be at least 1, got {workers}")
    ray = load_ray()
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False, logging_level="WARNING")
    context = ray.data.DataContext.get_current()  # (importing ray.data configures its logger)
    context.enable_progress_bars = False  # the command draws its own bar...
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # ...which its INFO lines and notices would break
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), max(1, int(resources.get("CPU", 1)))
    count = workers or gpus or cpus
    return Workers(count, 1.0 if gpus else 0.0, max(1, cpus // count))


class _Worker:
    loads = 0  # models loaded in this process: one per worker is the point

    def __init__(self, styles: Sequence[Tensor], config: StyleConfig, threads: int) -> None:
        torch.set_num_threads(threads)  # workers on one machine share its cores
        self.styles, self.config = list(styles), config
        device = resolve_device(config.device)
        self.extractor = vgg19_extractor(layers=config.layers, weights=config.weights, device=device)
        _Worker.loads += 1
        self.name = f"{os.getpid()}/{_Worker.loads}"  # "process/models it has loaded", for the tests to count


class PhotoWorker(_Worker):
    """Stylises photos given as file bytes; an unreadable one comes back with its error instead."""

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        from ..imaging.images import open_image, pil_to_tensor

        images, errors = [], []
        for name, data in zip(batch["name"], batch["data"], strict=True):
            try:
                content = pil_to_tensor(open_image(io.BytesIO(bytes(data)), name=str(name)))
                image = stylize(content, self.styles, self.config, extractor=self.extractor).image
                images.append(tensor_to_array(image))
                errors.append("")
            except Exception as exc:  # one bad photo comes back as its error, the others go on
                images.append(np.zeros((1, 1, 3), np.uint8))
                errors.append(str(exc) if isinstance(exc, StylecoreError) else f"{type(exc).__name__}: {exc}")
        count = len(errors)
        return {"key": batch["key"], "image": images, "error": errors, "worker": [self.name] * count,
                "weights": [self.extractor.weights.label] * count}  # fmt: skip


class ChunkWorker(_Worker):
    """Stylises one chunk of consecutive frames as a temporal chain (:func:`stylize_frames`)."""

    def __init__(self, styles: Sequence[Tensor], config: StyleConfig, settings: VideoSettings, threads: int) -> None:
        super().__init__(styles, config, threads)
        self.settings = settings

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, Any]:
        chunks, errors = [], []
        for frames in batch["frames"]:
            tensors = (array_to_tensor(pixels) for pixels in frames)
            try:
                results = stylize_frames(tensors, self.styles, self.config, self.settings, extractor=self.extractor)
                chunks.append(np.stack([tensor_to_array(image) for image in results]))
                errors.append("")
            except Exception as exc:  # a failed chunk comes back as its error; others are kept
                chunks.append(np.zeros((1, 1, 1, 3), np.uint8))
                errors.append(str(exc) if isinstance(exc, StylecoreError) else f"{type(exc).__name__}: {exc}")
        return {"key": batch["key"], "frames": chunks, "error": errors, "worker": [self.name] * len(chunks)}


def _map(items: list[dict[str, Any]], worker: type, workers: Workers, **kwargs: Any) -> Iterator[dict[str, Any]]:
    ray = load_ray()
    dataset = ray.data.from_items(items).map_batches(
        worker,
        fn_constructor_kwargs={**kwargs, "threads": workers.threads},
        batch_size=1,  # one photo or chunk per call: sizes differ, and the next waits for a free worker
        num_cpus=workers.threads,
        num_gpus=workers.gpus,
        compute=ray.data.ActorPoolStrategy(size=workers.count),
    )
    yield from dataset.iter_rows()  # in the order they finish


@dataclass(frozen=True)
class PhotoResult:
    key: str
    image: Frame | None  # None when the photo could not be read
    error: str
    worker: str  # "pid/models loaded" of the worker that made it
    weights: str  # the label of the weights it used


def stylize_photos(
    photos: Iterable[tuple[str, str, bytes]], styles: Sequence[Tensor], config: StyleConfig, workers: Workers
) -> Iterator[PhotoResult]:
    """A :class:`PhotoResult` for each (key, file name, file bytes), as workers finish them."""
    items = [{"key": key, "name": name, "data": data} for key, name, data in photos]
    for row in _map(items, PhotoWorker, workers, styles=list(styles), config=config):
        error = str(row["error"])
        image = None if error else np.asarray(row["image"])
        yield PhotoResult(str(row["key"]), image, error, str(row["worker"]), str(row["weights"]))


def chunk_spans(count: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) positions of chunks of about ``size`` frames, each reaching ``overlap`` frames back."""
    if size < 1 or overlap < 0 or overlap >= size:
        raise StylecoreError(f"chunks of {size} frames cannot overlap by {overlap}; use 0 <= overlap < chunk")
    return [(max(0, start - overlap), min(count, start + size)) for start in range(0, count, size)]


def stylize_chunks(
    frames: Sequence[Frame],
    spans: Sequence[tuple[int, int]],
    styles: Sequence[Tensor],
    config: StyleConfig,
    settings: VideoSettings,
    workers: Workers,
    skip: frozenset[int] = frozenset(),
) -> Iterator[tuple[int, np.ndarray | ChunkError, str]]:
    """(chunk, its stylised frames (n, H, W, 3), worker) for each span not in ``skip``, as they finish.

    A chunk that failed comes back as a :class:`ChunkError` instead of its frames.
    """
    items = [{"key": i, "frames": np.stack(frames[a:b])} for i, (a, b) in enumerate(spans) if i not in skip]
    kwargs = {"styles": list(styles), "config": config, "settings": settings}
    for row in _map(items, ChunkWorker, workers, **kwargs):
        if str(row["error"]):
            yield int(row["key"]), ChunkError(str(row["error"])), str(row["worker"])
        else:
            yield int(row["key"]), np.asarray(row["frames"]), str(row["worker"])


class ChunkError(StylecoreError):
    """A video chunk that failed on its worker (the message says why)."""


def assemble(
    position: int,
    spans: Sequence[tuple[int, int]],
    results: dict[int, np.ndarray],
) -> Frame | None:
    """The output frame at ``position``: its chunk's, or in an overlap a cross-fade of both; None until ready.

    In the overlap the later chunk's share rises linearly from 1/(k+1) to k/(k+1) over its k frames.
    """
    owners = [i for i, (a, b) in enumerate(spans) if a <= position < b]
    if any(i not in results for i in owners):
        return None
    if len(owners) == 1:
        a, _ = spans[owners[0]]
        return np.asarray(results[owners[0]][position - a])
    early, late = owners[0], owners[-1]
    start, overlap_end = spans[late][0], spans[early][1]
    share = (position - start + 1) / (overlap_end - start + 1)
    mixed = (1 - share) * results[early][position - spans[early][0]] + share * results[late][position - start]
    return np.asarray(mixed.round().astype(np.uint8))
