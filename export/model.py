"""Export the torch extractor to one self-contained ONNX file plus metadata JSON."""

from __future__ import annotations

import copy
import json
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnx
import onnxruntime
import torch
from torch import Tensor, nn

from stylecore.model.extractor import VGGExtractor
from stylecore.model.layers import DEFAULT_LAYERS, deepest, layer_names, min_side
from stylecore.model.onnx import file_sha256
from stylecore.model.weights import WeightsSource

INPUT_NAME = "image"
MODEL_STEM = "vgg19_extractor"
MIN_OPSET = 18  # the oldest opset torch's dynamo exporter writes


def max_opset() -> int:
    """The newest opset this onnx package knows."""
    return int(onnx.defs.onnx_opset_version())


def export_min_side(layers: Sequence[str]) -> int:
    """The smallest side the exported graph takes: a pool as the deepest output halves once more (pool5: 32)."""
    side = min_side(layers)
    return 2 * side if deepest(layers).startswith("pool") else side


def model_path(out_dir: Path, layers: Sequence[str]) -> Path:
    """The default five layers get the plain name; a subset is named after its layers, beside it."""
    names = layer_names(layers)
    suffix = "" if names == DEFAULT_LAYERS else "-" + "-".join(names)
    return out_dir / f"{MODEL_STEM}{suffix}.onnx"


def written_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset recorded in the model (what was written, whatever was asked)."""
    return int(max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")))


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
    side = export_min_side(outputs)
    batch = torch.export.Dim("batch", min=1, max=256)
    height = torch.export.Dim("height", min=side, max=8192)
    width = torch.export.Dim("width", min=side, max=8192)
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


def weights_record(source: WeightsSource) -> dict[str, Any]:
    """Provenance of the exported weights (file sources get a sha256)."""
    record: dict[str, Any] = {"kind": source.kind, "spec": source.spec, "label": source.label}
    if source.kind == "random":
        record["seed"] = source.seed
    if source.path is not None:
        record.update(path=str(source.path), sha256=file_sha256(source.path))
    return record


def metadata_for(path: Path, extractor: VGGExtractor, name: str | None = None) -> dict[str, Any]:
    """The sidecar of the model at ``path`` (``name``: the model's final name, when ``path`` is a temporary one)."""
    model = onnx.load(str(path), load_external_data=False)
    layers = [output.name for output in model.graph.output]
    return {
        "model": name or path.name,
        "sha256": file_sha256(path),
        "bytes": path.stat().st_size,
        "layers": layers,
        "input": {
            "name": INPUT_NAME,
            "layout": "NCHW",
            "dtype": "float32",
            "color": "RGB in [0, 1]",
            "normalisation": "ImageNet mean/std, inside the graph",
            "dynamic": ["batch", "height", "width"],
            "min_side": export_min_side(layers),
        },
        "opset": written_opset(model),
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
    """The sidecar JSON, written atomically (never through a link)."""
    from .files import write_text

    return write_text(path, json.dumps(metadata, indent=2) + "\n")
