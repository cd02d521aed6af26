"""One tiled (or untiled) step in a fresh process: ``python -m tests.benchmarks.tile_probe SIZE TILE [STEPS]``.

Peak RSS never goes down, so each size needs its own process (see memory_probe). Builds the
terms the way a run does (tiled targets when TILE > 0) and prints JSON: peak RSS, the estimate,
seconds per step after the first (the first pays for oneDNN's primitive caches).
"""

from __future__ import annotations

import json
import sys
import time

import torch

from stylecore import PRESETS, vgg19_extractor
from stylecore.optim.engine import PixelOptimizer
from stylecore.optim.memory import estimate_peak_bytes
from stylecore.optim.scale import build_objective
from stylecore.optim.tiling import TiledObjective
from tests.benchmarks.memory_probe import peak_rss_mib, rss_mib


def main(size: int, tile: int, steps: int = 2) -> dict[str, float]:
    config = PRESETS["original"].with_overrides(device="cpu", save_every=0, tile=tile, weights="random:0")
    baseline = rss_mib()
    extractor = vgg19_extractor(layers=config.layers, weights="random:0")
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, size, size, generator=generator)
    style = torch.rand(1, 3, size, size, generator=generator)
    run = PixelOptimizer(content, build_objective(extractor, content, [style], config), config)
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = run.step()
        times.append(time.perf_counter() - start)
    return {
        "size": size,
        "tile": tile,
        "baseline_rss_mib": baseline,
        "peak_rss_mib": peak_rss_mib(),
        "estimate_mib": estimate_peak_bytes(size, size, config) / 2**20,
        "seconds_per_step": min(times[1:] or times),
        "loss": loss.total,
    }


if __name__ == "__main__":
    print(json.dumps(main(*(int(a) for a in sys.argv[1:4]))))


def gradient(size: int, tile: int) -> tuple[torch.Tensor, float]:
    """The tiled gradient of the design's objective at a fixed image, and the seconds it took (second call)."""
    config = PRESETS["original"].with_overrides(device="cpu", tile=tile)
    extractor = vgg19_extractor(layers=config.layers, weights="random:0")
    generator = torch.Generator().manual_seed(0)
    content, style = (
        torch.rand(1, 3, size, size, generator=generator),
        torch.rand(1, 3, size, size, generator=generator),
    )
    objective = build_objective(extractor, content, [style], config)
    assert isinstance(objective, TiledObjective)
    image = content.flip(-1)
    objective.evaluate(image)
    start = time.perf_counter()
    grad = objective.evaluate(image)[1]
    return grad, time.perf_counter() - start


def rank_main(rank: int, world: int, init: str, out: str, size: int, tile: int) -> None:
    """One gloo rank of :func:`gradient` (torch.multiprocessing.spawn target); rank 0 saves the result."""
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        grad, seconds = gradient(size, tile)
        if rank == 0:
            torch.save({"grad": grad, "seconds": seconds}, out)
    finally:
        dist.destroy_process_group()
