"""Every Python block in README.md and the documentation pages (docs/*.md) runs, so they cannot drift from the code.

Blocks that talk to the app (they name http://127.0.0.1:7860/) run against the test server. A block that
must not run here (it needs real weights or a GPU) says so just above its fence, with the reason:
``<!-- not run: needs a CUDA GPU -->``; it is reported as skipped with that reason.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .docs_support import BLOCKS, LOCAL_APP, ROOT, Block, blocks_of

PYTHON = [block for block in BLOCKS if block.lang == "python"]
LIBRARY = [block for block in PYTHON if LOCAL_APP not in block.code]
APP = [block for block in PYTHON if LOCAL_APP in block.code]


def test_the_pages_have_their_snippets() -> None:
    assert any(block.page == "README.md" for block in LIBRARY), "the README shows the library"
    assert len(LIBRARY) >= 3 and len(APP) >= 2
    assert not [b.id for b in BLOCKS if b.lang not in ("python", "bash", "")], "only python and bash blocks"


def test_a_block_marked_not_run_is_found_with_its_reason() -> None:
    text = "Text.\n\n<!-- not run: needs a CUDA GPU -->\n```python\nraise SystemExit\n```\n\n"
    text += "- item:\n\n  ```python\n  x = 1\n  ```\n"
    first, second = blocks_of(text, "page.md")
    assert (first.not_run, first.code) == ("needs a CUDA GPU", "raise SystemExit\n")
    assert (second.not_run, second.code) == (None, "x = 1\n")


def _run(block: Block, code: str) -> None:
    if block.not_run:
        pytest.skip(f"{block.id}: {block.not_run}")
    exec(compile(code, f"{block.id} (python block)", "exec"), {})


@pytest.mark.parametrize("block", LIBRARY, ids=lambda b: b.id)
def test_library_snippet_runs(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    _run(block, block.code)
    for written in re.findall(r'"(outputs/[^"]+)"', block.code):
        assert (tmp_path / written).is_file()


@pytest.mark.parametrize("block", APP, ids=lambda b: b.id)
def test_app_snippet_runs_against_the_app(block: Block, url: str, monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    _run(block, block.code.replace(LOCAL_APP, url))
    printed = capsys.readouterr().out
    if "/stylize" in block.code:
        assert "Done: step 30 / 30" in printed and "[[64, 64], [128, 128], [256, 256]" in printed
    else:
        assert "['extract', 'stylize']" in printed
