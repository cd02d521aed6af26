"""Peak memory of a few steps at one size, in a fresh process: ``python -m tests.benchmarks.memory_probe SIZE``.

Peak RSS never goes down, so each size needs its own process. It is read from
/proc (VmHWM), not ru_maxrss: Linux carries ru_maxrss across fork+exec, so a
probe started from a large parent (pytest with torch loaded) would report the
parent's size. Prints JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

from stylecore import PRESETS, vgg19_extractor
from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms
from stylecore.optim.memory import estimate_peak_bytes
from stylecore.optim.run import resolve_device


def _status_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise KeyError(field)


def rss_mib() -> float:
    """Resident memory now."""
    return _status_mib("VmRSS")


def peak_rss_mib() -> float:
    """Highest resident memory of this process image."""
    return _status_mib("VmHWM")


def main(size: int, device_name: str = "cpu", optimizer: str = "adam", steps: int = 3) -> dict[str, float]:
    device = resolve_device(device_name)
    config = PRESETS["original"].with_overrides(device=device.type, save_every=0, optimizer=optimizer)
    baseline = rss_mib()  # the runtime alone: estimate_peak_bytes counts the weights
    extractor = vgg19_extractor(layers=config.layers, weights="random:0", device=device)
    content = torch.rand(1, 3, size, size, device=device)
    style = torch.rand(1, 3, size, size, device=device)
    run = PixelOptimizer(content, WholeImage(extractor, build_terms(extractor, content, [style], config)), config)
    for _ in range(steps):
        run.step()
    estimate = estimate_peak_bytes(size, size, config) / 2**20
    result = {"size": size, "baseline_rss_mib": baseline, "peak_rss_mib": peak_rss_mib(), "estimate_mib": estimate}
    if device.type == "cuda":
        result["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), *sys.argv[2:4])))
