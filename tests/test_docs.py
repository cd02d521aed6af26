"""The documentation against the code: option tables, command lines, links, and the README as a front door.

The site itself is built by ``make docs`` (``mkdocs build --strict``, in CI); these checks need no MkDocs.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType

import pytest

from stylecore import PRESETS, StyleConfig

from .docs_support import BLOCKS, PAGES, ROOT

FRONT_DOOR_LINES = 150  # the README says what this is and where to read on; the rest lives in docs/


def _hook() -> ModuleType:
    """``docs/hooks/generated.py``, the MkDocs hook that writes the option tables."""
    spec = importlib.util.spec_from_file_location("docs_hook", ROOT / "docs" / "hooks" / "generated.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _options_in(markdown: str) -> set[str]:
    return set(re.findall(r"`(--[a-z][a-z0-9-]*)`", markdown))


def test_the_option_table_has_every_config_field_with_its_defaults() -> None:
    table = _hook().options_markdown("image")
    rows = {re.match(r"\| `(--[a-z-]+)`", row)[1]: row for row in table.splitlines() if row.startswith("| `--")}
    for f in dataclasses.fields(StyleConfig):
        option = "--" + f.name.replace("_", "-")
        assert option in rows, f"{option} ({f.name}) is missing from the generated option table"
        for preset in PRESETS.values():
            value = getattr(preset, f.name)
            shown = ",".join(map(str, value)) if isinstance(value, tuple) else "none" if value is None else str(value)
            assert f"`{shown}`" in rows[option], f"{option}: {shown} not shown"


@pytest.mark.parametrize("command", ["image", "batch", "video"])
def test_every_option_a_command_accepts_is_in_its_tables(command: str) -> None:
    hook = _hook()
    accepted = set(re.findall(r"--[a-z][a-z0-9-]*", hook.parser_of(command).format_help()))
    shown = _options_in(hook.options_markdown(command) + hook.options_markdown("image"))
    assert accepted - {"--help"} <= shown, f"not in the docs: {sorted(accepted - shown - {'--help'})}"


def test_the_command_line_page_places_every_table() -> None:
    page = (ROOT / "docs" / "cli.md").read_text()
    assert {m for m in _hook().MARKER.findall(page)} == {"image", "batch", "video"}
    written = _hook().on_page_markdown(page)
    assert "<!-- options:" not in written and {"--tile", "--stop-when-flat", "--chunk"} <= _options_in(written)


def _command_lines() -> list[tuple[str, str]]:
    """Every ``stylecore`` command shown in a shell block or inline code, with where it is."""
    found = []
    for block in BLOCKS:
        if block.lang == "bash":
            for line in block.code.replace("\\\n", " ").splitlines():
                found.append((block.id, line.split(" #")[0].strip()))
    for page in PAGES:
        found += [(page.name, span) for span in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", page.read_text())]
    commands = []
    for where, line in found:
        match = re.search(r"(?:^|\s|/)stylecore (.*)$", line)
        if match and " -o " in line and "..." not in line:  # a whole command, not a usage line
            commands.append((where, match[1]))
    return commands


@pytest.mark.parametrize(("where", "args"), _command_lines(), ids=lambda value: str(value)[:60])
def test_every_command_line_shown_parses(where: str, args: str) -> None:
    from stylecore.cli.common import config_from_args

    argv = shlex.split(args)
    command = argv.pop(0) if argv[0] in ("batch", "video") else "image"
    try:
        config_from_args(_hook().parser_of(command).parse_args(argv))
    except SystemExit as exc:
        pytest.fail(f"{where}: `stylecore {args}` does not parse (exit {exc.code})")


def test_the_command_lines_are_found() -> None:
    found = {args.split()[0] for _, args in _command_lines()}
    assert {"batch", "video", "examples/chelsea.jpg", "photo.jpg"} <= found


def _anchors(page: Path) -> set[str]:
    from markdown.extensions.toc import slugify  # type: ignore[import-untyped]  # MkDocs' own anchors

    return {slugify(title, "-") for title in re.findall(r"^#+ (.+)$", page.read_text(), re.M)}


def test_the_readme_is_a_front_door_whose_links_lead_somewhere() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= FRONT_DOOR_LINES
    links = re.findall(r"\]\(((?!https?:)[^)#]+)(?:#([^)]+))?\)", readme)
    assert {"docs/cli.md", "docs/python-api.md", "artifacts/demo_1366x768.png"} <= {target for target, _ in links}
    for target, anchor in links:
        assert (ROOT / target).is_file(), f"README links to a missing {target}"
        if anchor:
            assert anchor in _anchors(ROOT / target), f"README links to a missing #{anchor} in {target}"
    assert "video" in _anchors(ROOT / "README.md"), "the app links to the README's Video section"


def test_every_page_is_in_the_site() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = {p.relative_to(ROOT / "docs").as_posix() for p in (ROOT / "docs").rglob("*.md")}
    assert pages and {p for p in pages if p not in nav} == set()
