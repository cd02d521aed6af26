"""PixelAdam is torch.optim.Adam's update, to the bit, without importing torch._dynamo."""

import subprocess
import sys

import pytest
import torch

from stylecore.optim.adam import PixelAdam


def _descend(make, steps: int = 25) -> list[torch.Tensor]:
    """Adam on a small non-convex objective (so every term of the update matters); the pixels after each step."""
    generator = torch.Generator().manual_seed(0)
    target, weights = torch.rand(1, 3, 8, 8, generator=generator), torch.rand(3, 3, 3, 3, generator=generator)
    param = torch.rand(1, 3, 8, 8, generator=generator).requires_grad_(True)
    optimizer = make(param)
    seen = []

    def closure() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = (torch.conv2d(param, weights, padding=1).tanh() - target).pow(2).sum()
        loss.backward()
        return float(loss.detach())

    for _ in range(steps):
        optimizer.step(closure)
        seen.append(param.detach().clone())
    return seen


@pytest.mark.parametrize("lr", [0.02, 0.5])
def test_the_same_pixels_as_torch_adam(lr: float) -> None:
    ours = _descend(lambda p: PixelAdam(p, lr=lr))
    torchs = _descend(lambda p: torch.optim.Adam([p], lr=lr))
    assert all(torch.equal(a, b) for a, b in zip(ours, torchs, strict=True))
    assert not torch.equal(ours[0], ours[-1])  # it moved


def test_no_gradient_no_update() -> None:
    param = torch.ones(3, requires_grad=True)
    adam = PixelAdam(param, lr=0.1)
    assert adam.step(lambda: 1.5) == 1.5 and torch.equal(param, torch.ones(3)) and adam.state[param] == {}


def test_a_step_imports_no_compiler() -> None:
    code = (
        "import sys, torch; from stylecore.optim.adam import PixelAdam; p = torch.ones(2, requires_grad=True); "
        "a = PixelAdam(p, lr=0.1)\ndef c():\n    a.zero_grad(); l = (p * p).sum(); l.backward(); return float(l)\n"
        "a.step(c); print('torch._dynamo' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "False"
