"""Every Python block in README.md runs, so the documentation cannot drift from the code.

Blocks that talk to the app (they name http://127.0.0.1:7860/) run against the test server.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)
LOCAL_APP = "http://127.0.0.1:7860/"


def test_the_readme_has_its_snippets() -> None:
    assert len(BLOCKS) >= 3 and sum(LOCAL_APP in block for block in BLOCKS) >= 2


@pytest.mark.parametrize("index", [i for i, block in enumerate(BLOCKS) if LOCAL_APP not in block])
def test_library_snippet_runs(index: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STYLECORE_WEIGHTS", "random")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    exec(compile(BLOCKS[index], f"README.md python block {index}", "exec"), {})
    for written in re.findall(r'"(outputs/[^"]+)"', BLOCKS[index]):
        assert (tmp_path / written).is_file()


@pytest.mark.parametrize("index", [i for i, block in enumerate(BLOCKS) if LOCAL_APP in block])
def test_app_snippet_runs_against_the_app(index: int, url: str, monkeypatch, capsys) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(BLOCKS[index].replace(LOCAL_APP, url), f"README.md python block {index}", "exec"), {})
    printed = capsys.readouterr().out
    if "/stylize" in BLOCKS[index]:
        assert "Done: step 30 / 30" in printed and "[[64, 64], [128, 128], [256, 256]" in printed
    else:
        assert "['extract', 'stylize']" in printed
