"""``stylecore-convert IN OUT.safetensors``: a torchvision VGG19 checkpoint, kept to its ``features``.

The output follows the write plan of every command: a regular file (no FIFO or device), never the input,
replaced only when this command made it (its safetensors metadata says ``vgg19.features``), written atomically.
"""

from __future__ import annotations

from pathlib import Path

from .common import Parser, fail

OURS = {"format": "pt", "model": "vgg19.features"}  # the metadata save_features_safetensors writes


def convert_main(argv: list[str] | None = None) -> int:
    """``stylecore-convert IN OUT.safetensors``: keep only VGG19 ``features``."""
    parser = Parser(prog="stylecore-convert", description=convert_main.__doc__)
    parser.add_argument("source", help="torchvision VGG19 checkpoint (.pth) or 'imagenet'")
    parser.add_argument("output", type=Path, help="features-only .safetensors file to write")
    args = parser.parse_args(argv)
    from ..errors import StylecoreError
    from ..imaging.outputs import atomic_file
    from ..model.extractor import build_vgg19_trunk
    from ..model.layers import VGG19_LAYERS
    from ..model.weights import load_weights_into, resolve_weights, save_features_safetensors

    try:
        source = resolve_weights(args.source)
        _check_output(args.output, source.path)
        trunk = build_vgg19_trunk(max(VGG19_LAYERS.values()))
        load_weights_into(trunk, source, progress=True)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(args.output) as temp:
            save_features_safetensors(trunk, temp)
    except StylecoreError as exc:
        return fail("stylecore-convert", exc)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB)")
    return 0


def _check_output(output: Path, source: Path | None) -> None:
    """A regular file that is not the input, and, if it exists, one this command wrote."""
    import os

    from ..errors import StylecoreError
    from ..imaging.outputs import check_regular, same_file

    check_regular(output)
    if source is not None and same_file(source, output):
        raise StylecoreError(f"{output} would overwrite the input {source}; choose another output name")
    if os.path.lexists(output) and os.path.getsize(output) > 0 and not _ours(output):
        raise StylecoreError(f"{output} exists and was not made by stylecore-convert, so it is kept")


def _ours(path: Path) -> bool:
    try:
        from safetensors import safe_open

        with safe_open(str(path), "pt") as f:
            return bool(f.metadata() == OURS)
    except Exception:  # not a safetensors file, or unreadable: not ours
        return False
