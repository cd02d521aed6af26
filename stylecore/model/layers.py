"""The VGG19 layer table with the paper's names (conv1_1 … relu5_4), and what it implies for sizes.

Plain Python, no torch: the config, the CLI's ``--help`` and size checks read it without loading torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ..errors import ConfigError

# torchvision's VGG19 ("config E"): channel counts per conv, "M" = max-pool.
VGG19_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip


def _layer_table() -> dict[str, int]:
    """Paper name -> index into torchvision's ``vgg19().features``."""
    table: dict[str, int] = {}
    block, depth, index = 1, 1, 0
    for item in VGG19_CFG:
        if item == "M":
            table[f"pool{block}"] = index
            block, depth, index = block + 1, 1, index + 1
        else:
            table[f"conv{block}_{depth}"] = index
            table[f"relu{block}_{depth}"] = index + 1
            depth, index = depth + 1, index + 2
    return table


#: The one table mapping paper layer names to torchvision ``features`` indices.
VGG19_LAYERS: dict[str, int] = _layer_table()
_NAMES_BY_INDEX = {i: n for n, i in VGG19_LAYERS.items()}

#: The original design's taps: features 0, 5, 10, 19, 28 (pre-ReLU).
DEFAULT_LAYERS: tuple[str, ...] = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")


def layer_name(layer: str | int) -> str:
    """Normalise a paper name or torchvision index to the paper name."""
    if isinstance(layer, int) or (isinstance(layer, str) and layer.strip().isdigit()):
        index = int(layer)
        if index in _NAMES_BY_INDEX:
            return _NAMES_BY_INDEX[index]
        raise ConfigError(f"unknown VGG19 layer index {index}; valid: 0-{len(VGG19_LAYERS) - 1}")
    name = layer.strip().lower()
    if name not in VGG19_LAYERS:
        raise ConfigError(f"unknown layer {layer!r}; valid: {', '.join(VGG19_LAYERS)}")
    return name


def layer_names(layers: Iterable[str | int]) -> tuple[str, ...]:
    """Normalise several layers, keeping order and dropping repeats."""
    names = tuple(dict.fromkeys(layer_name(layer) for layer in layers))
    if not names:
        raise ConfigError("at least one layer is required")
    return names


def trunk_shapes(height: int, width: int, deepest: str) -> Iterator[tuple[str, int, int, int, int]]:
    """(kind, in_channels, out_channels, out_height, out_width) of each module up to ``deepest``.

    For counting work and memory without building anything; kind is conv, relu or pool.
    """
    depth, index, channels = VGG19_LAYERS[deepest], 0, 3
    for item in VGG19_CFG:
        if item == "M":
            height, width = height // 2, width // 2
            modules = [("pool", channels, channels)]
        else:
            assert isinstance(item, int)
            modules = [("conv", channels, item), ("relu", item, item)]
            channels = item
        for kind, c_in, c_out in modules:
            if index > depth:
                return
            yield kind, c_in, c_out, height, width
            index += 1


def deepest(layers: Sequence[str | int]) -> str:
    """The deepest of ``layers`` (by torchvision index), by name."""
    return _NAMES_BY_INDEX[max(VGG19_LAYERS[name] for name in layer_names(layers))]


def min_side(layers: Sequence[str | int]) -> int:
    """The smallest image side the deepest of ``layers`` accepts: each max-pool before it halves the image."""
    depth = VGG19_LAYERS[deepest(layers)]
    pools = sum(1 for name, i in VGG19_LAYERS.items() if name.startswith("pool") and i < depth)
    return int(2**pools)


#: The smallest output side: twice what the deepest VGG19 layer needs (four
#: max-pools before conv5_1 leave 1 pixel of a 16 px image; 2x keeps a few).
MIN_SIDE = 2 * min_side(tuple(VGG19_LAYERS))
