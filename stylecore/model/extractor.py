"""VGG19 feature extractor with paper layer names (conv1_1 … relu5_4).

Only the convolutional trunk is built, and only up to the deepest requested
layer: style transfer never needs the 100M-parameter classifier.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..errors import ConfigError, ImageError
from .layers import DEFAULT_LAYERS, VGG19_CFG, VGG19_LAYERS, deepest, layer_name, layer_names, min_side, trunk_shapes
from .weights import WeightsSource, load_weights_into, resolve_weights

# Re-exported: the names were here before the table moved to the torch-free layers.py.
__all__ = [
    "DEFAULT_LAYERS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "VGG19_LAYERS",
    "VGGExtractor",
    "build_vgg19_trunk",
    "check_min_size",
    "layer_name",
    "layer_names",
    "min_side",
    "trunk_shapes",
    "vgg19_extractor",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class _UnsetConv2d(nn.Conv2d):
    """A Conv2d that skips torch's default init: its weights are filled at once from a checkpoint or a seed,
    and the thrown-away init of 20M weights cost ~0.1 s of every start (a meta-device build costs more)."""

    def reset_parameters(self) -> None:
        pass


def build_vgg19_trunk(depth: int, *, initialize: bool = True) -> nn.Sequential:
    """torchvision-compatible ``features[:depth + 1]`` (same module indices).

    ``initialize=False`` leaves the weights unset (uninitialised memory), for a caller that fills them at once.
    """
    conv = nn.Conv2d if initialize else _UnsetConv2d
    modules: list[nn.Module] = []
    in_channels = 3
    for item in VGG19_CFG:
        if item == "M":
            modules.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            assert isinstance(item, int)
            modules += [conv(in_channels, item, kernel_size=3, padding=1), nn.ReLU()]
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
        self.features = build_vgg19_trunk(max(VGG19_LAYERS[n] for n in self.layers), initialize=False)
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


def check_min_size(image: Tensor, layers: Sequence[str | int]) -> None:
    """Raise :class:`ImageError` when ``image`` is too small for the deepest of ``layers``."""
    need = min_side(layers)
    if min(image.shape[-2:]) < need:
        raise ImageError(
            f"image is {image.shape[-1]}x{image.shape[-2]} pixels; layer "
            f"{deepest(layers)} needs at least {need} on each side"
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
