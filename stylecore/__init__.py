"""stylecore: Gatys-style neural style transfer on VGG19.

Names are imported on first use (PEP 562), so ``import stylecore`` and the CLI's
start-up do not pay for torch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import PRESETS, StyleConfig
    from .errors import ConfigError, ImageError, StylecoreError, WeightsError
    from .imaging.images import load_image, open_image, pil_to_tensor, save_image, tensor_to_pil
    from .model.extractor import VGGExtractor, vgg19_extractor
    from .model.layers import DEFAULT_LAYERS, VGG19_LAYERS, layer_name
    from .model.weights import WEIGHTS_ENV, WeightsSource, resolve_weights
    from .objective.functional import content_loss, gram_matrix, style_loss, tv_loss
    from .optim.engine import LossTerms
    from .optim.run import Progress, StyleResult, StyleRun, resolve_device, stylize

_HOMES = {
    "config": ("PRESETS", "StyleConfig"),
    "optim.engine": ("LossTerms",),
    "errors": ("ConfigError", "ImageError", "StylecoreError", "WeightsError"),
    "model.extractor": ("DEFAULT_LAYERS", "VGG19_LAYERS", "VGGExtractor", "layer_name", "vgg19_extractor"),
    "imaging.images": ("load_image", "open_image", "pil_to_tensor", "save_image", "tensor_to_pil"),
    "objective.functional": ("content_loss", "gram_matrix", "style_loss", "tv_loss"),
    "optim.run": ("Progress", "StyleResult", "StyleRun", "resolve_device", "stylize"),
    "model.weights": ("WEIGHTS_ENV", "WeightsSource", "resolve_weights"),
}
_MODULE_OF = {name: module for module, names in _HOMES.items() for name in names}
__all__ = [
    "DEFAULT_LAYERS",
    "PRESETS",
    "VGG19_LAYERS",
    "WEIGHTS_ENV",
    "ConfigError",
    "ImageError",
    "LossTerms",
    "Progress",
    "StyleConfig",
    "StyleResult",
    "StyleRun",
    "StylecoreError",
    "VGGExtractor",
    "WeightsError",
    "WeightsSource",
    "content_loss",
    "gram_matrix",
    "layer_name",
    "load_image",
    "open_image",
    "pil_to_tensor",
    "resolve_device",
    "resolve_weights",
    "save_image",
    "style_loss",
    "stylize",
    "tensor_to_pil",
    "tv_loss",
    "vgg19_extractor",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'stylecore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return [*globals(), *__all__]
