"""Finding and loading VGG19 weights: ImageNet, seeded random, or a file.

Resolution order: an explicit argument, then ``$STYLECORE_WEIGHTS``, then
``imagenet`` (torchvision's ``VGG19_Weights.IMAGENET1K_V1`` via the hub cache).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from .errors import WeightsError

WEIGHTS_ENV = "STYLECORE_WEIGHTS"
# torchvision.models.VGG19_Weights.IMAGENET1K_V1.url, kept literal so that
# resolving weights never imports torchvision's model zoo.
IMAGENET_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
IMAGENET_HASH_PREFIX = "dcbb9e9d"


@dataclass(frozen=True)
class WeightsSource:
    """Where extractor weights come from."""

    kind: Literal["imagenet", "random", "file"]
    seed: int = 0  # only for kind == "random"
    path: Path | None = None  # only for kind == "file"

    @property
    def trained(self) -> bool:
        return self.kind != "random"

    @property
    def label(self) -> str:
        """Human-readable provenance, attached to every result."""
        if self.kind == "imagenet":
            return "VGG19 ImageNet (torchvision IMAGENET1K_V1)"
        if self.kind == "random":
            return f"UNTRAINED random VGG19 weights (seed {self.seed}); not real style transfer"
        return f"VGG19 weights from {self.path}"


def resolve_weights(spec: str | WeightsSource | None = None) -> WeightsSource:
    """Turn ``imagenet``, ``random``, ``random:SEED`` or a file path into a source."""
    if isinstance(spec, WeightsSource):
        return spec
    spec = (spec or os.environ.get(WEIGHTS_ENV) or "imagenet").strip()
    if spec == "imagenet":
        return WeightsSource("imagenet")
    if match := re.fullmatch(r"random(?::(-?\d+))?", spec):
        return WeightsSource("random", seed=int(match.group(1) or 0))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise WeightsError(
            f"weights file {path} does not exist; give 'imagenet', 'random[:SEED]' "
            f"or a VGG19 checkpoint (.pth/.safetensors) via --weights or {WEIGHTS_ENV}"
        )
    return WeightsSource("file", path=path)


def imagenet_cache_path() -> Path:
    """Where torchvision's hub cache keeps the ImageNet VGG19 checkpoint."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(IMAGENET_URL).name


def load_weights_into(trunk: nn.Sequential, source: WeightsSource, *, progress: bool = False) -> None:
    """Fill ``trunk`` (a torchvision-indexed ``features`` prefix) from ``source``."""
    if source.kind == "random":
        _init_random(trunk, source.seed)
        return
    path = _fetch_imagenet(progress) if source.kind == "imagenet" else source.path
    assert path is not None
    state = _features_only(read_state_dict(path))
    trunk.load_state_dict(_checked(state, trunk, path), strict=True)


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Read a ``.safetensors`` or torch checkpoint as a flat tensor dict, safely."""
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or pickled-module files
        raise WeightsError(f"cannot read weights file {path}: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise WeightsError(f"{path} is not a state dict of tensors (save model.state_dict())")
    return state


def save_features_safetensors(trunk: nn.Module, path: Path) -> None:
    """Write a compact features-only ``.safetensors`` file (keys ``N.weight``)."""
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in trunk.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"format": "pt", "model": "vgg19.features"})


def _features_only(state: dict[str, Tensor]) -> dict[str, Tensor]:
    """Accept full-model (``features.N.weight``) and features-only (``N.weight``) keys."""
    if any(k.startswith("features.") for k in state):
        return {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    return state


def _checked(state: dict[str, Tensor], trunk: nn.Module, path: Path) -> dict[str, Tensor]:
    """The trunk's entries of ``state``, or an error naming the first bad key."""
    selected = {}
    for key, expected in trunk.state_dict().items():
        if key not in state:
            raise WeightsError(f"{path}: missing key 'features.{key}' (or '{key}'); is it a VGG19 checkpoint?")
        if state[key].shape != expected.shape:
            raise WeightsError(
                f"{path}: key '{key}' has shape {tuple(state[key].shape)}, VGG19 needs {tuple(expected.shape)}"
            )
        selected[key] = state[key].float()
    return selected


def _init_random(trunk: nn.Module, seed: int) -> None:
    """torchvision's VGG init, seeded; conv k gets the same values at any depth."""
    generator = torch.Generator().manual_seed(seed)
    for module in trunk.modules():
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu", generator=generator)
            nn.init.zeros_(module.bias)


def _fetch_imagenet(progress: bool) -> Path:
    path = imagenet_cache_path()
    if path.is_file():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(IMAGENET_URL, str(path), IMAGENET_HASH_PREFIX, progress=progress)
    except Exception as exc:  # no network, proxy, disk or hash failures alike
        raise WeightsError(
            f"VGG19 ImageNet weights not found at {path} and could not be downloaded ({exc}). "
            f"Download {IMAGENET_URL} to that path (or point TORCH_HOME at a folder holding "
            f"hub/checkpoints/{path.name}), or set {WEIGHTS_ENV}=<checkpoint .pth/.safetensors>; "
            f"{WEIGHTS_ENV}=random runs offline with untrained weights (smoke tests only)."
        ) from exc
    return path
