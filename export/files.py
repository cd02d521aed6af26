"""The export's write plan: the same rule as every stylecore command, for the files the export makes.

What it reads (a weights file) and writes (the model, its sidecar JSON, ``profile.md``,
``ort_profile.json``) is listed and checked before anything is exported:

* a write that is one of the reads (same path or the same inode) is refused;
* a link, FIFO, device or socket at an output name is refused (nothing is written through a link);
* an existing file is replaced only when the export made it: a model whose sidecar names it and holds
  its SHA-256, a sidecar that names its model, a report with the report's title, an ONNX Runtime trace.

Every file is written beside its name and renamed onto it (:func:`stylecore.imaging.outputs.atomic_file`).
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stylecore import StylecoreError
from stylecore.imaging.outputs import atomic_file, check_regular, same_file
from stylecore.model.onnx import file_sha256

REPORT_TITLE = "# VGG19 extractor: ONNX export report"
PROFILE_NAME, TRACE_NAME = "profile.md", "ort_profile.json"


@dataclass(frozen=True)
class Outputs:
    """The files one export writes."""

    model: Path
    profile: bool  # False with --no-profile: no report, no trace

    @property
    def sidecar(self) -> Path:
        return self.model.with_suffix(".json")

    @property
    def report(self) -> Path:
        return self.model.parent / PROFILE_NAME

    @property
    def trace(self) -> Path:
        return self.model.parent / TRACE_NAME

    def all(self) -> list[tuple[Path, Callable[[Path], bool]]]:
        """(path, which existing file there is ours to replace)."""
        files: list[tuple[Path, Callable[[Path], bool]]] = [
            (self.model, self._model_ours),
            (self.sidecar, self._sidecar_ours),
        ]
        if self.profile:
            files += [(self.report, _report_ours), (self.trace, _trace_ours)]
        return files

    def check(self, reads: list[Path]) -> None:
        """Refuse, in one sentence and before any work, a write that is an input, a link, or not ours."""
        for target, ours in self.all():
            if os.path.islink(target):
                raise StylecoreError(f"{target} is a link; the export writes no file through one, so move it")
            check_regular(target)
            for source in reads:
                if same_file(source, target):
                    raise StylecoreError(f"{target} would overwrite the input {source}; choose another --out")
            if os.path.lexists(target) and not _is_empty(target) and not ours(target):
                raise StylecoreError(
                    f"{target} exists and was not made by the export, so it is kept; move it or choose another --out"
                )

    def _sidecar_ours(self, path: Path) -> bool:
        data = _json(path)
        return isinstance(data, dict) and data.get("model") == self.model.name and "sha256" in data

    def _model_ours(self, path: Path) -> bool:
        data = _json(self.sidecar) if self._sidecar_ours(self.sidecar) else None
        return isinstance(data, dict) and data["sha256"] == file_sha256(path)


def _is_empty(path: Path) -> bool:
    st = os.lstat(path)
    return stat.S_ISREG(st.st_mode) and st.st_size == 0


def _json(path: Path) -> Any:
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _report_ours(path: Path) -> bool:
    try:
        with path.open() as f:
            return f.readline().rstrip("\n") == REPORT_TITLE
    except (OSError, ValueError):
        return False


def _trace_ours(path: Path) -> bool:
    """ONNX Runtime's trace: a JSON list of events, each with a category and a name."""
    events = _json(path)
    return isinstance(events, list) and all(isinstance(e, dict) and {"cat", "name"} <= e.keys() for e in events)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` beside ``path`` and rename it into place: never half a file, never through a link."""
    with atomic_file(path) as temp:
        temp.write_text(text)
    return path
