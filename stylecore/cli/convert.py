"""``stylecore-convert IN OUT.safetensors``: a torchvision VGG19 checkpoint, kept to its ``features``."""

from __future__ import annotations

from pathlib import Path

from .common import Parser, fail


def convert_main(argv: list[str] | None = None) -> int:
    """``stylecore-convert IN OUT.safetensors``: keep only VGG19 ``features``."""
    parser = Parser(prog="stylecore-convert", description=convert_main.__doc__)
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
        return fail("stylecore-convert", exc)
    print(f"wrote {args.output} ({args.output.stat().st_size / 1e6:.1f} MB)")
    return 0
