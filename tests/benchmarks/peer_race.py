"""Time to a peer's objective, measured fairly: the peer's own objective judges both runs.

The tutorial loop runs N steps under its own objective, judged after every step
(judging is never timed). Our run gets exactly that objective as its only loss
term and runs with our defaults (optimiser, scales, stopping, ``precision=auto``)
until the same judge says it is at or below a target taken from the peer's run.
Real images (chelsea / strokes): square noise would make the start itself a
near-optimum of the peer's objective.

``python -m tests.benchmarks.peer_race 128 300`` prints both races.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass

import torch
from torch import Tensor

from stylecore import StyleConfig, VGGExtractor, load_image, vgg19_extractor
from stylecore.optim.run import StyleRun

from ..conftest import EXAMPLES
from .peers import TutorialLoop, TutorialObjective, evaluate


def race_images(size: int) -> tuple[Tensor, Tensor]:
    return load_image(EXAMPLES / "chelsea.jpg", size), load_image(EXAMPLES / "strokes.png", size)


@dataclass(frozen=True)
class PeerTrace:
    """The peer's objective after each step, and its cumulative step time (judging excluded)."""

    values: tuple[float, ...]
    seconds: tuple[float, ...]

    def target(self, which: str) -> tuple[float, int, float]:
        """(objective, steps, seconds): after the last step (``final``) or at its lowest (``best``)."""
        index = len(self.values) - 1 if which == "final" else min(range(len(self.values)), key=self.values.__getitem__)
        return self.values[index], index + 1, self.seconds[index]


def run_peer(size: int, steps: int, extractor: VGGExtractor) -> PeerTrace:
    content, style = race_images(size)
    peer, judge = TutorialLoop(content, style, extractor, TutorialObjective()), _judge(extractor, content, style)
    values, seconds, elapsed = [], [], 0.0
    for _ in range(steps):
        start = time.perf_counter()
        peer.step()
        elapsed += time.perf_counter() - start
        values.append(evaluate(peer.image.detach(), extractor, judge))
        seconds.append(elapsed)
    return PeerTrace(tuple(values), tuple(seconds))


def _judge(extractor: VGGExtractor, content: Tensor, style: Tensor) -> TutorialObjective:
    judge = TutorialObjective()
    judge.set_targets(extractor, content, [style], [1.0])
    return judge


def race_config(size: int, steps: int, layers: tuple[str, ...]) -> StyleConfig:
    """Our default optimiser, scales and stopping, with only the tutorial's objective switched on."""
    return StyleConfig(size=size, iterations=steps, device="cpu", save_every=0, content_weight=0, style_weight=0,
                       tv_weight=0, content_layers=layers, style_layers=layers)  # fmt: skip


def our_time_to(target: float, size: int, cap: int, extractor: VGGExtractor) -> tuple[int, float, float]:
    """(steps, seconds, value): our default run until the judge says it is at or below ``target``.

    Seconds include our target computation (inside the run's first step); ``inf`` when not reached in ``cap``.
    """
    content, style = race_images(size)
    judge = _judge(extractor, content, style)
    run = StyleRun(content, style, race_config(size, cap, judge.layers), extractor=extractor,
                   terms=[TutorialObjective()])  # fmt: skip
    steps, seconds, value, iterator = 0, 0.0, math.inf, iter(run)
    while steps < cap:
        start = time.perf_counter()
        progress = next(iterator, None)
        seconds += time.perf_counter() - start
        if progress is None:
            break
        steps += 1
        value = evaluate(progress.image, extractor, judge)  # judging is not timed
        if value <= target:
            return steps, seconds, value
    return steps, math.inf, value


def main(size: int, steps: int) -> None:
    from .test_bench_peers import TAPS

    torch.set_num_threads(2)
    extractor = vgg19_extractor(layers=TAPS + TutorialObjective().layers, weights="random:0")
    trace = run_peer(size, steps, extractor)
    print(f"peer at 25/50/100/200 steps: {[round(trace.values[k - 1], 5) for k in (25, 50, 100, 200) if k <= steps]}")
    for which in ("final", "best"):
        target, peer_steps, peer_seconds = trace.target(which)
        ours, seconds, value = our_time_to(target, size, 3 * steps, extractor)
        print(f"{which}: peer {peer_steps} steps {peer_seconds:.1f} s -> {target:.6g}; ours {ours} steps "
              f"{seconds:.1f} s -> {value:.6g}; {peer_seconds / seconds:.2f}x faster")  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
