"""The peak-memory estimate: against measured RSS, and the search for the largest size that fits."""

import json
import subprocess
import sys

import pytest

from stylecore import StyleConfig
from stylecore.memory import estimate_peak_bytes, largest_fitting_side


def _config() -> StyleConfig:
    return StyleConfig(size=64, device="cpu", save_every=0)


def test_largest_fitting_side_shrinks_to_the_budget() -> None:
    config = _config()
    budget = estimate_peak_bytes(300, 400, config)
    assert largest_fitting_side(600, 800, config, budget) <= 400 < largest_fitting_side(600, 800, config, 10 * budget)


@pytest.mark.slow
@pytest.mark.parametrize("size", [96, 256])
def test_memory_estimate_within_15_percent_of_measured_rss(size: int) -> None:
    command = [sys.executable, "-m", "tests.benchmarks.memory_probe", str(size), "cpu", "adam"]
    probe = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    measured = probe["peak_rss_mib"] - probe["baseline_rss_mib"]
    assert abs(probe["estimate_mib"] - measured) / measured < 0.15, probe
