"""VGG19 feature extractor with paper layer names (conv1_1 … relu5_4).

Only the convolutional trunk is built, and only up to the deepest requested
layer: style transfer never needs the 100M-parameter classifier.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ImageError
from .weights import WeightsSource, load_weights_into, resolve_weights

# torchvision's VGG19 ("config E"): channel counts per conv, "M" = max-pool.
_VGG19_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
    512, 512, 512, 512, "M", 512, 512, 512, 512, "M",
)  # fmt: skip

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _layer_table() -> dict[str, int]:
    """Paper name -> index into torchvision's ``vgg19().features``."""
    table: dict[str, int] = {}
    block, depth, index = 1, 1, 0
    for item in _VGG19_CFG:
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
    for item in _VGG19_CFG:
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


def build_vgg19_trunk(depth: int) -> nn.Sequential:
    """torchvision-compatible ``features[:depth + 1]`` (same module indices)."""
    modules: list[nn.Module] = []
    in_channels = 3
    for item in _VGG19_CFG:
        if item == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(item, int)
            modules += [nn.Conv2d(in_channels, item, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = item
        if len(modules) > depth:
            break
    return nn.Sequential(*modules[: depth + 1])


class VGGExtractor(nn.Module):
    """Frozen VGG19 trunk returning ``{layer_name: features}``.

    Input is RGB in [0, 1], shape (B, 3, H, W); ImageNet normalisation is applied
    inside. Build it with :func:`stylecore.vgg19_extractor`.
    """

    mean: Tensor
    std: Tensor

    def __init__(self, layers: Sequence[str | int], weights: WeightsSource, *, progress: bool = False) -> None:
        super().__init__()
        self.layers = layer_names(layers)
        self.weights = weights
        self.features = build_vgg19_trunk(max(VGG19_LAYERS[n] for n in self.layers))
        load_weights_into(self.features, weights, progress=progress)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.requires_grad_(False)
        self.eval()

    def forward(self, image: Tensor, layers: Sequence[str] | None = None) -> dict[str, Tensor]:
        """Features at ``layers`` (default: those built for); stops at the deepest one."""
        wanted = self.layers if layers is None else layer_names(layers)
        missing = [n for n in wanted if n not in self.layers]
        if missing:
            raise ConfigError(f"extractor was built for {self.layers}, not {missing}")
        taps = {VGG19_LAYERS[n]: n for n in wanted}
        check_min_size(image, wanted)
        x = (image - self.mean) / self.std
        out: dict[str, Tensor] = {}
        for index in range(max(taps) + 1):
            module = self.features[index]
            # In-place ReLU saves one activation per layer, but would overwrite a
            # conv output we just captured, so only when that conv is not tapped.
            x = F.relu(x, inplace=index - 1 not in taps) if isinstance(module, nn.ReLU) else module(x)
            if index in taps:
                out[taps[index]] = x
        return out


def min_side(layers: Sequence[str | int]) -> int:
    """The smallest image side the deepest of ``layers`` accepts: each max-pool before it halves the image."""
    depth = max(VGG19_LAYERS[name] for name in layer_names(layers))
    pools = sum(1 for name, i in VGG19_LAYERS.items() if name.startswith("pool") and i < depth)
    return int(2**pools)


def check_min_size(image: Tensor, layers: Sequence[str | int]) -> None:
    """Raise :class:`ImageError` when ``image`` is too small for the deepest of ``layers``."""
    need = min_side(layers)
    if min(image.shape[-2:]) < need:
        depth = max(VGG19_LAYERS[name] for name in layer_names(layers))
        raise ImageError(
            f"image is {image.shape[-1]}x{image.shape[-2]} pixels; layer "
            f"{_NAMES_BY_INDEX[depth]} needs at least {need} on each side"
        )


def vgg19_extractor(
    *,
    layers: Sequence[str | int] = DEFAULT_LAYERS,
    weights: str | WeightsSource | None = None,
    device: torch.device | str | None = None,
    progress: bool = False,
) -> VGGExtractor:
    """Build a frozen VGG19 extractor.

    Args:
        layers: paper names (``conv4_2``) or torchvision indices (``21``).
        weights: ``imagenet``, ``random[:SEED]``, a checkpoint path, or None for
            ``$STYLECORE_WEIGHTS`` and then ``imagenet``.
        device: where to put it (default CPU).
        progress: show torch's download bar if ImageNet weights must be fetched.

    Raises:
        ConfigError: an unknown layer. WeightsError: weights missing or malformed.
    """
    extractor = VGGExtractor(layers, resolve_weights(weights), progress=progress)
    return extractor.to(device) if device is not None else extractor
