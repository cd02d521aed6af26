"""Time to the tutorial loop's N-step objective at a size: ``python -m tests.benchmarks.race_peer 64 300``."""

import sys
import time

import torch

from stylecore import vgg19_extractor

from .conftest import square
from .peers import TutorialLoop, TutorialObjective, evaluate
from .test_bench_peers import TAPS, _our_time_to


def main(size: int, n: int) -> None:
    torch.set_num_threads(2)
    ex = vgg19_extractor(layers=TAPS + TutorialObjective().layers, weights="random:0")
    obj = TutorialObjective()
    peer = TutorialLoop(square(size, 0), square(size, 1), ex, obj)
    t = time.perf_counter()
    for i in range(n):
        peer.step()
        if i + 1 in (25, 50, 100, 200):
            print("peer", i + 1, evaluate(peer.image.detach(), ex, obj), flush=True)
    ps = time.perf_counter() - t
    target = evaluate(peer.image.detach(), ex, obj)
    print(
        "peer", n, "steps", f"{ps:.1f}s", "objective", target, "start", evaluate(square(size, 0), ex, obj), flush=True
    )
    steps, secs, val = _our_time_to(target, size, 3 * n, ex)
    print("ours", steps, f"{secs:.1f}s", val, "ratio", ps / secs, flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
