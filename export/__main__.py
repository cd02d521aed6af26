"""``python -m export``: write the ONNX extractor, check it, profile it.

Exits non-zero, with one line on stderr, if any check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from stylecore import DEFAULT_LAYERS, StylecoreError, VGGExtractor, vgg19_extractor
from stylecore.onnx_extractor import OnnxExtractor

from . import checks, profiling, report
from .model import export_onnx, metadata_for, write_metadata


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m export", description=__doc__)
    parser.add_argument(
        "--weights", help="imagenet, random[:SEED] or a checkpoint (default: $STYLECORE_WEIGHTS, then imagenet)"
    )
    parser.add_argument(
        "--layers", default=",".join(DEFAULT_LAYERS), help="comma-separated outputs (default: %(default)s)"
    )
    parser.add_argument("--opset", type=int, default=18, help="ONNX opset, >= 18 (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("artifacts"), help="output folder (default: %(default)s)")
    parser.add_argument(
        "--opt-level", choices=list(profiling.OPT_LEVELS), default="all", help="ORT graph optimisation for the profile"
    )
    parser.add_argument("--sizes", default="128,256,512", help="latency table sizes (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per measurement (default: %(default)s)")
    parser.add_argument(
        "--profile-size", type=int, default=256, help="image side for the op profile (default: %(default)s)"
    )
    return parser


def export_and_check(
    args: argparse.Namespace, extractor: VGGExtractor
) -> tuple[Path, dict, list[str], list[checks.ParityRow]]:
    path = export_onnx(extractor, args.out / "vgg19_extractor.onnx", opset=args.opset)
    checks.check_model(path)
    onnx_extractor = OnnxExtractor(path, layers=extractor.layers)
    providers = checks.assert_providers(onnx_extractor)
    parity = checks.ort_parity(extractor, onnx_extractor) + checks.reference_parity(path, extractor)
    checks.assert_parity(parity)
    metadata = metadata_for(path, extractor, args.opset)
    metadata["checks"] = {
        "providers": providers,
        "parity_tolerance": checks.PARITY_TOLERANCE,
        "max_relative_error": max(r.rel_error for r in parity),
    }
    write_metadata(metadata, path.with_suffix(".json"))
    return path, metadata, providers, parity


def profile(
    args: argparse.Namespace, extractor: VGGExtractor, path: Path, providers: list[str], parity: list[checks.ParityRow]
) -> str:
    sizes = [int(s) for s in args.sizes.split(",")]
    ops = profiling.profile_ort(path, args.out, size=args.profile_size, runs=args.runs, opt_level=args.opt_level)
    sections = [
        f"# VGG19 extractor: ONNX export report\n\nMachine: {profiling.machine()}.\n",
        report.parity_section(parity),
        report.latency_section(profiling.latency_table(path, extractor, sizes, args.runs), providers, args.runs),
        report.ops_section(ops, args.profile_size),
        report.opt_level_section(profiling.opt_level_ms(path, args.profile_size, args.runs), args.profile_size),
    ]
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        extractor = vgg19_extractor(layers=args.layers.split(","), weights=args.weights, progress=True)
        path, metadata, providers, parity = export_and_check(args, extractor)
        print(f"wrote {path} ({metadata['bytes'] / 1e6:.1f} MB, opset {args.opset}, IR {metadata['ir_version']})")
        tolerance = checks.PARITY_TOLERANCE
        print(f"checks passed: onnx.checker, strict shapes, parity <= {tolerance:g}, providers {providers}")
        markdown = profile(args, extractor, path, providers, parity)
    except (StylecoreError, checks.ExportCheckError) as exc:
        print(f"export: error: {exc}", file=sys.stderr)
        return 1
    (args.out / "profile.md").write_text(markdown)
    print(markdown)
    print(json.dumps(metadata["weights"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
