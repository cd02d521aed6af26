"""stylecore: Gatys-style neural style transfer on VGG19.

The public API is the extension API: what :func:`stylize` takes (its ``terms=``, a loss term with
:func:`register_term`, a style statistic with :func:`register`) is importable from here. Every name
is listed once, in :data:`PUBLIC_API` below: ``__all__`` and the lazy imports are generated from it, and
tests/test_architecture.py checks that the ``TYPE_CHECKING`` block (for type checkers and editors)
lists the same names. Names are imported on first use (PEP 562), so ``import stylecore`` and the
CLI's start-up do not pay for torch until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the same names as PUBLIC_API, re-exported explicitly for type checkers
    from .config import PRESETS as PRESETS
    from .config import StyleConfig as StyleConfig
    from .config import provenance as provenance
    from .errors import ConfigError as ConfigError
    from .errors import ImageError as ImageError
    from .errors import StylecoreError as StylecoreError
    from .errors import WeightsError as WeightsError
    from .imaging.images import load_image as load_image
    from .imaging.images import open_image as open_image
    from .imaging.images import pil_to_tensor as pil_to_tensor
    from .imaging.images import save_image as save_image
    from .imaging.images import tensor_to_pil as tensor_to_pil
    from .model.extractor import VGGExtractor as VGGExtractor
    from .model.extractor import vgg19_extractor as vgg19_extractor
    from .model.layers import DEFAULT_LAYERS as DEFAULT_LAYERS
    from .model.layers import VGG19_LAYERS as VGG19_LAYERS
    from .model.layers import layer_name as layer_name
    from .model.weights import WEIGHTS_ENV as WEIGHTS_ENV
    from .model.weights import WeightsSource as WeightsSource
    from .model.weights import resolve_weights as resolve_weights
    from .objective.functional import content_loss as content_loss
    from .objective.functional import gram_matrix as gram_matrix
    from .objective.functional import style_loss as style_loss
    from .objective.functional import tv_loss as tv_loss
    from .objective.registry import TERMS as TERMS
    from .objective.registry import FeatureFn as FeatureFn
    from .objective.registry import LossTerm as LossTerm
    from .objective.registry import TermKind as TermKind
    from .objective.registry import WeightControl as WeightControl
    from .objective.registry import register_term as register_term
    from .objective.style import STATISTICS as STATISTICS
    from .objective.style import Stat as Stat
    from .objective.style import StyleStatistic as StyleStatistic
    from .objective.style import register as register
    from .objective.terms import ContentTerm as ContentTerm
    from .objective.terms import StyleTerm as StyleTerm
    from .objective.terms import TemporalTerm as TemporalTerm
    from .objective.terms import TotalVariationTerm as TotalVariationTerm
    from .objective.terms import default_terms as default_terms
    from .objective.tile_terms import GlobalTerm as GlobalTerm
    from .objective.tile_terms import LocalTerm as LocalTerm
    from .objective.tile_terms import TileContext as TileContext
    from .objective.tile_terms import Window as Window
    from .objective.tile_terms import crop as crop
    from .optim.device import resolve_device as resolve_device
    from .optim.engine import LossTerms as LossTerms
    from .optim.run import Progress as Progress
    from .optim.run import StyleResult as StyleResult
    from .optim.run import StyleRun as StyleRun
    from .optim.run import stylize as stylize

#: Module (under ``stylecore``) -> the public names it defines: the one list of the API.
PUBLIC_API: dict[str, tuple[str, ...]] = {
    "config": ("PRESETS", "StyleConfig", "provenance"),
    "errors": ("ConfigError", "ImageError", "StylecoreError", "WeightsError"),
    "imaging.images": ("load_image", "open_image", "pil_to_tensor", "save_image", "tensor_to_pil"),
    "model.extractor": ("VGGExtractor", "vgg19_extractor"),
    "model.layers": ("DEFAULT_LAYERS", "VGG19_LAYERS", "layer_name"),
    "model.weights": ("WEIGHTS_ENV", "WeightsSource", "resolve_weights"),
    "objective.functional": ("content_loss", "gram_matrix", "style_loss", "tv_loss"),
    "objective.registry": ("TERMS", "FeatureFn", "LossTerm", "TermKind", "WeightControl", "register_term"),
    "objective.style": ("STATISTICS", "Stat", "StyleStatistic", "register"),
    "objective.terms": ("ContentTerm", "StyleTerm", "TemporalTerm", "TotalVariationTerm", "default_terms"),
    "objective.tile_terms": ("GlobalTerm", "LocalTerm", "TileContext", "Window", "crop"),
    "optim.device": ("resolve_device",),
    "optim.engine": ("LossTerms",),
    "optim.run": ("Progress", "StyleResult", "StyleRun", "stylize"),
}
_MODULE_OF = {name: module for module, names in PUBLIC_API.items() for name in names}
__all__ = sorted(_MODULE_OF)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'stylecore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return [*globals(), *__all__]
