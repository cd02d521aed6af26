"""The Markdown pages whose code blocks the tests run: README.md and docs/*.md, split into fenced blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LOCAL_APP = "http://127.0.0.1:7860/"
#: A fenced block, with the "not run" note that may sit on the lines just above it.
FENCE = re.compile(
    r"""(?:<!--\ not\ run:\ (?P<reason>[^>]*?)\ -->\s*\n)?   # the note, if any
        ^(?P<indent>\ *)```(?P<lang>[\w-]*)[^\n]*\n             # the opening fence, maybe in a list item
        (?P<code>.*?)^(?P=indent)```                             # the code, up to its closing fence""",
    re.M | re.S | re.X,
)


@dataclass(frozen=True)
class Block:
    page: str  # the file, relative to the repository
    index: int  # its place among the page's blocks
    lang: str  # the fence's language ("" when none)
    code: str
    not_run: str | None  # why it must not run, or None

    @property
    def id(self) -> str:
        return f"{self.page}:{self.index}"


def blocks_of(text: str, page: str) -> list[Block]:
    """Every fenced block of a Markdown text, indentation (a block inside a list item) removed."""
    found = []
    for index, match in enumerate(FENCE.finditer(text)):
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["code"].splitlines(keepends=True))
        found.append(Block(page, index, match["lang"], code, match["reason"]))
    return found


BLOCKS = [block for path in PAGES for block in blocks_of(path.read_text(), str(path.relative_to(ROOT)))]
