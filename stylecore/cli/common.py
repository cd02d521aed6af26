"""The kit every command shares: parser, run settings, interrupts and exit codes, output checks, the model.

Commands (image, batch, video, convert) import this module and never one another. Only the
standard library is imported at module level: a command installs its SIGINT/SIGTERM handling
first, so a Ctrl-C while torch is still importing ends with one line instead of a traceback,
and ``--help`` stays quick.
"""

from __future__ import annotations

import argparse
import os
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
    import torch

    from ..config import StyleConfig
    from ..imaging.outputs import WritePlan
    from ..model.extractor import VGGExtractor
    from ..model.weights import WeightsSource


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, not usage + error."""

    def error(self, message: str) -> NoReturn:
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

    def status(self, failed: bool) -> int:
        """The exit code of a command that ran to its end: the signal's when one stopped it, else 1 or 0."""
        return self.exit_code() if self.received else int(failed)

    @contextmanager
    def installed(self) -> Iterator[Interrupts]:
        previous = {sig: signal.signal(sig, self.handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def run_command(prog: str, body: Callable[[Interrupts], int], aborted_note: str = "") -> int:
    """The one main wrapper: signals handled from the first line; one that aborts is one line and 128 + it."""
    interrupts = Interrupts()
    with interrupts.installed():
        try:
            return body(interrupts)
        except KeyboardInterrupt:
            print(f"{prog}: interrupted by {interrupts.aborted.name}{aborted_note}", file=sys.stderr)
            return interrupts.exit_code()


def fail(prog: str, message: object) -> int:
    """An expected error: one line on stderr, exit code 1."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return 1


def warn(message: str) -> None:
    print(f"stylecore: warning: {message}", file=sys.stderr)


def say(prog: str, message: str) -> None:
    """A note on stderr (stdout is kept for what was written)."""
    print(f"{prog}: {message}", file=sys.stderr)


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


def add_run_settings(parser: argparse.ArgumentParser) -> None:
    """``--preset`` and one option per :class:`StyleConfig` field (every command that stylizes)."""
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
        warn(str(warning.message))
    return preset.with_overrides(**given)


def add_bit_depth(parser: argparse.ArgumentParser) -> None:
    """``--bit-depth``: 16 for print (a 16-bit PNG; .tif results are always 16-bit)."""
    parser.add_argument("--bit-depth", type=int, choices=[8, 16], dest="bits",
                        help="bits per channel: 16 for print (default: 8 for .png, 16 for .tif)")  # fmt: skip


def check_output(output: Path, plan: WritePlan, suffixes: tuple[str, ...] | None = None) -> None:
    """Before any work: a writable path ending in one of ``suffixes`` (default: the image formats' table);
    then ``plan``'s writes against its reads."""
    from ..errors import StylecoreError
    from ..imaging.formats import SUFFIXES

    suffixes = suffixes or SUFFIXES
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


def save_or_fallback(image: Any, output: Path, meta: dict[str, str], bits: int | None = None) -> Path:
    """Write the result; if that fails after all, write it to the temp folder and say so."""
    from ..errors import StylecoreError
    from ..imaging.images import save_image

    try:
        return save_image(image, output, meta, bits=bits)
    except OSError as exc:
        fallback = Path(tempfile.gettempdir()) / f"stylecore-{output.stem}-{os.getpid()}{output.suffix.lower()}"
        save_image(image, fallback, meta, bits=bits)
        raise StylecoreError(
            f"could not write {output} ({exc.strerror or exc}); saved the result to {fallback}"
        ) from exc


def load_extractor(config: StyleConfig, device: torch.device | None = None) -> VGGExtractor:
    """The model for ``config``, on ``device`` (default: ``config.device``); says so when it is untrained."""
    from ..model.extractor import vgg19_extractor
    from ..optim.run import resolve_device

    device = device if device is not None else resolve_device(config.device)
    extractor = vgg19_extractor(layers=config.layers, weights=config.weights, device=device, progress=True)
    warn_untrained(extractor.weights)
    return extractor


def warn_untrained(weights: WeightsSource) -> None:
    """The one warning that the results will not look like style transfer (where workers load the model, too)."""
    if not weights.trained:
        warn(f"using {weights.label}")
