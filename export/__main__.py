"""``python -m export``: write the ONNX extractor, check it, profile it.

Every argument, and every file it will write (:mod:`export.files`), is checked before anything is
exported; any failure is one line on stderr and a non-zero exit, and leaves no file behind (the model
is written under a temporary name and renamed into place only once every check has passed). A layer
subset is written beside the default model (``vgg19_extractor-conv1_1.onnx``), never over it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from stylecore import DEFAULT_LAYERS, StylecoreError, VGGExtractor, vgg19_extractor
from stylecore.imaging.outputs import atomic_file
from stylecore.model.layers import deepest, layer_names
from stylecore.model.onnx import OnnxExtractor
from stylecore.model.weights import WeightsSource, resolve_weights

from . import checks, profiling, report
from .files import REPORT_TITLE, TRACE_NAME, Outputs, write_text
from .model import MIN_OPSET, export_min_side, export_onnx, max_opset, metadata_for, model_path, write_metadata

#: The largest side --sizes and --profile-size take: a 2048 px VGG19 pass needs about 3 GB already.
MAX_PROFILE_SIDE = 2048


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + error
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected whole numbers >= 1, got {text!r}")
    return values


def _positive_int(text: str) -> int:
    values = _positive_ints(text)
    if len(values) != 1:
        raise argparse.ArgumentTypeError(f"expected one whole number, got {text!r}")
    return values[0]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m export", description=__doc__)
    parser.add_argument(
        "--weights", help="imagenet, random[:SEED] or a checkpoint (default: $STYLECORE_WEIGHTS, then imagenet)"
    )
    parser.add_argument(
        "--layers", default=",".join(DEFAULT_LAYERS), help="comma-separated outputs (default: %(default)s)"
    )
    parser.add_argument("--opset", type=int, default=MIN_OPSET, help="ONNX opset (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=Path("artifacts"), help="output folder (default: %(default)s)")
    parser.add_argument(
        "--opt-level", choices=list(profiling.OPT_LEVELS), default="all", help="ORT graph optimisation for the profile"
    )
    parser.add_argument(
        "--sizes", type=_positive_ints, default=(128, 256, 512), help="latency table sizes (default: 128,256,512)"
    )
    parser.add_argument("--runs", type=_positive_int, default=5, help="timed runs per measurement (default: 5)")
    parser.add_argument(
        "--profile-size", type=_positive_int, default=256, help="image side for the op profile (default: 256)"
    )
    parser.add_argument("--no-profile", action="store_true", help="export and check only (what the app does)")
    return parser


@dataclass(frozen=True)
class Request:
    """Validated arguments: nothing is exported until all of these are known to be good."""

    weights: WeightsSource
    layers: tuple[str, ...]
    opset: int
    path: Path
    outputs: Outputs


def validate(args: argparse.Namespace) -> Request:
    """Check every argument and every output name before the (slow) export; raises :class:`StylecoreError`."""
    layers = layer_names(part for part in args.layers.split(",") if part.strip())
    if not MIN_OPSET <= args.opset <= max_opset():
        raise StylecoreError(f"--opset must be between {MIN_OPSET} and {max_opset()}, got {args.opset}")
    if not args.no_profile:
        _check_sides(layers, args.sizes, args.profile_size)
    _check_out_dir(args.out)
    weights = resolve_weights(args.weights)
    outputs = Outputs(model_path(args.out, layers), profile=not args.no_profile)
    outputs.check([weights.path] if weights.path is not None else [])
    return Request(weights, layers, args.opset, outputs.model, outputs)


def _check_sides(layers: tuple[str, ...], sizes: tuple[int, ...], profile_size: int) -> None:
    """Every profiled side between what the deepest layer needs and :data:`MAX_PROFILE_SIDE`."""
    low = export_min_side(layers)
    for option, side in [*(("--sizes", s) for s in sizes), ("--profile-size", profile_size)]:
        if side < low:
            raise StylecoreError(f"{option} {side} is too small for {deepest(layers)}: it needs at least {low} px")
        if side > MAX_PROFILE_SIDE:
            raise StylecoreError(f"{option} {side} is too large; use at most {MAX_PROFILE_SIDE} px")


def _check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise StylecoreError(f"--out {out} is a file; give a folder")
    existing = next((p for p in [out, *out.parents] if p.exists()), Path("."))
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise StylecoreError(f"--out {out}: cannot write in {existing}")


def export_and_check(request: Request, extractor: VGGExtractor) -> tuple[dict[str, Any], list[checks.ParityRow]]:
    """Write the model, run every check, then put it in place with its metadata (only a model that passed)."""
    side = max(16, export_min_side(request.layers))  # the reference runtime is slow: the smallest side that works
    request.path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(request.path) as path:  # a failed check leaves nothing behind
        export_onnx(extractor, path, layers=request.layers, opset=request.opset)
        checks.check_model(path)
        onnx_extractor = OnnxExtractor(path, layers=request.layers)
        providers = checks.assert_providers(onnx_extractor)
        parity = checks.ort_parity(extractor, onnx_extractor) + checks.reference_parity(path, extractor, side)
        checks.assert_parity(parity)
        metadata = metadata_for(path, extractor, request.path.name)
    metadata["checks"] = {
        "providers": providers,
        "parity_tolerance": checks.PARITY_TOLERANCE,
        "max_relative_error": max(r.rel_error for r in parity),
    }
    write_metadata(metadata, request.outputs.sidecar)
    return metadata, parity


def profile(args: argparse.Namespace, extractor: VGGExtractor, path: Path, metadata: dict[str, Any],
            parity: list[checks.ParityRow]) -> str:  # fmt: skip
    providers = metadata["checks"]["providers"]
    layers = extractor.layers  # what was exported, which need not be the default layers
    trace = path.parent / TRACE_NAME
    ops = profiling.profile_ort(
        path, trace, layers=layers, size=args.profile_size, runs=args.runs, opt_level=args.opt_level
    )
    sections = [
        f"{REPORT_TITLE}\n\nMachine: {profiling.machine()}.\n",
        report.parity_section(parity),
        report.latency_section(profiling.latency_table(path, extractor, args.sizes, args.runs), providers, args.runs),
        report.ops_section(ops, args.profile_size),
        report.opt_level_section(profiling.opt_level_ms(path, layers, args.profile_size, args.runs), args.profile_size),
    ]
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        request = validate(args)
        extractor = vgg19_extractor(layers=request.layers, weights=request.weights, progress=True)
        metadata, parity = export_and_check(request, extractor)
        print(f"wrote {request.path} ({metadata['bytes'] / 1e6:.1f} MB, opset {metadata['opset']}, "
              f"IR {metadata['ir_version']})")  # fmt: skip
        tolerance = checks.PARITY_TOLERANCE
        print(f"checks passed: onnx.checker, strict shapes, parity <= {tolerance:g}, "
              f"providers {metadata['checks']['providers']}")  # fmt: skip
        if args.no_profile:
            return 0
        markdown = profile(args, extractor, request.path, metadata, parity)
        write_text(request.outputs.report, markdown)
    except (StylecoreError, checks.ExportCheckError, OSError) as exc:
        print(f"export: error: {exc}", file=sys.stderr)
        return 1
    print(markdown)
    print(json.dumps(metadata["weights"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
