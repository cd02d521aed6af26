"""``stylecore CONTENT STYLE [STYLE ...] -o OUT.png``: one image.

Options are generated from :class:`stylecore.StyleConfig`, so every default is
defined once, there. Expected errors become one line on stderr and exit 1.
Only the standard library is imported at module level (see :mod:`stylecore.cli.common`).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .common import (
    Interrupts,
    Parser,
    add_bit_depth,
    add_run_settings,
    check_output,
    config_from_args,
    fail,
    load_extractor,
    run_command,
    save_or_fallback,
    say,
    warn,
)

if TYPE_CHECKING:
    from ..config import StyleConfig
    from ..imaging.outputs import WritePlan
    from ..optim.run import StyleResult


def build_parser() -> argparse.ArgumentParser:
    from ..model.layers import VGG19_LAYERS

    parser = Parser(
        prog="stylecore",
        description="Neural style transfer (Gatys et al.) on VGG19.",
        epilog=f"Layers: {', '.join(VGG19_LAYERS)}. Ctrl-C stops early and still saves the image. "
        "Also: 'stylecore batch --help' (a folder of photos), 'stylecore video --help' (a video).",
    )
    parser.add_argument("content", type=Path, help="content image (any format Pillow reads)")
    parser.add_argument("styles", type=Path, nargs="+", metavar="style", help="style image(s); Grams are averaged")
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="output .png or .tif (16-bit); snapshots go next to it"
    )
    parser.add_argument(
        "--regions", metavar="M1,M2", type=lambda text: [Path(part.strip()) for part in text.split(",")],
        help="one greyscale mask per style (white: where that style goes; '-': the style for what no mask covers)",
    )  # fmt: skip
    parser.add_argument(
        "--style-regions", metavar="S1,S2", type=lambda text: [Path(part.strip()) for part in text.split(",")],
        help="with --regions: per style, the part of that style image to copy (white; '-': all of it)",
    )  # fmt: skip
    add_bit_depth(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_run_settings(parser)
    return parser


def snapshot_path(output: Path, iteration: int, iterations: int) -> Path:
    """``out.png`` -> ``out_0200.png``: sorts by iteration."""
    width = max(4, len(str(iterations)))
    return output.with_name(f"{output.stem}_{iteration:0{width}d}{output.suffix}")


def snapshot_names(output: Path, config: StyleConfig) -> Callable[[str], bool]:
    """Which file names in ``output``'s folder the run's snapshots take (there may be a million)."""
    pattern = re.compile(rf"{re.escape(output.stem)}_(\d+){re.escape(output.suffix)}")
    width = max(4, len(str(config.iterations)))

    def matches(name: str) -> bool:
        found = pattern.fullmatch(name)
        if found is None or not config.save_every or len(found[1]) != width:
            return False
        return 0 < int(found[1]) < config.iterations  # a stop writes one at any step, not only every save_every

    return matches


def snapshot_of(output: Path) -> Callable[[Path], bool]:
    """A file a snapshot may replace: a snapshot this tool wrote for the same output, never a finished result."""
    from ..imaging.formats import SNAPSHOT_OF
    from ..imaging.outputs import provenance_of

    return lambda path: (provenance_of(path) or {}).get(SNAPSHOT_OF) == output.name


def write_plan(args: argparse.Namespace, config: StyleConfig) -> WritePlan:
    """What ``stylecore`` reads (photo, styles, masks) and writes (result, snapshots)."""
    from ..imaging.outputs import WritePlan

    plan = WritePlan()
    plan.read(args.content, *args.styles, *(args.regions or ()), *(args.style_regions or ()))
    plan.write(args.output)
    names, owned = snapshot_names(args.output, config), snapshot_of(args.output)
    plan.write_matching(args.output.parent, names, owned, f"a snapshot of {args.output.name}")
    return plan


def run(args: argparse.Namespace, config: StyleConfig, interrupts: Interrupts) -> StyleResult:
    from tqdm import tqdm

    from ..backends.distributed import join_torchrun
    from ..config import provenance
    from ..imaging.formats import format_for
    from ..imaging.images import load_image
    from ..optim.device import choose_precision
    from ..optim.run import Progress, resolve_device, stylize

    # Before the device: under torchrun each rank takes its own GPU.
    ranks = join_torchrun(note=lambda text: say("stylecore", text))
    rank = ranks.rank
    device = resolve_device(config.device)
    check_output(args.output, write_plan(args, config))
    format_for(args.output, args.bits)  # a .tif at 8 bits: one sentence before any work
    content = load_image(args.content)  # the engine sizes it (config.size, style_scale)
    styles = [load_image(path) for path in args.styles]
    regions, style_regions = _regions(args, styles, content)
    extractor = load_extractor(config, device)
    precision = choose_precision(device, config.precision)  # the same policy the run applies
    if not args.quiet and rank == 0:
        print(f"stylecore: precision: {precision.label}", file=sys.stderr)
    meta = {**provenance(config, extractor.weights.label), "stylecore:precision": precision.label}
    bar = tqdm(total=config.iterations, disable=args.quiet or rank > 0, unit="it", dynamic_ncols=True, file=sys.stderr)

    snapshot = _snapshot_writer(args, meta)

    def on_step(p: Progress) -> bool:
        ranks.keep(p.iteration, p.image)  # what rank 0 saves if a peer is lost later
        bar.update(1)
        bar.set_postfix({name: f"{value:.3g}" for name, value in p.losses.values.items()})
        if rank == 0 and p.snapshot and config.save_every and p.iteration < p.iterations:
            snapshot(p.image, snapshot_path(args.output, p.iteration, p.iterations))
        return interrupts.received is not None

    with bar:
        interrupts.running = True
        try:  # a lost peer ends every rank with one sentence; rank 0 saves the last step's image first
            with ranks.together(lambda image: save_or_fallback(image, args.output, meta, args.bits)):
                result = stylize(
                    content, styles, config, on_step, extractor=extractor, regions=regions, style_regions=style_regions
                )
        finally:
            interrupts.running = False
    if rank == 0:  # every rank holds the same image
        save_or_fallback(result.image, args.output, meta, args.bits)
    return result


def _snapshot_writer(args: argparse.Namespace, meta: dict[str, str]) -> Callable[[Any, Path], None]:
    """Write a snapshot (marked as one of ``args.output``); one that fails is a warning, not the end of the run."""
    from ..imaging.formats import SNAPSHOT_OF
    from ..imaging.images import save_image

    failed: list[str] = []

    def write(image: Any, path: Path) -> None:
        try:
            save_image(image, path, {**meta, SNAPSHOT_OF: args.output.name}, bits=args.bits)
        except OSError as exc:
            if not failed:  # once: a full disk would say it at every snapshot
                warn(f"could not write the snapshot {path} ({exc.strerror or exc}); the run goes on")
            failed.append(str(path))

    return write


def _regions(args: argparse.Namespace, styles: list[Any], content: Any) -> tuple[list[Any] | None, list[Any] | None]:
    """``--regions`` and ``--style-regions``, checked against the images (None where not given)."""
    from ..errors import StylecoreError

    regions = _load_regions(args.regions, styles, content, "--regions") if args.regions else None
    if not args.style_regions:
        return regions, None
    if regions is None:
        raise StylecoreError("--style-regions needs --regions too")
    return regions, _load_regions(args.style_regions, styles, None, "--style-regions")


def _load_regions(paths: list[Path], styles: list[Any], content: Any, option: str) -> list[Any]:
    """One mask per style ('-' for none), each checked with its file name; ``content`` None: style masks."""
    from ..errors import StylecoreError
    from ..imaging.images import load_mask
    from ..objective.regions import check_mask

    if len(paths) != len(styles):
        raise StylecoreError(
            f"{option} has {len(paths)} masks for {len(styles)} style images; give one per style ('-' for none)"
        )
    masks: list[Any] = []
    for path, style in zip(paths, styles, strict=True):
        if str(path) == "-":
            masks.append(None)
            continue
        mask = check_mask(load_mask(path), str(path))  # the core's rule for an all-black mask
        (mh, mw), (ch, cw) = mask.shape[-2:], (content if content is not None else style).shape[-2:]
        if abs(mw / mh - cw / ch) > 0.02 * cw / ch:
            target = "content" if content is not None else "style image"
            warn(f"{path} is {mw}x{mh}, another shape than the {target} ({cw}x{ch}); it is stretched to fit")
        masks.append(mask)
    return masks


def image_main(argv: list[str]) -> int:
    """``stylecore CONTENT STYLE ... -o OUT.png``; returns the exit code."""
    return run_command("stylecore", lambda interrupts: _image(_join_dash_lists(argv), interrupts))


def _join_dash_lists(argv: list[str]) -> list[str]:
    """``--regions -,-`` -> ``--regions=-,-``: argparse takes a value starting with '-' for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] in ("--regions", "--style-regions") and arg.startswith("-") and "," in arg:
            joined[-1] = f"{joined[-1]}={arg}"
        else:
            joined.append(arg)
    return joined


def _image(argv: list[str], interrupts: Interrupts) -> int:
    from ..backends.distributed import is_leader
    from ..errors import StylecoreError

    args = build_parser().parse_args(argv)
    try:
        result = run(args, config_from_args(args), interrupts)
    except StylecoreError as exc:
        return fail("stylecore", exc)
    h, w = result.image.shape[-2:]
    if is_leader():  # under torchrun only rank 0 writes
        print(f"wrote {args.output} ({w}x{h}, {len(result.history)} iterations, {result.elapsed:.1f}s)")
    for notice in result.notices:
        warn(notice)
    if result.stopped:
        warn(result.stopped if not interrupts.received else f"{interrupts.received}: {result.stopped}")
    return interrupts.status(failed=result.diverged)
