"""Adam on the pixels, without torch.optim's start-up cost.

``torch.optim.Adam`` imports ``torch._dynamo`` on its first construction and step (its methods are
wrapped to keep the compiler out): about 2 s of CPU on the first run of a process, as long as
``import torch`` itself, for one tensor's update rule. This is that rule, written out exactly as
torch's single-tensor Adam computes it (``amsgrad=False``, no weight decay), so results are the same
to the bit on the CPU (held by tests/test_engine.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


class PixelAdam:
    """``torch.optim.Adam([param], lr)``'s update for one tensor; ``step(closure)`` like torch's optimizers."""

    def __init__(self, param: Tensor, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.param, self.lr, self.betas, self.eps = param, lr, betas, eps
        # Keyed by the parameter, like torch.optim.Optimizer.state (PixelOptimizer reads it).
        self.state: dict[Tensor, dict[str, Any]] = {param: {}}

    def zero_grad(self, set_to_none: bool = True) -> None:
        if set_to_none:
            self.param.grad = None
        elif self.param.grad is not None:
            self.param.grad.zero_()

    def step(self, closure: Callable[[], float]) -> float:
        """Evaluate ``closure`` (which runs backward), then update the parameter in place."""
        with torch.enable_grad():
            loss = closure()
        grad = self.param.grad
        if grad is not None:
            with torch.no_grad():
                self._update(grad)
        return loss

    def _update(self, grad: Tensor) -> None:
        state, (beta1, beta2) = self.state[self.param], self.betas
        if not state:
            state.update(step=0, exp_avg=torch.zeros_like(self.param), exp_avg_sq=torch.zeros_like(self.param))
        state["step"] += 1
        step, exp_avg, exp_avg_sq = state["step"], state["exp_avg"], state["exp_avg_sq"]
        exp_avg.lerp_(grad, 1 - beta1)
        exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step_size = self.lr / (1 - beta1**step)
        denom = (exp_avg_sq.sqrt() / (1 - beta2**step) ** 0.5).add_(self.eps)
        self.param.addcdiv_(exp_avg, denom, value=-step_size)
