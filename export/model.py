"""Export the torch extractor to one self-contained ONNX file plus metadata JSON."""

from __future__ import annotations

import copy
import hashlib
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx
import onnxruntime
import torch
from torch import Tensor, nn

from stylecore.extractor import VGGExtractor, layer_names
from stylecore.weights import WeightsSource

INPUT_NAME = "image"
MIN_SIDE = 16  # four max-pools before conv5_1


class _TupleOutputs(nn.Module):
    """ONNX wants positional outputs; the names come from ``output_names``."""

    def __init__(self, extractor: VGGExtractor, layers: tuple[str, ...]) -> None:
        super().__init__()
        self.extractor, self.layers = extractor, layers

    def forward(self, image: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.extractor(image, self.layers).values())


def export_onnx(extractor: VGGExtractor, path: Path, *, layers: Sequence[str] | None = None, opset: int = 18) -> Path:
    """Write ``extractor`` (or its ``layers`` subset) as ONNX with dynamic batch, height and width.

    Exports a CPU copy, so a caller's extractor stays where it is (the app's may be on a GPU).
    """
    outputs = layer_names(layers) if layers is not None else extractor.layers
    batch = torch.export.Dim("batch", min=1, max=256)
    height = torch.export.Dim("height", min=MIN_SIDE, max=8192)
    width = torch.export.Dim("width", min=MIN_SIDE, max=8192)
    example = torch.rand(2, 3, 64, 64)
    program = torch.onnx.export(
        _TupleOutputs(copy.deepcopy(extractor).cpu(), outputs).eval(),
        (example,),
        dynamo=True,
        input_names=[INPUT_NAME],
        output_names=list(outputs),
        dynamic_shapes={"image": {0: batch, 2: height, 3: width}},
        opset_version=opset,
        external_data=False,
        verbose=False,
    )
    assert program is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    program.save(str(path), external_data=False)  # about 50 MB to conv5_1: one file, no side data
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_record(source: WeightsSource) -> dict[str, Any]:
    """Provenance of the exported weights (file sources get a sha256)."""
    record: dict[str, Any] = {"kind": source.kind, "label": source.label}
    if source.kind == "random":
        record["seed"] = source.seed
    if source.path is not None:
        record.update(path=str(source.path), sha256=sha256(source.path))
    return record


def metadata_for(path: Path, extractor: VGGExtractor, opset: int) -> dict[str, Any]:
    model = onnx.load(str(path), load_external_data=False)
    return {
        "model": path.name,
        "sha256": sha256(path),
        "bytes": path.stat().st_size,
        "layers": [output.name for output in model.graph.output],
        "input": {
            "name": INPUT_NAME,
            "layout": "NCHW",
            "dtype": "float32",
            "color": "RGB in [0, 1]",
            "normalisation": "ImageNet mean/std, inside the graph",
            "dynamic": ["batch", "height", "width"],
            "min_side": MIN_SIDE,
        },
        "opset": opset,
        "ir_version": model.ir_version,
        "weights": weights_record(extractor.weights),
        "versions": {
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__,
            "python": platform.python_version(),
        },
    }


def write_metadata(metadata: dict[str, Any], path: Path) -> Path:
    path.write_text(json.dumps(metadata, indent=2) + "\n")
    return path
