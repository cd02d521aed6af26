"""``stylecore batch INPUT STYLE [STYLE ...] -o OUT_DIR``: one style, a folder (or glob) of photos.

The model is loaded once. A photo whose result already exists is skipped unless ``--overwrite``,
so an interrupted batch resumes where it stopped; a photo that cannot be read is reported and
skipped; a summary ends the run. Ctrl-C stops after the photo in progress.
"""

from __future__ import annotations

import argparse
import glob
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .common import (
    Interrupts,
    Parser,
    add_bit_depth,
    add_run_settings,
    config_from_args,
    fail,
    load_extractor,
    run_command,
    save_or_fallback,
    say,
    warn_untrained,
)

PROG = "stylecore batch"

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog=PROG, description=__doc__)
    parser.add_argument("input", help="a folder of photos, or a quoted glob such as 'photos/*.jpg'")
    parser.add_argument("styles", type=Path, nargs="+", metavar="style", help="style image(s)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for the results (OUT/<photo>.png)")
    from ..imaging.formats import FORMATS

    parser.add_argument("--format", choices=list(FORMATS), default="png",
                        help="result files: png (8-bit), png16 or tiff (16-bit, for print) (default: png)")  # fmt: skip
    add_bit_depth(parser)
    parser.add_argument("--overwrite", action="store_true", help="redo photos whose result already exists")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--backend", choices=["local", "ray"], default="local",
                        help="ray: photos on a Ray cluster ($RAY_ADDRESS, else a local one)")  # fmt: skip
    parser.add_argument("--workers", type=int, help="Ray workers (default: one per GPU, else one per CPU)")
    add_run_settings(parser)
    return parser


def inputs(pattern: str) -> list[Path]:
    """The photos a folder holds (by suffix, sorted), or what a glob matches.

    A symlink in a folder that points out of it is left out: the folder is what the user named.
    """
    path = Path(pattern)
    found = sorted(path.iterdir()) if path.is_dir() else sorted(Path(p) for p in glob.glob(pattern))
    photos = [p for p in found if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
    if path.is_dir():
        root = path.resolve()
        photos = [p for p in photos if not p.is_symlink() or p.resolve().parent == root]
    return photos


def result_names(photos: list[Path], output: Path, suffix: str = ".png") -> dict[Path, Path]:
    """OUT/<stem>.png per photo; photos sharing a stem (a.jpg, a.png) get OUT/<name>.png instead."""
    from collections import Counter

    from ..errors import StylecoreError

    stems = Counter(p.stem for p in photos)
    results = {p: output / (f"{p.stem}{suffix}" if stems[p.stem] == 1 else f"{p.name}{suffix}") for p in photos}
    if len(set(results.values())) < len(results):
        raise StylecoreError("two photos would write the same result; rename one of them")
    for stem in sorted(s for s, n in stems.items() if n > 1):
        names = ", ".join(p.name for p in photos if p.stem == stem)
        say(PROG, f"{names} share a name; their results are named after the whole file name ({stem}.<ext>{suffix})")
    return results


def _earlier_result(photo: Path, output: Path) -> bool:
    """A result of an earlier run in the output folder (sealed there, not a download or a copy): not a photo."""
    from ..imaging.outputs import made_by_stylecore, same_file

    return same_file(photo.parent, output) and made_by_stylecore(photo)


@dataclass
class Summary:
    written: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def line(self) -> str:
        return f"{len(self.written)} written, {len(self.existing)} already there, {len(self.failed)} failed"


def batch_main(argv: list[str] | None = None) -> int:
    """Entry point of ``stylecore batch``; returns 0 when every photo has a result."""
    note = "; results written so far are kept"
    return run_command(PROG, lambda interrupts: _batch(build_parser().parse_args(argv), interrupts), note)


@dataclass
class Batch:
    """One ``stylecore batch`` command: what both backends need."""

    args: argparse.Namespace
    config: Any  # StyleConfig
    styles: list[Any]  # style tensors
    interrupts: Interrupts
    summary: Summary = field(default_factory=Summary)
    results: dict[Path, Path] = field(default_factory=dict)  # photo -> its result file

    def result(self, photo: Path) -> Path:
        return self.results[photo]


def _batch(args: argparse.Namespace, interrupts: Interrupts) -> int:
    from ..errors import StylecoreError
    from ..imaging.formats import FORMATS
    from ..imaging.images import load_image
    from ..imaging.outputs import WritePlan, decodes, same_file
    from ..model.weights import resolve_weights

    summary = Summary()
    try:
        config = config_from_args(args)
        if args.workers is not None and args.workers < 1:
            raise StylecoreError(f"--workers must be at least 1, got {args.workers}")
        weights = resolve_weights(config.weights)  # a bad --weights is one line before any work
        if args.backend == "ray":
            warn_untrained(weights)  # the workers load the model out of sight; locally, load_extractor says it
        photos = inputs(args.input)
        if not photos:
            raise StylecoreError(f"{args.input}: no images there (looked for {', '.join(sorted(IMAGE_SUFFIXES))})")
        if Path(args.input).is_dir() and same_file(Path(args.input), args.output):
            raise StylecoreError(f"-o {args.output} is the input folder; give another folder for the results")
        photos = [p for p in photos if not _earlier_result(p, args.output)]
        args.bits = _result_format(args).bits
        results = result_names(photos, args.output, FORMATS[args.format].suffix)
        plan = WritePlan()
        plan.read(*photos, *args.styles)
        plan.write(*results.values())
        plan.check()  # before any work: no result is an input, none replaces a file we did not make
        _make_folder(args.output)
        batch = Batch(args, config, [load_image(path) for path in args.styles], interrupts, summary, results)
        todo = [p for p in photos if args.overwrite or not decodes(results[p])]  # a cut-short file is redone
        summary.existing = [results[p] for p in photos if p not in todo]
        (_run_ray if args.backend == "ray" else _run_local)(batch, todo)
    except (StylecoreError, OSError) as exc:
        return fail(PROG, exc)
    print(f"{PROG}: {summary.line()} in {args.output}")
    if interrupts.received:
        say(PROG, f"stopped by {interrupts.received}; run the same command again to go on")
    return interrupts.status(failed=bool(summary.failed))


def _result_format(args: argparse.Namespace) -> Any:
    """The table entry results are written in (``--format``, ``--bit-depth``); a bad pair is one sentence."""
    from ..imaging.formats import FORMATS, format_for

    chosen = FORMATS[args.format]
    return chosen if args.bits is None else format_for(f"result{chosen.suffix}", args.bits)


def _make_folder(folder: Path) -> None:
    from ..errors import StylecoreError

    if folder.exists() and not folder.is_dir():
        raise StylecoreError(f"-o {folder} is a file; give a folder for the results")
    folder.mkdir(parents=True, exist_ok=True)


def _run_local(batch: Batch, photos: list[Path]) -> None:
    """One photo after another in this process, with one model."""
    from tqdm import tqdm

    from ..config import provenance

    config = batch.config
    extractor = load_extractor(config)
    meta = provenance(config, extractor.weights.label)
    for photo in tqdm(photos, disable=batch.args.quiet, unit="photo", file=sys.stderr):
        try:
            image = _one(photo, batch.styles, config, extractor, batch.interrupts)
            if batch.interrupts.received:  # a half-done photo is not a result: the next run redoes it
                return
            batch.summary.written.append(save_or_fallback(image, batch.result(photo), meta, batch.args.bits))
        except Exception as exc:  # one bad photo must not lose the others
            _failed(batch.summary, photo, _reason(exc))


def _run_ray(batch: Batch, photos: list[Path]) -> None:
    """Photos on Ray workers (one model each); results are written here as they come back."""
    from tqdm import tqdm

    from ..backends.ray import connect, stylize_photos
    from ..config import provenance
    from ..errors import StylecoreError
    from ..imaging.images import array_to_tensor

    if not photos:
        return
    workers = connect(batch.args.workers)
    workers = replace(workers, count=min(workers.count, len(photos)))  # no idle actors (Ray warns about them)
    by_key = {str(i): photo for i, photo in enumerate(photos)}
    files = ((key, photo.name, photo.read_bytes()) for key, photo in by_key.items())
    results = stylize_photos(files, batch.styles, batch.config, workers)
    batch.interrupts.running = True  # Ctrl-C: stop taking results; photos written so far stay
    seen: set[str] = set()
    try:
        for done in tqdm(results, total=len(photos), disable=batch.args.quiet, unit="photo", file=sys.stderr):
            photo = by_key[done.key]
            seen.add(done.key)
            try:
                if done.image is None:
                    raise StylecoreError(done.error)
                meta = provenance(batch.config, done.weights)
                result = save_or_fallback(array_to_tensor(done.image), batch.result(photo), meta, batch.args.bits)
                batch.summary.written.append(result)
            except Exception as exc:  # one bad result must not lose the others
                _failed(batch.summary, photo, _reason(exc))
            if batch.interrupts.received:
                return
    except Exception as exc:  # Ray itself failed: what was written stays, the rest is reported
        for key in sorted(set(by_key) - seen, key=int):
            _failed(batch.summary, by_key[key], f"not done, Ray stopped ({_reason(exc)})")
    finally:
        batch.interrupts.running = False


def _reason(exc: BaseException) -> str:
    """A failure in one sentence: our own messages as they are, anything else with its kind."""
    from ..errors import StylecoreError

    message = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return message if isinstance(exc, StylecoreError) else f"{type(exc).__name__}: {message or 'no message'}"


def _failed(summary: Summary, photo: Path, error: str) -> None:
    summary.failed.append((photo, error))
    say(PROG, f"skipped {photo.name}: {error}")


def _one(photo: Path, styles: list[Any], config: Any, extractor: Any, interrupts: Interrupts) -> Any:
    """One photo's result image; a signal stops it early (the caller then discards it)."""
    from ..imaging.images import load_image
    from ..optim.run import stylize

    content = load_image(photo)
    interrupts.running = True
    try:
        return stylize(content, styles, config, lambda p: interrupts.received is not None, extractor=extractor).image
    finally:
        interrupts.running = False
