"""The engine's house rules (see CONVENTIONS.md), checked on the source."""

import ast
from pathlib import Path

import pytest

import stylecore

CORE = sorted(p for p in Path(stylecore.__file__).parent.glob("*.py") if p.name not in ("cli.py", "__main__.py"))
FORBIDDEN_IMPORTS = {"argparse", "gradio", "tqdm", "demo", "export", "stylecore.cli"}


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
