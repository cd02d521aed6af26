"""The precision policy: which arithmetic the VGG pass runs in, on which hardware, and why.

Only the extractor's convolutions are autocast; losses, Grams, pixels and the
optimiser state stay fp32 (:class:`stylecore.optim.engine.PixelOptimizer`). bf16
pays where the hardware has bf16 units: CUDA GPUs that report bf16 support,
and CPUs with AMX or AVX512-BF16 (oneDNN runs bf16 convolutions on them).
On a CPU without them bf16 is emulated and slower, so ``auto`` keeps fp32.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch

from ..config import StyleConfig
from ..errors import ConfigError
from ..model.extractor import VGGExtractor, vgg19_extractor


@dataclass(frozen=True)
class Capability:
    """What the hardware offers for bf16; tests build one to cover every branch."""

    cuda_bf16: bool = False  # the CUDA device reports bf16 support
    cpu_bf16: str | None = None  # "AMX" or "AVX512-BF16" when oneDNN can use it, else None


@dataclass(frozen=True)
class PrecisionChoice:
    """The precision a run uses and the reason, as one line for people and metadata."""

    bf16: bool
    reason: str

    @property
    def name(self) -> str:
        return "bf16" if self.bf16 else "fp32"

    @property
    def label(self) -> str:
        """e.g. ``bf16 (CPU has AVX512-BF16)``: what the CLI prints and the PNG records."""
        return f"{self.name} ({self.reason})"


def detect_capability(device: torch.device) -> Capability:
    """The bf16 units of ``device`` (the CPU's are read from oneDNN's own checks)."""
    if device.type == "cuda":
        return Capability(cuda_bf16=torch.cuda.is_bf16_supported())
    if device.type != "cpu" or not torch.backends.mkldnn.is_available():  # type: ignore[no-untyped-call]
        return Capability()
    if torch.cpu._is_amx_tile_supported():
        return Capability(cpu_bf16="AMX")
    if torch.ops.mkldnn._is_mkldnn_bf16_supported():
        return Capability(cpu_bf16="AVX512-BF16")
    return Capability()


def choose_precision(device: torch.device, requested: str, capability: Capability | None = None) -> PrecisionChoice:
    """``fp32``/``bf16`` as requested; ``auto``: bf16 where ``device`` has bf16 units, else fp32.

    ``capability`` defaults to :func:`detect_capability` of ``device``.
    """
    if requested in ("fp32", "bf16"):
        return PrecisionChoice(requested == "bf16", "requested")
    cap = detect_capability(device) if capability is None else capability
    if device.type == "cuda":
        return PrecisionChoice(cap.cuda_bf16, "GPU supports bf16" if cap.cuda_bf16 else "GPU has no bf16")
    if device.type == "cpu" and cap.cpu_bf16:
        return PrecisionChoice(True, f"CPU has {cap.cpu_bf16}")
    return PrecisionChoice(False, f"{device.type.upper()} has no bf16 units")


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
