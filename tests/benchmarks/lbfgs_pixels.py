"""L-BFGS parametrisations raced to Adam's N-step objective: ``python -m tests.benchmarks.lbfgs_pixels 64 300``.

Variants: ``box`` (raw pixels, clamped after each step, the curvature pair built from the projected step),
``box-reset`` (raw pixels, clamped, history dropped whenever the clamp moved a pixel), ``engine`` (the
engine's own, both of those) and ``penalty`` (raw pixels, a quadratic penalty for leaving [0, 1], clamped only
at the end). The former sigmoid-logits variant is gone from the engine; its figures are in the README.
The judge is the objective at the final pixels clamped to [0, 1], same seeded weights, fp32.
"""

from __future__ import annotations

import sys
import time

import torch

from stylecore import StyleConfig, load_image, vgg19_extractor
from stylecore.config import LBFGS_HISTORY
from stylecore.optim.engine import LossTerms, PixelOptimizer, WholeImage, build_terms, objective

from ..conftest import EXAMPLES


class RawLBFGS(PixelOptimizer):
    """L-BFGS on the pixels themselves; ``mode`` says how they are kept in [0, 1]."""

    def __init__(self, image, extractor, terms, config, mode: str, weight: float = 0.0) -> None:  # type: ignore[no-untyped-def]
        super().__init__(image, extractor, terms, config)
        self.mode, self.weight, self.uses_logits = mode, weight, False
        self.param = image.detach().clone().requires_grad_(True)
        self.optimizer = torch.optim.LBFGS([self.param], lr=config.step_size, max_iter=1, history_size=LBFGS_HISTORY)

    def _closure(self) -> float:
        if self.mode != "penalty":
            return super()._closure()
        self.optimizer.zero_grad(set_to_none=True)
        image = self.param
        values = objective(self.extractor(image, self.layers), image, self.terms)
        total = values.pop("total")
        (total + self.weight * (image - image.clamp(0, 1)).square().sum()).backward()  # type: ignore[no-untyped-call]
        self._last = LossTerms({k: v.item() for k, v in values.items()}, total.item())
        return self._last.total

    def step(self) -> LossTerms:
        before = self.param.detach().clone()
        self.optimizer.step(self._closure)
        if self.mode.startswith("box"):
            with torch.no_grad():
                moved = bool(((self.param < 0) | (self.param > 1)).any())
                self.param.clamp_(0, 1)
                state = self.optimizer.state[self.param]
                if self.mode == "box" and state.get("t"):  # the next pair's s is d * t: the step taken
                    state["d"] = (self.param.detach() - before).flatten() / state["t"]
                elif moved:
                    for key in ("old_dirs", "old_stps", "ro"):
                        state[key] = []
        assert self._last is not None
        return self._last


def judge(image: torch.Tensor, extractor, terms) -> float:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        image = image.detach().clamp(0, 1)
        layers = sorted({name for term in terms for name in term.layers})
        return float(objective(extractor(image, layers), image, terms)["total"])


def main(size: int, n: int) -> None:
    torch.set_num_threads(2)
    config = StyleConfig(size=size, device="cpu", save_every=0, precision="fp32", weights="random:0")
    extractor = vgg19_extractor(layers=config.layers, weights="random:0")
    content, style = load_image(EXAMPLES / "chelsea.jpg", size), load_image(EXAMPLES / "strokes.png", size)
    terms = build_terms(extractor, content, [style], config)
    print("start", judge(content, extractor, terms), flush=True)
    adam = PixelOptimizer(content, WholeImage(extractor, terms), config)
    start = time.perf_counter()
    for _ in range(n):
        adam.step()
    adam_s = time.perf_counter() - start
    target = judge(adam.image(), extractor, terms)
    print(f"adam {n} steps {adam_s:.1f}s objective {target:.5g}", flush=True)
    lbfgs = config.with_overrides(optimizer="lbfgs")
    variants = [("engine", None), ("box", None), ("box-reset", None)]
    variants += [("penalty", w) for w in (float(a) for a in sys.argv[3:])]
    for mode, weight in variants:
        run = (
            PixelOptimizer(content, WholeImage(extractor, terms), lbfgs)
            if mode == "engine"
            else RawLBFGS(content, extractor, terms, lbfgs, mode, weight or 0.0)
        )
        start, reached = time.perf_counter(), None
        for step in range(1, n + 1):
            loss = run.step().total
            if reached is None and loss <= target and judge(run.image(), extractor, terms) <= target:
                reached = (step, time.perf_counter() - start)
        final, pixels = judge(run.image(), extractor, terms), run.image().detach()
        out = float(((pixels < 0) | (pixels > 1)).float().mean())
        print(
            f"{mode}{'' if weight is None else f' w={weight:g}'}: {n} steps {time.perf_counter() - start:.1f}s"
            f" objective {final:.5g} ({final / target:.3f} x adam) reached {reached} outside [0,1] {out:.3%}",
            flush=True,
        )


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
