"""Group memory-N: peak CPU RSS (and CUDA max allocated) of three steps at N x N."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

DEVICES = ["cpu", "cuda"]


@pytest.mark.parametrize("device", DEVICES)
def test_peak_memory(benchmark, size: int, device: str) -> None:
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")

    def probe() -> dict[str, float]:
        command = [sys.executable, "-m", "tests.benchmarks.memory_probe", str(size), device]
        return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)

    result = benchmark.pedantic(probe, rounds=1, iterations=1)
    benchmark.group = f"memory-{size}"
    benchmark.extra_info.update(kind="memory", variant=device, **result)
    assert result["peak_rss_mib"] > result["baseline_rss_mib"] > 0  # three steps allocate something
