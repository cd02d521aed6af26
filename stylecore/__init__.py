"""stylecore: Gatys-style neural style transfer on VGG19."""

from .config import PRESETS, StyleConfig
from .engine import LossTerms, Progress, StyleResult, resolve_device
from .errors import ConfigError, ImageError, StylecoreError, WeightsError
from .extractor import DEFAULT_LAYERS, VGG19_LAYERS, VGGExtractor, layer_name, vgg19_extractor
from .imageio import load_image, open_image, pil_to_tensor, save_image, tensor_to_pil
from .losses import content_loss, gram_matrix, style_loss, tv_loss
from .run import StyleRun, stylize
from .weights import WEIGHTS_ENV, WeightsSource, resolve_weights

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
