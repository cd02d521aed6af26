"""The ONNX export (export/) and the ONNX Runtime extractor (stylecore.model.onnx)."""

import json
from pathlib import Path

import onnx
import pytest
import torch

from export import checks
from export.__main__ import main as export_main
from export.model import written_opset
from stylecore import DEFAULT_LAYERS, VGG19_LAYERS, ImageError, StyleConfig, vgg19_extractor
from stylecore.model.extractor import IMAGENET_MEAN, IMAGENET_STD
from stylecore.model.onnx import OnnxExtractor, OnnxModelError, file_sha256
from stylecore.optim.engine import build_terms

from .conftest import QUICK_PROFILE as QUICK
from .conftest import torchvision_checkpoint, torchvision_features


@pytest.fixture(scope="module")
def torch_extractor():
    return vgg19_extractor(weights="random:0")


@pytest.fixture(scope="module")
def onnx_extractor(exported: Path) -> OnnxExtractor:
    return OnnxExtractor(exported / "vgg19_extractor.onnx")


def test_writes_one_self_contained_model_with_named_dynamic_io(exported: Path) -> None:
    assert sorted(p.name for p in exported.iterdir()) == [
        "ort_profile.json", "profile.md", "vgg19_extractor.json", "vgg19_extractor.onnx",
    ]  # fmt: skip
    model = onnx.load(str(exported / "vgg19_extractor.onnx"))
    assert [o.name for o in model.graph.output] == list(DEFAULT_LAYERS)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) >= 18
    assert 40e6 < (exported / "vgg19_extractor.onnx").stat().st_size < 70e6  # weights inside, not external
    checks.check_model(exported / "vgg19_extractor.onnx")


def test_metadata(exported: Path) -> None:
    meta = json.loads((exported / "vgg19_extractor.json").read_text())
    assert meta["layers"] == list(DEFAULT_LAYERS)
    assert meta["input"]["color"] == "RGB in [0, 1]" and meta["input"]["layout"] == "NCHW"
    model = onnx.load(str(exported / "vgg19_extractor.onnx"))
    assert meta["opset"] == written_opset(model) == 18 and meta["ir_version"] >= 9
    assert meta["weights"] == {"kind": "random", "spec": "random:0", "seed": 0, "label": meta["weights"]["label"]}
    assert set(meta["versions"]) >= {"torch", "onnx", "onnxruntime"}
    assert meta["sha256"] == file_sha256(exported / "vgg19_extractor.onnx")
    assert meta["checks"]["max_relative_error"] <= checks.PARITY_TOLERANCE


def test_profile_report(exported: Path) -> None:
    text = (exported / "profile.md").read_text()
    for heading in ("Parity with PyTorch", "Latency", "op type", "Session initialisation", "Graph optimisation"):
        assert heading in text
    assert "| Conv |" in text
    assert any(event.get("cat") == "Node" for event in json.loads((exported / "ort_profile.json").read_text()))


def test_parity_at_odd_sizes_and_batch_two(torch_extractor, onnx_extractor) -> None:
    rows = checks.ort_parity(torch_extractor, onnx_extractor, [(1, 67, 101), (2, 33, 48)])
    assert len(rows) == 2 * len(DEFAULT_LAYERS)
    assert max(r.rel_error for r in rows) < checks.PARITY_TOLERANCE


def test_reference_evaluator_agrees(exported: Path, torch_extractor) -> None:
    rows = checks.reference_parity(exported / "vgg19_extractor.onnx", torch_extractor)
    assert [r.layer for r in rows] == list(DEFAULT_LAYERS)
    assert max(r.rel_error for r in rows) < checks.PARITY_TOLERANCE


def test_parity_failure_is_loud() -> None:
    bad = [checks.ParityRow("ort", "1x8x8", "conv1_1", 3e-3), checks.ParityRow("ort", "1x8x8", "conv2_1", float("nan"))]
    with pytest.raises(checks.ExportCheckError, match="2 parity checks above"):
        checks.assert_parity(bad)


def test_export_command_fails_when_a_check_fails(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(checks, "relative_error", lambda ours, reference: 0.5)
    assert export_main(["--weights", "random", "--out", str(tmp_path), *QUICK]) == 1
    assert "parity checks above" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_providers_are_what_ort_really_uses(onnx_extractor) -> None:
    assert onnx_extractor.providers == ["CPUExecutionProvider"]
    assert checks.assert_providers(onnx_extractor) == ["CPUExecutionProvider"]


def test_ort_extractor_equals_torch_extractor(torch_extractor, onnx_extractor) -> None:
    image = torch.rand(2, 3, 40, 56)
    with torch.no_grad():
        expected = torch_extractor(image, ["conv2_1", "conv5_1"])
    got = onnx_extractor(image, ["conv2_1", "conv5_1"])
    assert list(got) == ["conv2_1", "conv5_1"]
    for name in got:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-4)
    numpy_in = onnx_extractor(image.numpy())["conv1_1"]
    torch.testing.assert_close(numpy_in, torch_extractor(image)["conv1_1"], rtol=1e-4, atol=1e-4)


def test_ort_computes_the_same_targets(torch_extractor, onnx_extractor) -> None:
    generator = torch.Generator().manual_seed(0)
    content, style = torch.rand(1, 3, 48, 48, generator=generator), torch.rand(1, 3, 40, 64, generator=generator)
    config = StyleConfig(size=48, iterations=3, device="cpu", save_every=0)
    via_torch = build_terms(torch_extractor, content, [style], config)
    via_ort = build_terms(onnx_extractor, content, [style], config)
    for ours, theirs in zip(via_ort[:2], via_torch[:2], strict=True):  # content features, style Grams
        assert ours.targets.keys() == theirs.targets.keys()
        for name, target in theirs.targets.items():
            # StyleTerm keeps layer -> region -> statistic (one full-image region here); content: layer -> features
            pairs = (
                [(ours.targets[name][k], t) for k, t in target.items()]
                if isinstance(target, dict)
                else [(ours.targets[name], target)]
            )
            for mine, reference in pairs:  # a statistic may be a tuple of tensors (Gram: one)
                for a, b in zip(*(x if isinstance(x, tuple) else (x,) for x in (mine, reference)), strict=True):
                    assert checks.relative_error(a, b) < checks.PARITY_TOLERANCE


def test_missing_model_says_how_to_export(tmp_path: Path) -> None:
    with pytest.raises(OnnxModelError, match="export one with the repository's `python -m export`"):
        OnnxExtractor(tmp_path / "absent.onnx").providers  # noqa: B018 - loads lazily


def test_layer_mismatch_is_clear(exported: Path) -> None:
    with pytest.raises(OnnxModelError, match="exported with layers"):
        OnnxExtractor(exported / "vgg19_extractor.onnx", layers=["relu4_2"]).session  # noqa: B018


@pytest.mark.slow
def test_torchvision_checkpoint_via_env_matches_torchvision(tmp_path: Path, monkeypatch) -> None:
    features = torchvision_features(seed=11)
    checkpoint = tmp_path / "vgg19-test.pth"
    torch.save(torchvision_checkpoint(features), checkpoint)
    monkeypatch.setenv("STYLECORE_WEIGHTS", str(checkpoint))
    out = tmp_path / "art"
    assert export_main(["--out", str(out), *QUICK]) == 0
    meta = json.loads((out / "vgg19_extractor.json").read_text())
    assert meta["weights"]["kind"] == "file" and meta["weights"]["sha256"] == file_sha256(checkpoint)

    image = torch.rand(1, 3, 67, 101)
    got = OnnxExtractor(out / "vgg19_extractor.onnx")(image)
    normalized = (image - torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    for name in DEFAULT_LAYERS:
        with torch.no_grad():
            expected = features[: VGG19_LAYERS[name] + 1](normalized.clone())  # ends on the conv: pre-ReLU
        assert checks.relative_error(got[name], expected) < checks.PARITY_TOLERANCE, name


@pytest.mark.parametrize("side", [1, 8, 15])
def test_onnx_extractor_refuses_what_the_torch_extractor_refuses(onnx_extractor, torch_extractor, side: int) -> None:
    image = torch.rand(1, 3, side, 512)  # 512x1 and friends: one side too small for conv5_1
    with pytest.raises(ImageError, match="needs at least 16 on each side"):
        torch_extractor(image)
    with pytest.raises(ImageError, match="needs at least 16 on each side"):
        onnx_extractor(image)


def test_a_tampered_model_is_refused(exported: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "vgg19_extractor.onnx"
    data = bytearray((exported / "vgg19_extractor.onnx").read_bytes())
    data[-5000:-1000] = bytes(4000)  # 4 KB of weights overwritten: still a loadable model
    tampered.write_bytes(bytes(data))
    recorded = json.loads((exported / "vgg19_extractor.json").read_text())["sha256"]
    with pytest.raises(OnnxModelError, match="does not match its recorded sha256"):
        OnnxExtractor(tampered, sha256=recorded).session  # noqa: B018


def _one_line_error(capsys: pytest.CaptureFixture[str], needle: str) -> None:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in err, err


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--opset", "5"], "--opset must be between 18 and"), (["--layers", "relu9_9"], "unknown layer 'relu9_9'")],
)
def test_bad_values_fail_before_anything_is_written(tmp_path: Path, capsys, args, needle) -> None:
    out = tmp_path / "art"
    assert export_main(["--weights", "random", "--out", str(out), *QUICK, *args]) == 1
    _one_line_error(capsys, needle)
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "needle"),
    [(["--sizes", "abc"], "expected comma-separated whole numbers"), (["--runs", "0"], "expected whole numbers >= 1")],
)
def test_malformed_arguments_are_usage_errors(tmp_path: Path, capsys, args, needle) -> None:
    with pytest.raises(SystemExit) as exit_info:
        export_main(["--weights", "random", "--out", str(tmp_path / "art"), *args])
    assert exit_info.value.code == 2
    _one_line_error(capsys, needle)


def test_bad_out_paths_are_one_line(tmp_path: Path, capsys) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for out, needle in ((a_file, "is a file"), (a_file / "sub", "cannot write in")):
        assert export_main(["--weights", "random", "--out", str(out), *QUICK]) == 1
        _one_line_error(capsys, needle)


def test_a_layer_subset_is_written_beside_the_default(exported: Path, tmp_path: Path) -> None:
    out = tmp_path / "art"
    out.mkdir()
    default = out / "vgg19_extractor.onnx"
    default.write_bytes(b"the app's model")
    assert export_main(["--weights", "random", "--out", str(out), "--layers", "conv1_1", "--no-profile"]) == 0
    assert default.read_bytes() == b"the app's model"
    subset = out / "vgg19_extractor-conv1_1.onnx"
    assert [o.name for o in onnx.load(str(subset)).graph.output] == ["conv1_1"]
    assert json.loads(subset.with_suffix(".json").read_text())["input"]["min_side"] == 1


@pytest.mark.parametrize("layers", ["conv1_1", "conv1_1,relu2_1,conv3_1"])
def test_a_layer_subset_exports_end_to_end_with_its_profile(tmp_path: Path, capsys, layers: str) -> None:
    out = tmp_path / "art"
    assert export_main(["--weights", "random:0", "--out", str(out), "--layers", layers, *QUICK]) == 0, (
        capsys.readouterr().err
    )
    names = layers.split(",")
    model = out / f"vgg19_extractor-{'-'.join(names)}.onnx"
    assert [o.name for o in onnx.load(str(model)).graph.output] == names
    text = (out / "profile.md").read_text()
    assert "Latency" in text and "| Conv |" in text and "Graph optimisation" in text
