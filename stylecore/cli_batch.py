"""``stylecore batch INPUT STYLE [STYLE ...] -o OUT_DIR``: one style, a folder (or glob) of photos.

The model is loaded once. A photo whose result already exists is skipped unless ``--overwrite``,
so an interrupted batch resumes where it stopped; a photo that cannot be read is reported and
skipped; a summary ends the run. Ctrl-C stops after the photo in progress.
"""

from __future__ import annotations

import argparse
import glob
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .cli import Interrupts, _Parser, _warn, add_run_settings, config_from_args, save_or_fallback

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stylecore batch", description=__doc__)
    parser.add_argument("input", help="a folder of photos, or a quoted glob such as 'photos/*.jpg'")
    parser.add_argument("styles", type=Path, nargs="+", metavar="style", help="style image(s)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the results (OUT/<photo>.png)")
    parser.add_argument("--overwrite", action="store_true", help="redo photos whose result already exists")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--backend", choices=["local", "ray"], default="local",
                        help="ray: photos on a Ray cluster ($RAY_ADDRESS, else a local one)")  # fmt: skip
    parser.add_argument("--workers", type=int, help="Ray workers (default: one per GPU, else one per CPU)")
    add_run_settings(parser)
    return parser


def inputs(pattern: str) -> list[Path]:
    """The photos a folder holds (by suffix, sorted), or what a glob matches."""
    path = Path(pattern)
    found = sorted(path.iterdir()) if path.is_dir() else sorted(Path(p) for p in glob.glob(pattern))
    return [p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]


@dataclass
class Summary:
    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def line(self) -> str:
        return f"{len(self.written)} written, {len(self.existing)} already there, {len(self.failed)} failed"


def batch_main(argv: list[str] | None = None) -> int:
    """Entry point of ``stylecore batch``; returns 0 when every photo has a result."""
    interrupts = Interrupts()
    with interrupts.installed():
        try:
            return _batch(build_parser().parse_args(argv), interrupts)
        except KeyboardInterrupt:
            print("stylecore batch: interrupted", file=sys.stderr)
            return 130


@dataclass
class Batch:
    """One ``stylecore batch`` command: what both backends need."""

    args: argparse.Namespace
    config: Any  # StyleConfig
    styles: list[Any]  # style tensors
    interrupts: Interrupts
    summary: Summary = field(default_factory=Summary)

    def result(self, photo: Path) -> Path:
        return Path(self.args.output) / f"{photo.stem}.png"


def _batch(args: argparse.Namespace, interrupts: Interrupts) -> int:
    from .errors import StylecoreError
    from .imageio import load_image

    summary = Summary()
    try:
        config = config_from_args(args)
        _warn_untrained(config.weights)
        photos = inputs(args.input)
        if not photos:
            raise StylecoreError(f"{args.input}: no images there (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        args.output.mkdir(parents=True, exist_ok=True)
        batch = Batch(args, config, [load_image(path) for path in args.styles], interrupts, summary)
        todo = [p for p in photos if args.overwrite or not batch.result(p).exists()]
        summary.existing = [batch.result(p) for p in photos if p not in todo]
        (_run_ray if args.backend == "ray" else _run_local)(batch, todo)
    except (StylecoreError, OSError) as exc:
        print(f"stylecore batch: error: {exc}", file=sys.stderr)
        return 1
    print(f"stylecore batch: {summary.line()} in {args.output}")
    return 0 if not summary.failed and not interrupts.received else 1


def _warn_untrained(weights: str | None) -> None:
    """The other commands' warning, once for either backend (Ray's workers load the model out of sight)."""
    from .weights import resolve_weights

    source = resolve_weights(weights)
    if not source.trained:
        _warn(f"using {source.label}")


def _run_local(batch: Batch, photos: list[Path]) -> None:
    """One photo after another in this process, with one model."""
    from tqdm import tqdm

    from .config import provenance
    from .errors import StylecoreError
    from .extractor import vgg19_extractor
    from .run import resolve_device

    config = batch.config
    device = resolve_device(config.device)
    extractor = vgg19_extractor(layers=config.layers, weights=config.weights, device=device, progress=True)
    meta = provenance(config, extractor.weights.label)
    for photo in tqdm(photos, disable=batch.args.quiet, unit="photo", file=sys.stderr):
        try:
            image = _one(photo, batch.styles, config, extractor, batch.interrupts)
        except StylecoreError as exc:
            _failed(batch.summary, photo, str(exc))
            continue
        if batch.interrupts.received:  # a half-done photo is not a result: the next run redoes it
            return
        batch.summary.written.append(save_or_fallback(image, batch.result(photo), meta))


def _run_ray(batch: Batch, photos: list[Path]) -> None:
    """Photos on Ray workers (one model each); results are written here as they come back."""
    from tqdm import tqdm

    from .config import provenance
    from .imageio import array_to_tensor
    from .ray_backend import connect, stylize_photos

    if not photos:
        return
    workers = connect(batch.args.workers)
    by_key = {str(i): photo for i, photo in enumerate(photos)}
    files = ((key, photo.name, photo.read_bytes()) for key, photo in by_key.items())
    results = stylize_photos(files, batch.styles, batch.config, workers)
    batch.interrupts.running = True  # Ctrl-C: stop taking results; photos written so far stay
    try:
        for done in tqdm(results, total=len(photos), disable=batch.args.quiet, unit="photo", file=sys.stderr):
            photo = by_key[done.key]
            if done.image is None:
                _failed(batch.summary, photo, done.error)
            else:
                meta = provenance(batch.config, done.weights)
                batch.summary.written.append(save_or_fallback(array_to_tensor(done.image), batch.result(photo), meta))
            if batch.interrupts.received:
                return
    finally:
        batch.interrupts.running = False


def _failed(summary: Summary, photo: Path, error: str) -> None:
    summary.failed.append((photo, error))
    print(f"stylecore batch: skipped {photo.name}: {error}", file=sys.stderr)


def _one(photo: Path, styles: list[Any], config: Any, extractor: Any, interrupts: Interrupts) -> Any:
    """One photo's result image; a signal stops it early (the caller then discards it)."""
    from .imageio import load_image
    from .run import stylize

    content = load_image(photo)
    interrupts.running = True
    try:
        return stylize(content, styles, config, lambda p: interrupts.received is not None, extractor=extractor).image
    finally:
        interrupts.running = False
