"""Markdown for the export report (printed and written to artifacts/profile.md)."""

from __future__ import annotations

from collections.abc import Iterable

from .checks import PARITY_TOLERANCE, ParityRow
from .profiling import LatencyRow, OpProfile


def _table(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    header = list(header)
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def parity_section(rows: list[ParityRow]) -> str:
    worst: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (row.runtime, row.layer)
        worst[key] = max(worst.get(key, 0.0), row.rel_error)
    cases = sorted({f"{r.runtime}: {r.case}" for r in rows})
    body = _table(
        ["runtime", "layer", "max relative error"], [(rt, layer, f"{e:.2e}") for (rt, layer), e in worst.items()]
    )
    return (
        f"## Parity with PyTorch (tolerance {PARITY_TOLERANCE:g}, max|a-b| / max|b|)\n\n"
        f"Inputs: {', '.join(cases)}.\n\n{body}\n"
    )


def latency_section(rows: list[LatencyRow], providers: list[str], runs: int) -> str:
    body = _table(
        ["size", "PyTorch eager ms", "ONNX Runtime ms", "ORT speed-up"],
        [(f"{r.size}x{r.size}", f"{r.torch_ms:.1f}", f"{r.ort_ms:.1f}", f"{r.speedup:.2f}x") for r in rows],
    )
    return f"## Latency, batch 1 (median of {runs} runs after a warm-up; ORT providers {providers})\n\n{body}\n"


def ops_section(profile: OpProfile, size: int, top: int = 8) -> str:
    total = profile.total_ms or 1.0
    ops = _table(
        ["op type", "ms", "share"],
        [(op, f"{ms:.1f}", f"{ms / total:.1%}") for op, ms in profile.op_ms.items()],
    )
    nodes = _table(
        ["node", "ms per run"],
        [(name, f"{ms / profile.runs:.2f}") for name, ms in list(profile.node_ms.items())[:top]],
    )
    return (
        f"## ONNX Runtime profile ({profile.runs} runs at {size}x{size}; raw trace {profile.trace.name})\n\n"
        f"Session initialisation: {profile.session_init_ms:.0f} ms.\n\n"
        f"Kernel time by op type (fused Conv+ReLU nodes count as Conv):\n\n{ops}\n\nTop nodes:\n\n{nodes}\n"
    )


def opt_level_section(levels: dict[str, float], size: int) -> str:
    base = levels.get("basic")
    rows = [(level, f"{ms:.1f}", f"{base / ms:.2f}x" if base else "") for level, ms in levels.items()]
    body = _table(["graph optimisation", "ms", "vs basic"], rows)
    return f"## Graph optimisation level at {size}x{size}\n\n{body}\n"
