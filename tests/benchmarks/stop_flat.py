"""Where ``--stop-when-flat`` ends a default run, and what it costs in objective.

``python -m tests.benchmarks.stop_flat 128 1000 0.001``: the default run (Adam, one scale, ``precision=auto``)
for N steps, with and without the stop; both final images judged by the same fp32 objective.
"""

from __future__ import annotations

import sys

import torch

from stylecore import StyleConfig, stylize, vgg19_extractor
from stylecore.optim.engine import build_terms, objective

from .peer_race import race_images


def main(size: int, steps: int, threshold: float) -> None:
    torch.set_num_threads(2)
    config = StyleConfig(size=size, iterations=steps, device="cpu", save_every=0, weights="random:0")
    extractor = vgg19_extractor(layers=config.layers, weights="random:0")
    content, style = race_images(size)
    terms = build_terms(extractor, content, [style], config.with_overrides(precision="fp32"))
    for stop in (None, threshold):
        result = stylize(content, style, config.with_overrides(stop_when_flat=stop), extractor=extractor)
        with torch.no_grad():
            value = float(objective(extractor(result.image, config.layers), result.image, terms)["total"])
        print(f"stop_when_flat={stop}: {len(result.history)} steps, {result.elapsed:.1f} s, objective {value:.5f}, "
              f"stopped: {result.stopped}, precision {result.precision}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]))
