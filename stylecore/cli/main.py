"""Command line: ``stylecore CONTENT STYLE [STYLE ...] -o OUT.png``.

Options are generated from :class:`stylecore.StyleConfig`, so every default is
defined once, there. Expected errors become one line on stderr and exit 1.

Only the standard library is imported at module level: :func:`main` installs
its SIGINT/SIGTERM handling first, so a Ctrl-C while torch is still importing
ends the program with one line instead of a traceback (or being lost).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import tempfile
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import MISSING, Field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn, get_args, get_origin, get_type_hints

if TYPE_CHECKING:
    from ..config import StyleConfig
    from ..errors import StylecoreError
    from ..imaging.outputs import WritePlan
    from ..optim.run import StyleResult


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not usage + error
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class Interrupts:
    """SIGINT and SIGTERM: abort before the run starts; during it, the first asks it to stop and save.

    A second signal during the run aborts at once.
    """

    def __init__(self) -> None:
        self.running = False  # True while the optimisation loop can stop cleanly
        self.received: str | None = None  # the signal that asked the run to stop
        self.aborted = signal.SIGINT  # the signal that aborted at once (a plain Ctrl-C before install: SIGINT)

    def handle(self, signum: int, frame: types.FrameType | None) -> None:
        if self.running and self.received is None:
            self.received = signal.Signals(signum).name
            return
        self.aborted = signal.Signals(signum)
        raise KeyboardInterrupt

    def exit_code(self) -> int:
        """128 + the signal: 130 for SIGINT, 143 for SIGTERM, whether it stopped the run or aborted it."""
        return 128 + (signal.Signals[self.received] if self.received else self.aborted).value

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _comma_list(item: type) -> Any:
    def parse(text: str) -> tuple[Any, ...]:
        return tuple(item(part) for part in text.split(",") if part.strip())

    parse.__name__ = f"comma-separated {item.__name__}"  # argparse names the type in errors
    return parse


def _add_field(group: argparse._ArgumentGroup, f: Field[Any], hint: Any) -> None:
    default = ",".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
    help = f.metadata["help"] if f.default in (None, MISSING) else f"{f.metadata['help']} (default: {default})"
    kwargs: dict[str, Any] = {"default": argparse.SUPPRESS, "help": help}
    hint = next((a for a in get_args(hint) if a is not type(None)), hint) if type(None) in get_args(hint) else hint
    if get_origin(hint) is tuple:
        item = get_args(hint)[0]
        kwargs.update(type=_comma_list(item), metavar="L1,L2" if item is str else "W1,W2")
    elif get_origin(hint) is Literal:
        kwargs["choices"] = get_args(hint)
    elif hint in (int, float):
        kwargs["type"] = hint
    group.add_argument("--" + f.name.replace("_", "-"), **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from ..model.layers import VGG19_LAYERS

    parser = _Parser(
        prog="stylecore",
        description="Neural style transfer (Gatys et al.) on VGG19.",
        epilog=f"Layers: {', '.join(VGG19_LAYERS)}. Ctrl-C stops early and still saves the image. "
        "Also: 'stylecore batch --help' (a folder of photos), 'stylecore video --help' (a video).",
    )
    parser.add_argument("content", type=Path, help="content image (any format Pillow reads)")
    parser.add_argument("styles", type=Path, nargs="+", metavar="style", help="style image(s); Grams are averaged")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .png; snapshots go next to it")
    parser.add_argument(
        "--regions", metavar="M1,M2", type=lambda text: [Path(part.strip()) for part in text.split(",")],
        help="one greyscale mask per style (white: where that style goes; '-': the style for what no mask covers)",
    )  # fmt: skip
    parser.add_argument(
        "--style-regions", metavar="S1,S2", type=lambda text: [Path(part.strip()) for part in text.split(",")],
        help="with --regions: per style, the part of that style image to copy (white; '-': all of it)",
    )  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_run_settings(parser)
    return parser


def add_run_settings(parser: argparse.ArgumentParser) -> None:
    """``--preset`` and one option per :class:`StyleConfig` field (shared with ``stylecore batch``)."""
    from ..config import PRESET_ALIASES, PRESETS, StyleConfig, config_fields

    parser.add_argument("--preset", choices=[*sorted(PRESETS), *PRESET_ALIASES], default="original",
                        help="starting settings (default: original; 'seed' is its old name)")  # fmt: skip
    group = parser.add_argument_group("run settings (override the preset)")
    hints = get_type_hints(StyleConfig)
    for f in config_fields():
        _add_field(group, f, hints[f.name])


def config_from_args(args: argparse.Namespace) -> StyleConfig:
    """The preset, with every option the user gave on top."""
    import warnings

    from ..config import config_fields, get_preset

    given = {f.name: getattr(args, f.name) for f in config_fields() if hasattr(args, f.name)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DeprecationWarning)
        preset = get_preset(args.preset)
    for warning in caught:
        _warn(str(warning.message))
    return preset.with_overrides(**given)


def snapshot_path(output: Path, iteration: int, iterations: int) -> Path:
    """``out.png`` -> ``out_0200.png``: sorts by iteration."""
    width = max(4, len(str(iterations)))
    return output.with_name(f"{output.stem}_{iteration:0{width}d}{output.suffix}")


def check_output(output: Path, plan: WritePlan, suffixes: tuple[str, ...] = (".png",)) -> None:
    """Before any work: a writable path ending in one of ``suffixes``; then ``plan``'s writes against its reads."""
    from ..errors import StylecoreError

    endings = " or ".join(suffixes)
    if output.suffix.lower() not in suffixes:
        raise StylecoreError(f"{output}: output must end in {endings}")
    if output.is_dir():
        raise StylecoreError(f"{output}: is a directory; give a file name ending in {endings}")
    plan.check()
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=output.parent, prefix=".stylecore-probe-"):
            pass  # a real write: access() says yes to root on read-only filesystems
    except OSError as exc:
        raise StylecoreError(f"{output}: cannot write there ({exc.strerror or exc})") from None


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


def write_plan(args: argparse.Namespace, config: StyleConfig) -> WritePlan:
    """What ``stylecore`` reads (photo, styles, masks) and writes (result, snapshots)."""
    from ..imaging.outputs import WritePlan

    plan = WritePlan()
    plan.read(args.content, *args.styles, *(args.regions or ()), *(args.style_regions or ()))
    plan.write(args.output)
    plan.write_matching(args.output.parent, snapshot_names(args.output, config), "snapshot")
    return plan


def save_or_fallback(image: Any, output: Path, meta: dict[str, str]) -> Path:
    """Write the result; if that fails after all, write it to the temp folder and say so."""
    from ..errors import StylecoreError
    from ..imaging.images import save_image

    try:
        return save_image(image, output, meta)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / f"stylecore-{output.stem}-{os.getpid()}.png"
        save_image(image, fallback, meta)
        raise StylecoreError(
            f"could not write {output} ({exc.strerror or exc}); saved the result to {fallback}"
        ) from exc


def run(args: argparse.Namespace, config: StyleConfig, interrupts: Interrupts) -> StyleResult:
    from tqdm import tqdm

    from ..config import provenance
    from ..errors import StylecoreError
    from ..imaging.images import load_image, save_image
    from ..model.extractor import vgg19_extractor
    from ..optim.device import choose_precision
    from ..optim.run import Progress, resolve_device, stylize

    rank = _join_torchrun()  # before the device: under torchrun each rank takes its own GPU
    device = resolve_device(config.device)
    check_output(args.output, write_plan(args, config))
    content = load_image(args.content)  # the engine sizes it (config.size, style_scale)
    styles = [load_image(path) for path in args.styles]
    regions = _load_regions(args.regions, styles, content, "--regions") if args.regions else None
    style_regions = None
    if args.style_regions:
        if regions is None:
            raise StylecoreError("--style-regions needs --regions too")
        style_regions = _load_regions(args.style_regions, styles, None, "--style-regions")
    extractor = vgg19_extractor(layers=config.layers, weights=config.weights, device=device, progress=True)
    if not extractor.weights.trained:
        _warn(f"using {extractor.weights.label}")
    precision = choose_precision(device, config.precision)  # the same policy the run applies
    if not args.quiet and rank == 0:
        print(f"stylecore: precision: {precision.label}", file=sys.stderr)
    meta = {**provenance(config, extractor.weights.label), "stylecore:precision": precision.label}
    bar = tqdm(total=config.iterations, disable=args.quiet or rank > 0, unit="it", dynamic_ncols=True, file=sys.stderr)

    def on_step(p: Progress) -> bool:
        bar.update(1)
        bar.set_postfix({name: f"{value:.3g}" for name, value in p.losses.values.items()})
        if rank == 0 and p.snapshot and config.save_every and p.iteration < p.iterations:
            save_image(p.image, snapshot_path(args.output, p.iteration, p.iterations), meta)
        return interrupts.received is not None

    with bar:
        interrupts.running = True
        try:
            result = stylize(
                content, styles, config, on_step, extractor=extractor, regions=regions, style_regions=style_regions
            )
        finally:
            interrupts.running = False
    if rank == 0:  # every rank holds the same image
        save_or_fallback(result.image, args.output, meta)
    return result


def _join_torchrun() -> int:
    """Started by torchrun (WORLD_SIZE > 1): join its process group, so that tiles spread over the ranks.

    Returns this process's rank (0 when alone). torchrun's environment names the rendezvous.
    """
    import torch
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return 0
    if not dist.is_initialized():
        cuda = torch.cuda.is_available()
        if cuda:
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl" if cuda else "gloo")
    return dist.get_rank()


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
            _warn(f"{path} is {mw}x{mh}, another shape than the {target} ({cw}x{ch}); it is stretched to fit")
        masks.append(mask)
    return masks


def _warn(message: str) -> None:
    print(f"stylecore: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``stylecore``; returns the exit code. ``stylecore batch ...`` runs a folder."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["batch"]:
        from .batch import batch_main

        return batch_main(args[1:])
    if args[:1] == ["video"]:
        from .video import video_main

        return video_main(args[1:])
    interrupts = Interrupts()
    with interrupts.installed():
        try:
            return _main(_join_dash_lists(args), interrupts)
        except KeyboardInterrupt:
            print(f"stylecore: interrupted by {interrupts.aborted.name}", file=sys.stderr)
            return interrupts.exit_code()


def _join_dash_lists(argv: list[str]) -> list[str]:
    """``--regions -,-`` -> ``--regions=-,-``: argparse takes a value starting with '-' for an option."""
    joined: list[str] = []
    for arg in argv:
        if joined and joined[-1] in ("--regions", "--style-regions") and arg.startswith("-") and "," in arg:
            joined[-1] = f"{joined[-1]}={arg}"
        else:
            joined.append(arg)
    return joined


def _main(argv: list[str] | None, interrupts: Interrupts) -> int:
    from ..errors import StylecoreError

    args = build_parser().parse_args(argv)
    try:
        result = run(args, config_from_args(args), interrupts)
    except StylecoreError as exc:
        return _fail(exc)
    h, w = result.image.shape[-2:]
    print(f"wrote {args.output} ({w}x{h}, {len(result.history)} iterations, {result.elapsed:.1f}s)")
    for notice in result.notices:
        _warn(notice)
    if result.stopped:
        _warn(result.stopped if not interrupts.received else f"{interrupts.received}: {result.stopped}")
    if interrupts.received:
        return interrupts.exit_code()
    return 1 if result.diverged else 0


def _fail(exc: StylecoreError) -> int:
    print(f"stylecore: error: {exc}", file=sys.stderr)
    return 1


def convert_main(argv: list[str] | None = None) -> int:
    """``stylecore-convert IN OUT.safetensors``: keep only VGG19 ``features``."""
    parser = _Parser(prog="stylecore-convert", description=convert_main.__doc__)
    parser.add_argument("source", help="torchvision VGG19 checkpoint (.pth) or 'imagenet'")
    parser.add_argument("output", type=Path, help="features-only .safetensors file to write")
    args = parser.parse_args(argv)
    from ..errors import StylecoreError
    from ..model.extractor import build_vgg19_trunk
    from ..model.layers import VGG19_LAYERS
    from ..model.weights import load_weights_into, resolve_weights, save_features_safetensors

    try:
        trunk = build_vgg19_trunk(max(VGG19_LAYERS.values()))
        load_weights_into(trunk, resolve_weights(args.source), progress=True)
        save_features_safetensors(trunk, args.output)
    except StylecoreError as exc:
        print(f"stylecore-convert: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB)")
    return 0
