"""Where ONNX Runtime spends its time, and ORT vs PyTorch eager latency."""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import onnxruntime as ort
import torch

from stylecore.model.extractor import VGGExtractor
from stylecore.model.onnx import OnnxExtractor

OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


@dataclass
class OpProfile:
    """A summary of one ORT profiling trace."""

    trace: Path
    session_init_ms: float  # wall time to build the session, measured here
    op_ms: dict[str, float] = field(default_factory=dict)  # op type -> total kernel ms
    node_ms: dict[str, float] = field(default_factory=dict)  # node name -> total kernel ms
    runs: int = 0

    @property
    def total_ms(self) -> float:
        return sum(self.op_ms.values())


@dataclass(frozen=True)
class LatencyRow:
    size: int
    torch_ms: float
    ort_ms: float

    @property
    def speedup(self) -> float:
        return self.torch_ms / self.ort_ms


def session_options(opt_level: str = "all", *, profile_prefix: Path | None = None) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.graph_optimization_level = OPT_LEVELS[opt_level]
    options.intra_op_num_threads = torch.get_num_threads()  # same thread budget as torch
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile_prefix)
    return options


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: allocations, kernel selection
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def profile_ort(
    path: Path, final: Path, *, layers: Sequence[str], size: int, runs: int, opt_level: str = "all"
) -> OpProfile:
    """Run ORT with profiling on and summarise kernel time by op type and node; the trace ends at ``final``.

    ORT writes its trace under a name of its own, so it goes to a private folder beside ``final`` and is
    renamed onto it: nothing is written through a link at ``final``, and a failure leaves nothing behind.
    """
    with tempfile.TemporaryDirectory(dir=final.parent, prefix=".stylecore-partial-") as private:
        options = session_options(opt_level, profile_prefix=Path(private) / "ort_profile")
        start = time.perf_counter()
        extractor = OnnxExtractor(path, layers=layers, session_options=options)  # the file's layers
        session = extractor.session
        init_ms = (time.perf_counter() - start) * 1e3
        image = torch.rand(1, 3, size, size)
        for _ in range(runs):
            extractor(image)
        trace = Path(session.end_profiling())
        summary = summarise_trace(trace, init_ms, runs)
        os.replace(trace, final)
    summary.trace = final
    return summary


def summarise_trace(trace: Path, init_ms: float, runs: int) -> OpProfile:
    profile = OpProfile(trace=trace, session_init_ms=init_ms, runs=runs)
    op_ms: dict[str, float] = defaultdict(float)
    node_ms: dict[str, float] = defaultdict(float)
    for event in json.loads(trace.read_text()):
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            op_ms[event["args"]["op_name"]] += event["dur"] / 1e3
            node_ms[event["name"].removesuffix("_kernel_time")] += event["dur"] / 1e3
    profile.op_ms = dict(sorted(op_ms.items(), key=lambda kv: -kv[1]))
    profile.node_ms = dict(sorted(node_ms.items(), key=lambda kv: -kv[1]))
    return profile


def latency_table(path: Path, extractor: VGGExtractor, sizes: Iterable[int], runs: int) -> list[LatencyRow]:
    """Median latency of one image through torch eager and ORT (opt level all), per size."""
    onnx_extractor = OnnxExtractor(path, layers=extractor.layers, session_options=session_options("all"))
    rows = []
    for size in sizes:
        image = torch.rand(1, 3, size, size)
        with torch.no_grad():
            torch_ms = median_ms(partial(extractor, image), runs)
        rows.append(LatencyRow(size, torch_ms, median_ms(partial(onnx_extractor, image), runs)))
    return rows


def opt_level_ms(
    path: Path, layers: Sequence[str], size: int, runs: int, levels: Iterable[str] = ("basic", "all")
) -> dict[str, float]:
    """Median ORT latency per graph optimisation level."""
    image = torch.rand(1, 3, size, size)
    result = {}
    for level in levels:
        onnx_extractor = OnnxExtractor(path, layers=layers, session_options=session_options(level))
        result[level] = median_ms(partial(onnx_extractor, image), runs)
    return result


def machine() -> str:
    """CPU model, core count and thread settings, for the report."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return f"{model}; {os.cpu_count()} logical CPUs; torch threads {torch.get_num_threads()}; GPU {gpu}"
