"""``make gpu-check``: the checks only a CUDA GPU can answer, in one script of a few minutes.

1. the CUDA-only tests and the GPU benchmark group (pytest, smoke mode);
2. bf16 autocast against fp32 on the first losses of a run;
3. a real out-of-memory retry: the GPU is filled, then a run must still finish, smaller;
4. ONNX Runtime's CUDA provider against torch on the GPU;
5. one 512 px step in fp32 and in bf16;
6. /stylize through the app (100 steps at 512 px) against the engine alone.

It prints one table and writes it to ``artifacts/gpu_check.md``. Without a GPU
it says so in one line and exits 0. Random weights throughout: speed and
numerics do not depend on the weight values.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from stylecore.optim.engine import PixelOptimizer, WholeImage

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "artifacts" / "gpu_check.md"
Row = tuple[str, str, str]  # check, result, verdict


def timed(fn: Callable[[], object], runs: int = 10, warmup: int = 3) -> float:
    """Median seconds of ``fn``, synchronising the GPU inside the timed region."""
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def cuda_tests() -> Row:
    command = [sys.executable, "-m", "pytest", "-q", "--benchmark-disable", "-p", "no:cacheprovider",
               "tests/benchmarks/test_bench_gpu.py", "tests/benchmarks/test_bench_memory.py",
               "tests/benchmarks/test_bench_extractor.py", "tests/test_run.py", "tests/test_engine.py",
               "tests/test_video.py::test_the_chain_runs_on_cuda"]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    last = (done.stdout.strip().splitlines() or ["no output"])[-1]
    return "CUDA tests + GPU benchmarks (smoke)", last, "ok" if done.returncode == 0 else "FAIL"


def _step_setup(size: int, bf16: bool) -> PixelOptimizer:
    from stylecore import PRESETS, vgg19_extractor
    from stylecore.optim.engine import build_terms

    config = PRESETS["original"].with_overrides(device="cuda", save_every=0)
    extractor = vgg19_extractor(layers=config.layers, weights="random:0", device="cuda")
    generator = torch.Generator().manual_seed(0)
    content = torch.rand(1, 3, size, size, generator=generator).cuda()
    style = torch.rand(1, 3, size, size, generator=generator).cuda()
    return PixelOptimizer(
        content, WholeImage(extractor, build_terms(extractor, content, [style], config), bf16=bf16), config
    )


def bf16_parity() -> Row:
    fp32 = [_step_setup(256, False).step().total]
    bf16 = [_step_setup(256, True).step().total]
    error = abs(bf16[0] - fp32[0]) / abs(fp32[0])
    return "bf16 vs fp32, first loss at 256 px", f"relative difference {error:.2e}", "ok" if error < 2e-2 else "FAIL"


def step_times() -> list[Row]:
    rows = []
    for bf16 in (False, True):
        run = _step_setup(512, bf16)
        seconds = timed(run.step)
        rows.append((f"one 512 px step, {'bf16' if bf16 else 'fp32'}", f"{seconds * 1e3:.1f} ms", "measured"))
    return rows


def oom_retry() -> Row:
    from stylecore import PRESETS, stylize

    hog, block = [], 1 << 30
    free = torch.cuda.mem_get_info()[0]
    while block >= 1 << 20:  # fill the GPU until less than a small run's worth is left
        try:
            hog.append(torch.empty(block, dtype=torch.uint8, device="cuda"))
        except torch.cuda.OutOfMemoryError:
            block //= 2
    torch.cuda.empty_cache()
    try:
        config = PRESETS["original"].with_overrides(device="cuda", size=512, iterations=3, save_every=0)
        result = stylize(torch.rand(1, 3, 512, 512), torch.rand(1, 3, 512, 512), config)
        side = max(result.image.shape[-2:])
        notes = "; ".join(result.notices) or "no notice"
        verdict = "ok" if side < 512 and result.notices else "FAIL"
        return "out-of-memory retry (GPU filled first)", f"finished at {side} px: {notes}", verdict
    except Exception as exc:  # the finding is the failure, whatever it is
        return "out-of-memory retry (GPU filled first)", f"{type(exc).__name__}: {exc}"[:120], "FAIL"
    finally:
        del hog
        torch.cuda.empty_cache()
        assert torch.cuda.mem_get_info()[0] > free * 0.9


def ort_cuda_parity() -> Row:
    from export.checks import relative_error
    from stylecore import vgg19_extractor
    from stylecore.model.onnx import OnnxExtractor

    out = Path(tempfile.mkdtemp())
    command = [sys.executable, "-m", "export", "--weights", "random:0", "--out", str(out), "--no-profile"]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    if done.returncode != 0:
        return "ORT CUDA provider vs torch", (done.stderr.strip().splitlines() or ["export failed"])[-1], "FAIL"
    onnx = OnnxExtractor(out / "vgg19_extractor.onnx", providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
    image = torch.rand(1, 3, 256, 256)
    got = onnx(image)
    expected = vgg19_extractor(weights="random:0", device="cuda")(image.cuda())
    error = max(relative_error(got[n], expected[n].cpu()) for n in got)
    ok = onnx.providers[0] == "CUDAExecutionProvider" and error < 1e-3
    return (
        "ORT CUDA provider vs torch, 256 px",
        f"{onnx.providers[0]}, max relative error {error:.1e}",
        ("ok" if ok else "FAIL"),
    )


def app_vs_engine() -> list[Row]:
    """100 steps at 512 px: the engine alone, then the same run through the app's HTTP API."""
    os.environ.update(STYLECORE_WEIGHTS="random", STYLECORE_ONNX_DIR=tempfile.mkdtemp())
    sys.path.insert(0, str(ROOT))
    from gradio_client import Client, handle_file

    from demo import settings
    from demo.app import default_app
    from stylecore import stylize
    from stylecore.imaging.images import load_image

    content, style = ROOT / "examples" / "chelsea.jpg", ROOT / "examples" / "strokes.png"
    app = default_app()
    raw = dict(app.defaults, iterations=100, size=512)
    config = settings.check(app.settings, raw, app.hardware, two_styles=False).config
    start = time.perf_counter()
    stylize(load_image(content, 512), load_image(style, 512), config, extractor=app.models.extractor)
    engine = time.perf_counter() - start
    app.launch(server_name="127.0.0.1", server_port=7899, prevent_thread_lock=True, quiet=True)
    try:
        client = Client("http://127.0.0.1:7899/", verbose=False)
        start = time.perf_counter()
        client.predict(content=handle_file(str(content)), style=handle_file(str(style)), iterations=100, size=512,
                       api_name="/stylize")  # fmt: skip
        through_app = time.perf_counter() - start
    finally:
        app.demo.close()
    return [
        ("engine alone: 100 steps at 512 px", f"{engine:.2f} s", "measured"),
        ("/stylize through the app: same run", f"{through_app:.2f} s ({through_app / engine:.2f}x)", "measured"),
    ]


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu-check: no CUDA GPU on this machine; nothing to check (run `make gpu-check` on one).")
        return 0
    rows: list[Row] = [cuda_tests(), bf16_parity(), *step_times(), oom_retry(), ort_cuda_parity(), *app_vs_engine()]
    name = torch.cuda.get_device_name()
    table = "\n".join(
        [f"GPU check on {name}, torch {torch.__version__} (random weights)", "", "| check | result | verdict |",
         "| --- | --- | --- |", *(f"| {a} | {b} | {c} |" for a, b, c in rows)]
    )  # fmt: skip
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(table + "\n")
    print(table)
    return 1 if any(verdict == "FAIL" for *_, verdict in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
