"""The engine's house rules (see CONVENTIONS.md), checked on the source."""

import ast
from pathlib import Path

import pytest

import stylecore

FRONT_ENDS = ("cli.py", "cli_batch.py", "cli_video.py", "__main__.py")
CORE = sorted(p for p in Path(stylecore.__file__).parent.glob("*.py") if p.name not in FRONT_ENDS)
FORBIDDEN_IMPORTS = {
    "argparse",
    "gradio",
    "tqdm",
    "demo",
    "export",
    "stylecore.cli.main",
    "stylecore.cli.batch",
    "stylecore.cli.video",
}


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_core_never_prints_or_imports_front_ends(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path.name}:{node.lineno} prints"
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if isinstance(node, ast.ImportFrom) and node.level:
                names = [f"stylecore.{node.module}" if node.module else "stylecore"]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_IMPORTS and name not in FORBIDDEN_IMPORTS, (path.name, name)


@pytest.mark.parametrize("path", CORE, ids=lambda p: p.name)
def test_no_module_level_device(path: Path) -> None:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            source = ast.unparse(node)
            assert not any(s in source for s in ("device(", ".cuda(", ".to(", "is_available")), source


def test_the_core_stylizes_without_onnx_or_the_hub() -> None:
    """A plain install has no ONNX, video or Ray packages: the core must not import them to stylize."""
    import subprocess
    import sys

    code = (
        "import sys; import stylecore; stylecore.stylize; stylecore.vgg19_extractor; import stylecore.cli.main; "
        "bad = [m for m in ('onnx', 'onnxruntime', 'onnxscript', 'gradio', 'huggingface_hub', 'av', 'cv2', 'ray') "
        "if m in sys.modules]; "
        "print(bad)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[]"


def test_asking_for_onnx_without_it_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    from stylecore.model.onnx import OnnxExtractor, OnnxModelError

    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(OnnxModelError, match=r"pip install 'stylecore\[onnx\]'"):
        OnnxExtractor(model).session  # noqa: B018


def test_core_errors_name_no_makefile_targets() -> None:
    for path in CORE:
        assert "make " not in path.read_text(), path.name


@pytest.mark.parametrize(
    "code",
    [
        "import stylecore.config",
        "import stylecore.model.layers",
        "sys.argv = ['stylecore', '--help']; import runpy; runpy.run_module('stylecore', run_name='__main__')",
    ],
    ids=["config", "layers", "--help"],
)
def test_config_and_help_import_no_torch(code: str) -> None:
    """Layer names and sizes come from the torch-free model/layers.py, so `stylecore --help` stays quick."""
    import subprocess
    import sys

    probe = "\n".join(["import sys", "try:", f"    {code}", "except SystemExit:", "    pass"])
    probe += "\nprint('torch' in sys.modules, file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stderr.strip().splitlines()[-1] == "False", done.stderr
