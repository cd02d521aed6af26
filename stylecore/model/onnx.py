"""The exported VGG19 extractor run by ONNX Runtime, with the torch extractor's call shape.

The model comes from the repository's ``python -m export`` (by default
``artifacts/vgg19_extractor.onnx`` beside a JSON sidecar); its outputs are named
after the layers. onnxruntime-gpu silently falls back to the
CPU, so :attr:`OnnxExtractor.providers` reports what the session really uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..errors import StylecoreError
from .extractor import check_min_size
from .layers import DEFAULT_LAYERS, layer_names

#: Relative to the current directory, as the export writes it; pass a path to be explicit.
DEFAULT_ONNX_PATH = Path("artifacts/vgg19_extractor.onnx")


class OnnxModelError(StylecoreError):
    """The exported model is missing or does not fit the request."""


def default_providers() -> list[str]:
    """CUDA when torch sees a GPU and this onnxruntime build has it, else CPU."""
    import onnxruntime as ort

    if torch.cuda.is_available() and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


class OnnxExtractor:
    """``extractor(image) -> {layer: features}`` backed by an ONNX Runtime session.

    The session is created on first use. Images are RGB in [0, 1], (B, 3, H, W);
    outputs are CPU float32 tensors.
    """

    def __init__(
        self,
        path: str | Path = DEFAULT_ONNX_PATH,
        *,
        layers: Sequence[str | int] = DEFAULT_LAYERS,
        providers: Sequence[str] | None = None,
        session_options: Any = None,
        sha256: str | None = None,
    ) -> None:
        self.path = Path(path)
        self.sha256 = sha256  # when given, a file with another hash is refused at load time
        self.layers = layer_names(layers)
        self._providers = list(providers) if providers is not None else None
        self._options = session_options
        self._session: Any = None

    @property
    def session(self) -> Any:
        """The ``onnxruntime.InferenceSession``, loaded and checked on first use."""
        if self._session is None:
            self._session = self._load()
        return self._session

    @property
    def providers(self) -> list[str]:
        """Execution providers the session actually uses, in priority order."""
        return list(self.session.get_providers())

    def _load(self) -> Any:
        if not self.path.is_file():
            raise OnnxModelError(
                f"ONNX extractor not found at {self.path}; export one with the repository's `python -m export`"
            )
        if self.sha256 is not None and file_sha256(self.path) != self.sha256:
            raise OnnxModelError(f"{self.path.name} does not match its recorded sha256; export it again")
        try:
            import onnxruntime as ort
        except ImportError:
            raise OnnxModelError("the ONNX extractor needs onnxruntime: pip install 'stylecore[onnx]'") from None
        session = ort.InferenceSession(
            str(self.path), sess_options=self._options, providers=self._providers or default_providers()
        )
        outputs = [o.name for o in session.get_outputs()]
        missing = [name for name in self.layers if name not in outputs]
        if missing:
            raise OnnxModelError(
                f"{self.path} was exported with layers {outputs}, not {missing}; "
                f"export it with `python -m export --layers {','.join(self.layers)}`"
            )
        return session

    def __call__(self, image: Tensor | np.ndarray, layers: Sequence[str] | None = None) -> dict[str, Tensor]:
        wanted = self.layers if layers is None else layer_names(layers)
        if not set(wanted) <= set(self.layers):
            raise OnnxModelError(f"this extractor serves {self.layers}, not {wanted}")
        check_min_size(image if isinstance(image, Tensor) else torch.from_numpy(image), wanted)
        array = image.detach().cpu().float().numpy() if isinstance(image, Tensor) else image.astype(np.float32)
        values = self.session.run(list(wanted), {self.session.get_inputs()[0].name: np.ascontiguousarray(array)})
        return {name: torch.from_numpy(value) for name, value in zip(wanted, values, strict=True)}


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
