"""Devices and the precision the VGG pass runs in on them.

The precision policy (bf16 only where it measures faster) lives in :mod:`stylecore.optim.precision`;
its names are re-exported here, where callers have always imported them from.
"""

from __future__ import annotations

from .precision import Capability, PrecisionChoice, choose_precision, detect_capability

__all__ = ["Capability", "PrecisionChoice", "choose_precision", "detect_capability"]
