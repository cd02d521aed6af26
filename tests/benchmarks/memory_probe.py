"""Peak memory of a few steps at one size, in a fresh process: ``python -m tests.benchmarks.memory_probe SIZE``.

ru_maxrss never goes down, so each size needs its own process. Prints JSON.
"""

from __future__ import annotations

import json
import resource
import sys

import torch

from stylecore import PRESETS, vgg19_extractor
from stylecore.engine import Optimisation, compute_targets, resolve_device


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main(size: int, device_name: str = "cpu", steps: int = 3) -> dict[str, float]:
    device = resolve_device(device_name)
    config = PRESETS["seed"].with_overrides(device=device.type, save_every=0)
    extractor = vgg19_extractor(layers=config.layers, weights="random:0", device=device)
    baseline = rss_mib()
    content = torch.rand(1, 3, size, size, device=device)
    style = torch.rand(1, 3, size, size, device=device)
    run = Optimisation(content, extractor, compute_targets(extractor, content, [style], config), config)
    for _ in range(steps):
        run.step()
    result = {"size": size, "baseline_rss_mib": baseline, "peak_rss_mib": rss_mib()}
    if device.type == "cuda":
        result["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), *(sys.argv[2:3] or ["cpu"]))))
