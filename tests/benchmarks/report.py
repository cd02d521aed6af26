"""Summarise a pytest-benchmark JSON: one table with ratios, a markdown copy and a plot.

``python -m tests.benchmarks.report artifacts/bench.json`` (``make bench`` runs it).
"""

from __future__ import annotations

import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

Row = tuple[str, dict[int, str]]


def load(path: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    data = json.loads(path.read_text())
    return data["benchmarks"], data.get("machine_info", {})


def by_variant(benchmarks: list[dict[str, Any]], kind: str) -> dict[str, dict[int, dict[str, Any]]]:
    """kind -> {variant: {size: benchmark}}."""
    table: dict[str, dict[int, dict[str, Any]]] = defaultdict(dict)
    for bench in benchmarks:
        info = bench["extra_info"]
        if info.get("kind") == kind:
            table[info["variant"]][info["size"]] = bench
    return table


def median(bench: dict[str, Any] | None) -> float | None:
    return bench["stats"]["median"] if bench else None


def per_step(bench: dict[str, Any] | None) -> float | None:
    """A round's median over the steps it timed (``extra_info["steps"]``, 1 when absent)."""
    value = median(bench)
    return None if value is None or bench is None else value / bench["extra_info"].get("steps", 1)


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a and b else None


def main_rows(benchmarks: list[dict[str, Any]], sizes: list[int]) -> list[Row]:
    steps, fwd, mem = (
        by_variant(benchmarks, "step"),
        by_variant(benchmarks, "extractor"),
        by_variant(benchmarks, "memory"),
    )
    limit = next((b["extra_info"]["gflops"] for b in benchmarks if b["extra_info"].get("kind") == "limit"), None)
    adam, lbfgs, seed = steps.get("ours adam", {}), steps.get("ours lbfgs", {}), steps.get("seed-style", {})
    eager, ort = fwd.get("torch eager", {}), fwd.get("onnxruntime CPU", {})
    rows: list[Row] = []

    def add(label: str, fn: Any, spec: str) -> None:
        rows.append((label, {s: _fmt(fn(s), spec) for s in sizes}))

    add("step, ours Adam (s)", lambda s: median(adam.get(s)), ".3f")
    add("step, ours L-BFGS (s)", lambda s: median(lbfgs.get(s)), ".3f")
    add("step, seed-style loop (s)", lambda s: median(seed.get(s)), ".3f")
    add("ours Adam vs seed-style (x faster)", lambda s: _ratio(median(seed.get(s)), median(adam.get(s))), ".2f")
    add(
        "step GFLOP (conv fwd + input grad + Grams)",
        lambda s: adam[s]["extra_info"]["flops"] / 1e9 if s in adam else None,
        ".1f",
    )
    add(
        f"% of conv limit ({_fmt(limit, '.0f')} GFLOP/s)",
        lambda s: (
            100 * adam[s]["extra_info"]["flops"] / (limit * 1e9) / median(adam[s]) if limit and s in adam else None
        ),
        ".0f",
    )
    add("extractor forward, torch eager (ms)", lambda s: _ms(median(eager.get(s))), ".1f")
    add(
        "extractor forward, channels_last (ms)", lambda s: _ms(median(fwd.get("torch channels_last", {}).get(s))), ".1f"
    )
    add("extractor forward, ONNX Runtime CPU (ms)", lambda s: _ms(median(ort.get(s))), ".1f")
    add("ORT vs eager (x faster)", lambda s: _ratio(median(eager.get(s)), median(ort.get(s))), ".2f")
    add(
        "peak RSS, 3 steps (MiB)",
        lambda s: mem.get("cpu", {}).get(s, {}).get("extra_info", {}).get("peak_rss_mib"),
        ".0f",
    )
    return rows


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


def race_rows(benchmarks: list[dict[str, Any]], kind: str, header: str) -> list[str]:
    """Rows of a time-to-objective race: the baseline's steps and time, ours, and the ratio."""
    lines = []
    for bench in benchmarks:
        info = bench["extra_info"]
        if info.get("kind") != kind:
            continue
        reached = info["seconds"] is not None and math.isfinite(info["seconds"])  # older runs wrote inf
        limit = info.get("limit", info["steps"])
        ours = f"{info['steps']} steps, {info['seconds']:.1f} s" if reached else f"not reached in {limit} steps"
        ratio = f"{info['baseline_seconds'] / info['seconds']:.2f}x" if reached else "n/a"
        baseline = f"{info['baseline_steps']} steps, {info['baseline_seconds']:.1f} s"
        lines.append(f"| {info['variant']} | {baseline} | {ours} | {ratio} |")
    return [header, "| --- | --- | --- | --- |", *lines] if lines else []


def gpu_rows(benchmarks: list[dict[str, Any]]) -> list[str]:
    gpu = [b for b in benchmarks if b["extra_info"].get("kind") == "gpu"]
    if not gpu:
        return []
    base = next((median(b) for b in gpu if b["extra_info"]["variant"] == "fp32"), None)
    lines = ["| GPU step, 512 px | ms | vs fp32 | CUDA max allocated MiB |", "| --- | --- | --- | --- |"]
    for b in gpu:
        info = b["extra_info"]
        lines.append(
            f"| {info['variant']} | {median(b) * 1e3:.1f} | {_fmt(_ratio(base, median(b)), '.2f')}x | "
            f"{info['cuda_max_allocated_mib']:.0f} |"
        )
    return lines


def style_loss_rows(benchmarks: list[dict[str, Any]]) -> list[str]:
    """One step per style statistic (and with regions), against the Gram step."""
    variants = by_variant(benchmarks, "style-loss")
    if not variants:
        return []
    size = max(size for points in variants.values() for size in points)
    gram = median(variants.get("gram", {}).get(size))
    lines = [f"| style statistic, {size} px, Adam | seconds per step | vs gram |", "| --- | --- | --- |"]
    for variant, points in variants.items():
        seconds = median(points.get(size))
        lines.append(f"| {variant} | {_fmt(seconds, '.3f')} | {_fmt(_ratio(seconds, gram), '.2f')}x |")
    return lines


def video_rows(benchmarks: list[dict[str, Any]]) -> list[str]:
    """Temporal consistency and per-frame time on the synthetic clip."""
    rows = [b for b in benchmarks if b["extra_info"].get("kind") == "video"]
    if not rows:
        return []
    frames = rows[0]["extra_info"]["frames"]
    lines = [f"| video, {frames} frames at 96x64 | warping error | first frame (s) | later frames (s each) "
             "| style loss, first / later frames |", "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for bench in rows:
        info = bench["extra_info"]
        style = f"{info['first_style_loss']:.3f} / {info['later_style_loss']:.3f}"
        lines.append(f"| {info['variant']} | {info['warping_error']:.4f} | {info['first_frame_s']:.2f} | "
                     f"{info['later_frame_s']:.2f} | {style} |")  # fmt: skip
    return lines


def ray_rows(benchmarks: list[dict[str, Any]]) -> list[str]:
    rows = [b for b in benchmarks if b["extra_info"].get("kind") == "ray"]
    if not rows:
        return []
    base = next((median(b) for b in rows if b["extra_info"]["variant"] == "in-process"), None)
    lines = [
        f"| batch, {rows[0]['extra_info']['photos']} photos at 64 px | seconds | speed-up |",
        "| --- | --- | --- |",
    ]
    for bench in rows:
        ratio = _fmt(_ratio(base, median(bench)), ".2f")
        lines.append(f"| {bench['extra_info']['variant']} | {median(bench):.1f} | {ratio}x |")
    return lines


def peer_step_rows(benchmarks: list[dict[str, Any]]) -> list[str]:
    """Seconds per step of ours and every peer (interleaved in one run), as a ratio to the fastest peer, and the
    verdict: what ``auto`` chose, whether it was the faster precision here, and whether we are BEHIND."""
    runs = {
        b["extra_info"]["size"]: b["extra_info"]
        for b in benchmarks
        if b["extra_info"].get("kind") == "peer-interleaved"
    }
    if not runs:
        return []
    sizes = sorted(runs)
    variants = list(dict.fromkeys(v for s in sizes for v in runs[s]["seconds"]))
    fastest = {s: fastest_peer(runs[s]["seconds"]) for s in sizes}
    rounds = ", ".join(f"{runs[s]['rounds']} at {s} px" for s in sizes)
    head = " | ".join(f"{s} px: s/step, x vs fastest peer" for s in sizes)
    lines = [
        f"| peers, same weights and taps, interleaved rounds ({rounds}) | {head} |",
        "| --- |" + " --- |" * len(sizes),
    ]
    for variant in variants:
        cells = []
        for s in sizes:
            seconds = runs[s]["seconds"].get(variant)
            cells.append(f"{_fmt(seconds, '.3f')}, {_fmt(_ratio(fastest[s][1], seconds), '.2f')}x")
        label = f"ours: precision=auto, {runs[sizes[0]]['auto']}" if variant == "ours" else variant
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    skipped = {v: why for s in sizes for v, why in runs[s].get("skipped", {}).items()}
    lines += [f"| {variant}: skipped ({why}) |" + " |" * len(sizes) for variant, why in skipped.items()]
    return [*lines, "", *(verdict(runs[s]) for s in sizes)]


def fastest_peer(seconds: dict[str, float]) -> tuple[str | None, float | None]:
    """(name, seconds per step) of the fastest variant that is not ours."""
    peers = {v: t for v, t in seconds.items() if not v.startswith("ours")}
    name = min(peers, key=peers.__getitem__, default=None)
    return name, (peers[name] if name else None)


def verdict(run: dict[str, Any]) -> str:
    """One plain sentence per size: auto's choice against both precisions measured here, ours against the peers."""
    seconds, size = run["seconds"], run["size"]
    fp32, bf16, ours = seconds.get("ours fp32"), seconds.get("ours bf16"), seconds.get("ours")
    chosen, other = ("bf16", "fp32") if run["auto_bf16"] else ("fp32", "bf16")
    faster = fp32 is not None and bf16 is not None and (bf16 < fp32) == run["auto_bf16"]
    pick = (
        f"`auto` chose {run['auto']}; measured here fp32 {_fmt(fp32, '.3f')} s, bf16 {_fmt(bf16, '.3f')} s per step, "
    )
    pick += (
        f"so {chosen} was the faster one." if faster else f"so {other} would have been FASTER: auto chose the slower."
    )
    name, best = fastest_peer(seconds)
    ratio = _ratio(best, ours)
    native = {"avx512_bf16", "amx_bf16"} & set(run.get("cpu", {}).get("flags", []))
    target = 1.5 if native else 1.2
    standing = "n/a" if ratio is None else ("BEHIND" if ratio < 1.0 else "ahead")
    met = "n/a" if ratio is None else ("met" if ratio >= target else "NOT met")
    return (f"**Verdict, {size} px:** {pick} Ours (auto) is {_fmt(ratio, '.2f')}x the fastest peer ({name}): "
            f"{standing}; the {target}x target for this CPU kind is {met}.")  # fmt: skip


def cpu_facts() -> dict[str, Any]:
    """This machine's CPU model and the decisive flags it has (from /proc/cpuinfo; empty elsewhere)."""
    from stylecore.optim.precision import parse_cpuinfo, read_cpuinfo

    info = parse_cpuinfo(read_cpuinfo())
    return {"model": info.model, "flags": sorted(flag for flag in FLAGS if flag in info.flags)}


#: The CPU flags that decide a figure here: SIMD width, and the bf16 units ``precision=auto`` looks for.
FLAGS = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX512-BF16", "amx_bf16": "AMX-BF16"}


def cpu_flags(machine: dict[str, Any]) -> str:
    """The decisive CPU flags that the run's machine had, e.g. ``AVX2, AVX-512, AVX512-BF16; no AMX-BF16``."""
    present = set(machine.get("cpu", {}).get("flags", []))
    if not present:
        return "flags not recorded"
    have = [name for flag, name in FLAGS.items() if flag in present]
    lack = [name for flag, name in FLAGS.items() if flag not in present]
    return ", ".join(have or ["none of " + "/".join(FLAGS.values())]) + (f"; no {', '.join(lack)}" if lack else "")


def _with_flags(benchmarks: list[dict[str, Any]], machine: dict[str, Any]) -> dict[str, Any]:
    """``machine``, its CPU flags taken from the peers run's own reading of /proc/cpuinfo when py-cpuinfo had none."""
    if machine.get("cpu", {}).get("flags"):
        return machine
    facts = next((b["extra_info"]["cpu"] for b in benchmarks if "cpu" in b["extra_info"]), None)
    return {**machine, "cpu": {**machine.get("cpu", {}), "flags": facts["flags"]}} if facts else machine


def markdown(benchmarks: list[dict[str, Any]], machine: dict[str, Any]) -> str:
    sizes = sorted({b["extra_info"]["size"] for b in benchmarks if b["extra_info"].get("kind") == "step"})
    rows = main_rows(benchmarks, sizes)
    lines = [
        f"Machine: {machine.get('cpu', {}).get('brand_raw', machine.get('processor', '?'))}, "
        f"{machine.get('cpu', {}).get('count', '?')} CPUs ({cpu_flags(_with_flags(benchmarks, machine))}), "
        f"Python {machine.get('python_version', '?')}. "
        "Medians; `original` preset layers; square random images; seeded random weights.",
        "",
        "| | " + " | ".join(f"{s} px" for s in sizes) + " |",
        "| --- |" + " --- |" * len(sizes),
    ]
    lines += [f"| {label} | " + " | ".join(cells[s] for s in sizes) + " |" for label, cells in rows]
    races = (
        race_rows(
            benchmarks, "quality", "| time to seed-style quality, 64 px | seed-style loop | ours | ours faster by |"
        ),
        race_rows(
            benchmarks,
            "multiscale",
            "| same objective, 256 px, gatys preset | single scale | coarse-to-fine | faster by |",
        ),
        peer_step_rows(benchmarks),
        race_rows(
            benchmarks,
            "peer-race",
            "| to the peer's 300-step objective (its own, 128 px) | peer | ours (defaults) | ours faster by |",
        ),
    )
    extras = (style_loss_rows(benchmarks), video_rows(benchmarks), ray_rows(benchmarks), gpu_rows(benchmarks))
    for extra in (*races, *extras):
        if extra:
            lines += ["", *extra]
    return "\n".join(lines) + "\n"


def plot(benchmarks: list[dict[str, Any]], path: Path) -> Path | None:
    """Seconds per step against image side; None when the run had no step benchmarks."""
    if not by_variant(benchmarks, "step"):
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=100)
    for variant, points in sorted(by_variant(benchmarks, "step").items()):
        sizes = sorted(points)
        axes.plot(sizes, [median(points[s]) for s in sizes], marker="o", label=variant)
    axes.set(
        xlabel="image side (px)", ylabel="seconds per step (median)", yscale="log", title="One optimisation step, CPU"
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    return path


def main(argv: list[str] | None = None) -> int:
    source = Path((argv or sys.argv[1:] or ["artifacts/bench.json"])[0])
    benchmarks, machine = load(source)
    text = markdown(benchmarks, machine)
    source.with_suffix(".md").write_text(text)
    print(text)
    figure = plot(benchmarks, source.parent / "bench_step_time.png")
    print(f"wrote {source.with_suffix('.md')}" + (f" and {figure}" if figure else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
