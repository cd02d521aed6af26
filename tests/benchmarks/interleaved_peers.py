"""Seconds per step of ours and the peers, interleaved round-robin in one process (robust on a shared machine).

``python -m tests.benchmarks.interleaved_peers 256 [rounds]``; uses the peers group's own steppers.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from stylecore import vgg19_extractor

from .peers import TutorialObjective
from .test_bench_peers import PEERS, TAPS, _stepper


def main(argv: list[str]) -> None:
    size, rounds = int(argv[0]) if argv else 256, int(argv[1]) if len(argv) > 1 else 4
    torch.set_num_threads(2)
    extractor = vgg19_extractor(layers=TAPS + TutorialObjective().layers, weights="random:0")
    steppers = {}
    for variant in PEERS:
        try:
            steppers[variant] = _stepper(variant, size, extractor, Path(tempfile.mkdtemp()))
        except BaseException as exc:  # pytest.skip raises Skipped, a BaseException
            print(f"{variant}: skipped ({exc})")
    times: dict[str, list[float]] = {v: [] for v in steppers}
    for step in steppers.values():
        step()  # warm-up
    for _ in range(rounds):
        for variant, step in steppers.items():
            start = time.perf_counter()
            step()
            times[variant].append(time.perf_counter() - start)
    medians = {v: statistics.median(t) for v, t in times.items()}
    fastest = min(m for v, m in medians.items() if not v.startswith("ours"))
    for variant, m in medians.items():
        print(f"{size} px  {variant:15s} {m:.3f} s/step  {fastest / m:.2f}x vs fastest peer")


if __name__ == "__main__":
    main(sys.argv[1:])
