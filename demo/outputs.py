"""Result files: a private folder per process, cleaned without races or link-following.

Each result gets its own sub-folder, so downloads keep a readable name
(``stylecore-chelsea-strokes.png``) without two requests colliding. The folder
is ``0700`` and files ``0600``: other users on the host cannot read results.
Stale sub-folders go with :func:`shutil.rmtree`, which on Linux works through
file descriptors and never follows a symlink out of the folder.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

KEEP_S = 3600  # Gradio copies results into its own cache; ours only need to outlive that copy


class OutputDir:
    """A private folder of result files; :meth:`new_file` also removes results older than ``keep_s``."""

    def __init__(self, keep_s: float = KEEP_S, clock: Callable[[], float] = time.time) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="stylecore-results-"))  # 0700, unique, never reused
        self.keep_s, self.clock = keep_s, clock
        atexit.register(shutil.rmtree, self.root, ignore_errors=True)

    def new_file(self, name: str) -> Path:
        """A fresh path ``<root>/<unique>/<name>``; :func:`seal` it once written."""
        self.clean()
        folder = self.root / uuid.uuid4().hex
        folder.mkdir(mode=0o700)
        return folder / safe_name(name)

    def clean(self) -> None:
        """Remove result folders older than ``keep_s``; concurrent cleaners and vanished entries are fine."""
        cutoff = self.clock() - self.keep_s
        with os.scandir(self.root) as entries:
            for entry in entries:
                try:
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        _remove(entry)
                except FileNotFoundError:  # another request removed it first
                    continue


def _remove(entry: os.DirEntry[str]) -> None:
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path, ignore_errors=True)
    else:  # nothing but our folders belongs here; a stray file or link goes, its target stays
        Path(entry.path).unlink(missing_ok=True)


def safe_name(name: str) -> str:
    """Letters, digits, dot, dash and underscore only; never empty, never hidden."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-") or "result"
    return cleaned[:100]


def seal(path: Path) -> Path:
    """Owner-only permissions on a written result (its folder is already 0700)."""
    path.chmod(0o600)
    return path
