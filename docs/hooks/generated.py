"""MkDocs hook: the parts of the site written by the code, so they cannot drift from it.

- ``<!-- options: COMMAND -->`` in a page becomes the table of that command's options, read from the
  command's own parser (``stylecore.cli.<command>.build_parser()``): every option the CLI accepts is in it,
  with its help text, and, for run settings, its value in each preset.
- The screenshots and plots under ``artifacts/`` (written by the tests and ``make bench``) are served as
  ``artifacts/NAME.png``, so the pages show the latest ones without a copy in ``docs/``.

``tests/test_docs.py`` imports this file to check the tables against the config fields.
"""

from __future__ import annotations

import argparse
import html
import importlib
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # document this checkout's code, installed or not (as mkdocstrings' `paths` does)
    sys.path.insert(0, str(ROOT))
MARKER = re.compile(r"<!-- options: (image|batch|video) -->")
#: Run settings (``StyleConfig`` fields) go in one table of their own; a command's table has the rest.
RUN_SETTINGS = "run"


def parser_of(command: str) -> argparse.ArgumentParser:
    """The parser ``stylecore`` (image), ``stylecore batch`` or ``stylecore video`` runs with."""
    module = importlib.import_module(f"stylecore.cli.{command}")
    parser: argparse.ArgumentParser = module.build_parser()
    return parser


def _settings() -> tuple[set[str], dict[str, Any]]:
    """The config's field names, and the presets by name (the public config API)."""
    import dataclasses

    from stylecore import PRESETS, StyleConfig

    return {f.name for f in dataclasses.fields(StyleConfig)}, dict(PRESETS)


def _spelling(action: argparse.Action) -> str:
    """``--size SIZE``, ``--optimizer {adam,lbfgs}``, ``content``: how the option is written."""
    name = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.metavar or action.dest}`"
    if not action.option_strings and action.nargs in ("+", "*"):
        name = f"{name} …"  # one or more
    if action.option_strings and action.nargs != 0:
        value = "{" + ",".join(map(str, action.choices)) + "}" if action.choices else action.metavar
        name += f" `{value or action.dest.upper()}`"
    return name


def _cell(value: Any) -> str:
    if isinstance(value, tuple):
        value = ",".join(map(str, value))
    text = "none" if value is None else str(value)
    return "`" + text.replace("|", "\\|") + "`"


def _help(action: argparse.Action, default: Any = None) -> str:
    """The help text, less the "(default: X)" the CLI appends when the table shows X in its own column."""
    text = action.help or ""
    shown = ",".join(map(str, default)) if isinstance(default, tuple) else str(default)
    text = text.removesuffix(f" (default: {shown})")
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")  # "OUT/<photo>.png" is text


def run_settings_table(parser: argparse.ArgumentParser) -> str:
    """``--preset`` and one row per config field: its value in each preset, and what it does."""
    fields, presets = _settings()
    names = sorted(presets, key=lambda name: name != "original")  # the default preset first
    rows = [f"| option | {' | '.join(f'`{n}` preset' for n in names)} | meaning |", "|---" * (len(names) + 2) + "|"]
    for action in parser._actions:  # argparse's documented way to list a parser's options
        if action.dest == "preset":
            rows.append(f"| {_spelling(action)} | `{action.default}` |{' |' * (len(names) - 1)} {_help(action)} |")
        elif action.dest in fields:
            values = " | ".join(_cell(getattr(presets[n], action.dest)) for n in names)
            rows.append(
                f"| {_spelling(action)} | {values} | {_help(action, getattr(presets[names[0]], action.dest))} |"
            )
    return "\n".join(rows)


def command_table(parser: argparse.ArgumentParser) -> str:
    """The options of one command that are not run settings (positionals first, as in ``--help``)."""
    fields, _ = _settings()
    rows = ["| argument | meaning |", "|---|---|"]
    for action in parser._actions:
        if action.dest in fields or action.dest == "preset" or action.dest == "help":
            continue
        rows.append(f"| {_spelling(action)} | {_help(action)} |")
    return "\n".join(rows)


def options_markdown(command: str) -> str:
    """What a marker becomes: the command's own options, then (for the image command) the run settings."""
    parser = parser_of(command)
    text = command_table(parser)
    if command == "image":
        text += "\n\nRun settings (every command that stylises takes them):\n\n" + run_settings_table(parser)
    return text


def on_page_markdown(markdown: str, **_: Any) -> str:
    return MARKER.sub(lambda match: options_markdown(match.group(1)), markdown)


def on_files(files: Any, config: Any, **_: Any) -> Any:
    from mkdocs.structure.files import File

    for png in sorted((ROOT / "artifacts").glob("*.png")):
        files.append(File.generated(config, f"artifacts/{png.name}", abs_src_path=str(png)))
    return files
