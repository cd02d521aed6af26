"""The house rules, checked on the source: which layer may import which, and who may reach what.

Floors, bottom up; a module imports only from lower floors or from its own package (cli excepted):

    0  errors                          what everything may raise
    1  extras | model.layers           optional imports | the VGG19 table: names and sizes, no torch
    2  config                          StyleConfig
    3  model | imaging                 the network and weights | images in and out (never each other)
    4  objective                       what is minimised
    5  optim                           how it is minimised: one scale, a run, memory, device
    6  video                           frames over time
    7  backends                        scale-out (Ray)
    8  cli                             front end: main dispatches, commands share common only

``stylecore/__init__.py`` (the lazy public API, listed once in its ``PUBLIC_API``) and ``__main__.py`` sit
above all of them. The core (floors 0-5) never imports video, backends, cli or demo. ``export/`` (the
ONNX extractor) sits above stylecore and ``demo/`` (the app, which serves the exported model) above
both: they use stylecore's public names, never its private ones nor its CLI; export never imports
demo, and stylecore imports neither. No file reaches
another module's private name as an attribute (``module._name``), tests included: what a test needs
is made public or tested through the public API.
"""

import ast
from pathlib import Path

import pytest

import stylecore

ROOT = Path(stylecore.__file__).parent
FLOORS = {
    "errors": 0,
    "extras": 1,
    "model.layers": 1,
    "config": 2,
    "model": 3,
    "imaging": 3,
    "objective": 4,
    "optim": 5,
    "video": 6,
    "backends": 7,
    "cli": 8,
}
FACADES = {"stylecore", "stylecore.__main__"}
MODULES = {
    ".".join(["stylecore", *p.relative_to(ROOT).with_suffix("").parts]).removesuffix(".__init__"): p
    for p in sorted(ROOT.rglob("*.py"))
}


def floor(module: str) -> tuple[int, str]:
    """(floor, unit) of a stylecore module; the unit is the FLOORS key it falls under."""
    rest = module.removeprefix("stylecore.")
    for key in sorted(FLOORS, key=len, reverse=True):
        if rest == key or rest.startswith(key + "."):
            return FLOORS[key], key
    raise AssertionError(f"{module} has no floor: put it in a package (FLOORS in {__file__})")


def stylecore_imports(module: str, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, imported stylecore module, imported names) of every import, lazy ones included."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names if a.name.split(".")[0] == "stylecore"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            if target.split(".")[0] == "stylecore":
                names = [a.name for a in node.names]
                # `from . import x`: x is a module
                subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in MODULES]
                found += [(node.lineno, s, []) for s in subs] or [(node.lineno, target, names)]
    return found


LAYERED = sorted(m for m in MODULES if m not in FACADES)


@pytest.mark.parametrize("module", LAYERED)
def test_imports_only_go_down(module: str) -> None:
    here, unit = floor(module)
    own_package = module.rpartition(".")[0]
    for line, target, _ in stylecore_imports(module, MODULES[module]):
        if target == "stylecore" or target in FACADES:
            raise AssertionError(f"{module}:{line} imports the facade stylecore/__init__; import the module")
        there, other = floor(target)
        same_package = target.rpartition(".")[0] == own_package and own_package != "stylecore"
        assert there < here or same_package or other == unit, (
            f"{module}:{line} imports {target}: floor {there} ({other}) is not below floor {here} ({unit})"
        )


@pytest.mark.parametrize("module", [m for m in LAYERED if floor(m)[0] <= FLOORS["optim"]])
def test_the_core_never_imports_video_backends_cli_or_demo(module: str) -> None:
    for line, target, _ in stylecore_imports(module, MODULES[module]):
        assert floor(target)[1] not in {"video", "backends", "cli"}, f"{module}:{line} imports {target}"


@pytest.mark.parametrize("module", [m for m in LAYERED if m.startswith("stylecore.objective")])
def test_the_objective_does_not_import_optim(module: str) -> None:
    for line, target, _ in stylecore_imports(module, MODULES[module]):
        assert not target.startswith("stylecore.optim"), f"{module}:{line} imports {target}"


COMMANDS = sorted(
    m for m in MODULES if m.startswith("stylecore.cli.") and m not in {"stylecore.cli.common", "stylecore.cli.main"}
)


def test_there_are_commands() -> None:
    assert {"stylecore.cli.image", "stylecore.cli.batch", "stylecore.cli.video"} <= set(COMMANDS)


@pytest.mark.parametrize("module", COMMANDS)
def test_cli_commands_share_common_and_never_import_each_other(module: str) -> None:
    for line, target, _ in stylecore_imports(module, MODULES[module]):
        if target.startswith("stylecore.cli"):
            assert target == "stylecore.cli.common", f"{module}:{line} imports {target}; share it through common.py"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_private_names_cross_files(module: str) -> None:
    for line, target, names in stylecore_imports(module, MODULES[module]):
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{module}:{line} imports {private} from {target}; make it public or keep it there"


FRONT_ENDS = {p for name, p in MODULES.items() if name.startswith("stylecore.cli") or name in FACADES}
CORE = sorted(p for p in MODULES.values() if p not in FRONT_ENDS)
FORBIDDEN_IMPORTS = {"argparse", "gradio", "tqdm", "demo", "export"}


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_front_end_code_below_the_cli(path: Path) -> None:
    """No print, argparse, gradio or tqdm outside the front ends."""
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            assert node.func.id != "print", f"{path.name}:{node.lineno} prints"
        if isinstance(node, ast.Import | ast.ImportFrom) and not getattr(node, "level", 0):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_IMPORTS, (path.name, name)


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
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
        "sys.argv = ['stylecore', 'batch', '--help']; import runpy; runpy.run_module('stylecore', run_name='__main__')",
        "sys.argv = ['stylecore', 'video', '--help']; import runpy; runpy.run_module('stylecore', run_name='__main__')",
    ],
    ids=["config", "layers", "--help", "batch --help", "video --help"],
)
def test_config_and_help_import_no_torch(code: str) -> None:
    """Layer names and sizes come from the torch-free model/layers.py, video's defaults from video/settings.py.

    So every command's --help stays quick.
    """
    import subprocess
    import sys

    probe = "\n".join(["import sys", "try:", f"    {code}", "except SystemExit:", "    pass"])
    probe += "\nprint('torch' in sys.modules, file=sys.stderr)"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stderr.strip().splitlines()[-1] == "False", done.stderr
    assert "--help" not in code or "usage: stylecore" in done.stdout, done.stderr  # the help itself was printed


TESTS = Path(__file__).parent


@pytest.mark.parametrize("path", sorted(TESTS.glob("*.py")), ids=lambda p: p.name)
def test_test_modules_never_import_one_another(path: Path) -> None:
    """Shared fixtures live in conftest.py, shared helpers in support.py: one test module never imports another."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported = node.module.split(".")[-1]
            assert not imported.startswith("test_"), f"{path.name}:{node.lineno} imports {node.module}"


# --- demo/ and export/: front ends above stylecore ---------------------------------------------------------------

PROJECT = ROOT.parent
OURS = ("stylecore", "demo", "export", "tests")
FRONT_END_FILES = sorted(p for package in ("demo", "export") for p in (PROJECT / package).rglob("*.py"))


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__")


def _is_our_module(dotted: str) -> bool:
    if dotted.split(".")[0] not in OURS:
        return False
    base = PROJECT.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[int, str, list[tuple[str, str]]]]:
    """(line, absolute module, [(name, bound as)]) of every import in ``path``, relative ones resolved."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, [("", a.asname or a.name)]) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            parts = package.split(".")
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            target = ".".join(p for p in (base, node.module or "") if p)
            found.append((node.lineno, target, [(a.name, a.asname or a.name) for a in node.names]))
    return found


@pytest.mark.parametrize("path", FRONT_END_FILES, ids=lambda p: str(p.relative_to(PROJECT)))
def test_demo_and_export_use_stylecore_from_above(path: Path) -> None:
    here = _module_name(path).split(".")[0]
    for line, target, names in _imports(path):
        top = target.split(".")[0]
        where = f"{path.relative_to(PROJECT)}:{line}"
        assert not (here == "export" and top == "demo"), f"{where} imports {target}: the app sits above export"
        if top == "stylecore":
            assert not target.startswith("stylecore.cli"), f"{where} imports the CLI {target}; use the library"
            private = [n for n, _ in names if n.startswith("_") and not n.startswith("__")]
            assert not private, f"{where} imports {private} from {target}; use stylecore's public names"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_stylecore_never_imports_demo_or_export(module: str) -> None:
    for line, target, _ in _imports(MODULES[module]):
        assert target.split(".")[0] not in {"demo", "export"}, f"{module}:{line} imports {target}"


# --- private names reached across modules ------------------------------------------------------------------------

EVERY_FILE = sorted(p for package in OURS for p in (PROJECT / package).rglob("*.py"))


def _bound_modules(path: Path) -> dict[str, str]:
    """Local name -> our module it is bound to by an import in ``path``."""
    bound = {}
    for _, target, names in _imports(path):
        for name, alias in names:
            dotted = target if not name else f"{target}.{name}"
            if not name and "." in target and alias == target:  # `import a.b.c` binds `a`
                dotted, alias = target.split(".")[0], target.split(".")[0]
            if _is_our_module(dotted):
                bound[alias] = dotted
    return bound


def _dotted(node: ast.expr, bound: dict[str, str]) -> str | None:
    """The module an expression like ``name`` or ``name.sub`` denotes, if it is one of ours."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value, bound)
        if base is not None and _is_our_module(f"{base}.{node.attr}"):
            return f"{base}.{node.attr}"
    return None


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


@pytest.mark.parametrize("path", EVERY_FILE, ids=lambda p: str(p.relative_to(PROJECT)))
def test_no_private_names_reached_as_attributes(path: Path) -> None:
    """``module._name``, ``setattr(module, "_name", ...)`` and ``"pkg.module._name"`` targets, across files."""
    bound, me = _bound_modules(path), _module_name(path)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            owner = _dotted(node.value, bound)
            assert owner in (None, me), f"{path.name}:{node.lineno} reaches {owner}.{node.attr}"
        if isinstance(node, ast.Call) and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            owner, name = _dotted(node.args[0], bound), node.args[1].value
            assert not (owner and isinstance(name, str) and _private(name)), f"{path.name}:{node.lineno} {name}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.count(".") >= 2:
            owner, _, name = node.value.rpartition(".")
            is_target = _is_our_module(owner) and name.isidentifier() and _private(name)
            assert not is_target, f"{path.name}:{node.lineno} patches {node.value}"


# --- the public API: listed once -----------------------------------------------------------------------------------


def _type_checking_names() -> dict[str, str]:
    """Name -> module (under stylecore) of every import in ``stylecore/__init__.py``'s TYPE_CHECKING block."""
    tree = ast.parse((ROOT / "__init__.py").read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    found = {}
    for node in block.body:
        assert isinstance(node, ast.ImportFrom) and node.level == 1 and node.module
        for alias in node.names:
            assert alias.asname == alias.name, f"re-export {alias.name} as itself, for type checkers"
            found[alias.name] = node.module
    return found


def test_the_type_checking_block_lists_the_api_table() -> None:
    table = {name: module for module, names in stylecore.PUBLIC_API.items() for name in names}
    assert _type_checking_names() == table
    assert sorted(stylecore.__all__) == sorted(table) and len(set(stylecore.__all__)) == len(stylecore.__all__)


def _documented_data(module: str, name: str) -> bool:
    """A module-level assignment ``name = ...`` with a ``#:`` comment on the line above."""
    lines = (PROJECT / "stylecore").joinpath(*module.split(".")).with_suffix(".py").read_text().splitlines()
    for number, line in enumerate(lines):
        if line.startswith((f"{name} =", f"{name}:")) and number and lines[number - 1].startswith("#:"):
            return True
    return False


@pytest.mark.parametrize("name", sorted(stylecore.__all__))
def test_every_public_name_imports_and_has_a_docstring(name: str) -> None:
    import inspect

    value = getattr(stylecore, name)
    module = next(home for home, names in stylecore.PUBLIC_API.items() if name in names)
    if inspect.isclass(value) or inspect.isfunction(value):
        doc = value.__doc__ or ""
        generated = inspect.isclass(value) and doc.startswith(f"{value.__name__}(")  # a dataclass's signature
        assert doc.strip() and not generated, f"{name} ({module}) has no docstring"
    else:
        assert _documented_data(module, name), f"{name} ({module}) needs a '#:' comment above its assignment"
