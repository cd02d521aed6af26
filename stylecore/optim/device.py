"""Devices and the precision the VGG pass runs in on them.

The precision policy (bf16 only where it measures faster) lives in :mod:`stylecore.optim.precision`;
its names are re-exported here, where callers have always imported them from.
"""

from __future__ import annotations

import copy

import torch

from ..config import StyleConfig
from ..errors import ConfigError
from ..model.extractor import VGGExtractor, vgg19_extractor
from .precision import Capability, PrecisionChoice, choose_precision, detect_capability

__all__ = [
    "Capability",
    "PrecisionChoice",
    "choose_precision",
    "detect_capability",
    "extractor_on",
    "resolve_device",
    "run_device",
]


# Device resolution: which device a run uses, and its extractor there.


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' requested but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(name)


def run_device(name: str, extractor: VGGExtractor | None) -> torch.device:
    """A run's device: ``auto`` with a given extractor follows it; otherwise :func:`resolve_device`."""
    if name == "auto" and extractor is not None:
        return extractor.mean.device
    return resolve_device(name)


def extractor_on(extractor: VGGExtractor | None, config: StyleConfig, device: torch.device) -> VGGExtractor:
    """The caller's extractor on ``device`` (a copy if it is elsewhere), or one built from ``config.weights``."""
    if extractor is None:
        return vgg19_extractor(layers=config.layers, weights=config.weights, device=device)
    if extractor.mean.device != device:  # never move the caller's model under its feet
        return copy.deepcopy(extractor).to(device)
    return extractor
