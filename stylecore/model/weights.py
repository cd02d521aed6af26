"""Finding and loading VGG19 weights: ImageNet, seeded random, or a file.

Resolution order: an explicit argument, then ``$STYLECORE_WEIGHTS``, then
``imagenet``: torchvision's ``VGG19_Weights.IMAGENET1K_V1``, found in the
Hugging Face cache (``timm/vgg19.tv_in1k``, what a Space's ``preload_from_hub``
fills), else in torch's hub cache, else downloaded there.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch import Tensor, nn

from ..errors import WeightsError

#: The environment variable naming a weights file (or source) when none is given.
WEIGHTS_ENV = "STYLECORE_WEIGHTS"
# torchvision.models.VGG19_Weights.IMAGENET1K_V1.url, kept literal so that
# resolving weights never imports torchvision's model zoo.
IMAGENET_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
IMAGENET_HASH_PREFIX = "dcbb9e9d"
#: The same tensors on the Hugging Face Hub: timm keeps torchvision's ``features.N.*``
#: names (its classifier lives under other keys, which are never read).
HUB_REPO = "timm/vgg19.tv_in1k"
HUB_FILE = "model.safetensors"


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
    def spec(self) -> str:
        """The string :func:`resolve_weights` turns back into this source."""
        if self.kind == "random":
            return f"random:{self.seed}"
        return str(self.path) if self.kind == "file" else self.kind

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
    path = find_imagenet(progress=progress) if source.kind == "imagenet" else source.path
    assert path is not None
    state = _features_only(read_state_dict(path))
    trunk.load_state_dict(_checked(state, trunk, path), strict=True)


def hub_cache_path() -> Path | None:
    """``timm/vgg19.tv_in1k``'s weights in the Hugging Face cache, if there (never downloads)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # the Hub client is optional for the core
        return None
    found = try_to_load_from_cache(HUB_REPO, HUB_FILE)
    return Path(found) if isinstance(found, str) else None


def find_imagenet(*, progress: bool = False) -> Path:
    """The ImageNet checkpoint: Hugging Face cache, torch hub cache, or a download into the latter."""
    return hub_cache_path() or _fetch_imagenet(progress)


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """Read a ``.safetensors`` or torch checkpoint as a flat tensor dict, safely.

    From a ``.safetensors`` file only the ``features.*`` tensors are read when it
    has any (a full classifier checkpoint is mostly fully-connected weights).
    """
    try:
        if path.suffix == ".safetensors":
            return _read_safetensors_features(path)
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt, truncated or pickled-module files
        raise WeightsError(f"cannot read weights file {path}: {exc}") from exc
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise WeightsError(f"{path} is not a state dict of tensors (save model.state_dict())")
    return state


def _read_safetensors_features(path: Path) -> dict[str, Tensor]:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        keys = list(handle.keys())
        wanted = [k for k in keys if k.startswith("features.")] or keys
        return {key: handle.get_tensor(key) for key in wanted}


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
            if module.bias is not None:
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
            f"VGG19 ImageNet weights not found and could not be downloaded ({_short(exc)}). "
            f"Either fetch them from the Hugging Face Hub (`hf download {HUB_REPO} {HUB_FILE}`; "
            f"a Space lists it under preload_from_hub), or download {IMAGENET_URL} to {path} "
            f"(TORCH_HOME moves that folder), or set {WEIGHTS_ENV}=<checkpoint .pth/.safetensors>; "
            f"{WEIGHTS_ENV}=random runs offline with untrained weights (smoke tests only)."
        ) from exc
    return path


def _short(exc: BaseException) -> str:
    """The first line of an exception's message, for errors that wrap it."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
