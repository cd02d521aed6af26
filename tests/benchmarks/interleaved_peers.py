"""Seconds per step of ours and the peers, interleaved round-robin in one process (robust on a shared machine).

``python -m tests.benchmarks.interleaved_peers 256 [rounds]``: the peers group's own steppers and verdict
(``precision=auto`` as the user gets it, with the user's cached verdict).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch

from stylecore import vgg19_extractor

from .peers import TutorialObjective
from .report import peer_step_rows
from .test_bench_peers import TAPS, all_steppers, interleave, run_info


def main(argv: list[str]) -> None:
    size, rounds = int(argv[0]) if argv else 256, int(argv[1]) if len(argv) > 1 else 4
    torch.set_num_threads(2)
    extractor = vgg19_extractor(layers=TAPS + TutorialObjective().layers, weights="random:0")
    steppers, skipped = all_steppers(size, extractor, Path(tempfile.mkdtemp()))
    run = run_info(size, rounds, skipped, interleave(steppers, rounds))
    print(f"CPU: {run['cpu']['model']}, flags {', '.join(run['cpu']['flags']) or 'none of the decisive ones'}")
    print("\n".join(peer_step_rows([{"extra_info": run}])))


if __name__ == "__main__":
    main(sys.argv[1:])
