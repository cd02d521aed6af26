"""Group gpu-512: one step at 512 x 512 on CUDA in fp32, TF32, bf16 autocast, channels_last, torch.compile.

Skipped without a GPU. Each timed call ends with torch.cuda.synchronize().
"""

from __future__ import annotations

import contextlib
import math

import pytest
import torch

from stylecore import vgg19_extractor
from stylecore.optim.engine import PixelOptimizer, WholeImage, build_terms

from .conftest import smoke

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
VARIANTS = ["fp32", "tf32", "bf16-autocast", "channels_last", "compile"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_gpu_step(benchmark, request, bench_config, variant: str) -> None:
    size = 64 if smoke(request.config) else 512
    device = torch.device("cuda")
    extractor = vgg19_extractor(layers=bench_config.layers, weights="random:0", device=device)
    content = torch.rand(1, 3, size, size, device=device)
    style = torch.rand(1, 3, size, size, device=device)
    if variant == "channels_last":
        extractor = extractor.to(memory_format=torch.channels_last)
        content = content.contiguous(memory_format=torch.channels_last)
    config = bench_config.with_overrides(device="cuda")
    run = PixelOptimizer(content, WholeImage(extractor, build_terms(extractor, content, [style], config)), config)
    if variant == "compile":
        run.extractor = torch.compile(extractor)  # type: ignore[assignment]
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = variant == "tf32"
    request.addfinalizer(lambda: _restore_tf32(*saved))  # later tests get the session's defaults back
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if variant == "bf16-autocast" else contextlib.nullcontext()

    def step() -> None:
        with autocast:
            run.step()
        torch.cuda.synchronize()

    torch.cuda.reset_peak_memory_stats()
    benchmark.group = f"gpu-{size}"
    benchmark.pedantic(step, rounds=10, warmup_rounds=3)
    with autocast:
        assert math.isfinite(run.step().total)  # the timed variant computes a loss, not NaN
    benchmark.extra_info.update(
        kind="gpu", variant=variant, size=size, cuda_max_allocated_mib=torch.cuda.max_memory_allocated() / 2**20
    )


def _restore_tf32(matmul: bool, cudnn: bool) -> None:
    torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn
