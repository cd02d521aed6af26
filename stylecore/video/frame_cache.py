"""Finished video frames on disk, so an interrupted ``stylecore video`` goes on where it stopped.

One PNG per frame, named by its index in the source, and a marker file :data:`MARKER` that only
this tool writes: the cache's id, the settings that made its frames, and the manifest of the frames
it wrote. A folder is a cache only when it holds that marker (a regular file, not a link); a
non-empty folder without it is refused, so ``--frames-dir .`` never touches the user's files.

A cache made with other settings is emptied rather than mixed in: resuming is only for the same
command (a later ``--end`` is the same command; another style or ``--start`` is not). Emptying and
clean-up delete only the frames in the manifest, and nothing is written through a symlink: every
file is written beside its name and renamed onto it (:func:`stylecore.imaging.outputs.atomic_file`).
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from ..errors import StylecoreError
from ..imaging.images import load_image, open_image, save_image
from ..imaging.outputs import atomic_file
from .media import Frame

MARKER = ".stylecore-cache"


class FrameCache:
    def __init__(self, folder: Path, settings: Mapping[str, object]) -> None:
        """Open ``folder`` for frames made with ``settings`` (JSON-able); see :attr:`discarded`.

        Nothing is created until the first frame is saved.
        """
        self.folder = folder
        self.discarded = 0  # frames dropped because they were made with other settings
        self.settings = json.dumps(settings, sort_keys=True, default=str)
        record = self._read_marker()
        if record is None:
            if folder.is_dir() and any(folder.iterdir()):
                raise StylecoreError(f"{folder}: not empty and not a frame cache; choose another --frames-dir")
            self.id, self.frames = uuid.uuid4().hex, set[int]()
            return
        self.id, self.frames = str(record["id"]), {int(i) for i in record["frames"]}
        if record["settings"] != self.settings:
            self.discarded = len(self.done())
            self._delete_frames()
            self._write_marker()

    def _read_marker(self) -> dict[str, Any] | None:
        marker = self.folder / MARKER
        try:
            st = os.lstat(marker)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(st.st_mode):
            raise StylecoreError(f"{marker}: is not a regular file, so {self.folder} is not a frame cache")
        try:
            record = json.loads(marker.read_text())
            if isinstance(record, dict) and {"id", "settings", "frames"} <= record.keys():
                return record
        except (OSError, ValueError):
            pass
        raise StylecoreError(f"{marker}: damaged; delete {self.folder} to start again")

    def _write_marker(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        record = {"id": self.id, "settings": self.settings, "frames": sorted(self.frames)}
        with atomic_file(self.folder / MARKER) as temp:
            temp.write_text(json.dumps(record))

    def path(self, index: int) -> Path:
        return self.folder / f"{index:06d}.png"

    def done(self) -> list[int]:
        """Indices of the finished frames, ascending."""
        return sorted(i for i in self.frames if self.has(i))

    def has(self, index: int) -> bool:
        """Frame ``index`` is in the manifest and its file is a regular file (not a link)."""
        if index not in self.frames:
            return False
        try:
            return stat.S_ISREG(os.lstat(self.path(index)).st_mode)
        except OSError:
            return False

    def load(self, index: int) -> Tensor:
        """Frame ``index`` as (1, 3, H, W) in [0, 1]."""
        try:
            return load_image(self.path(index))
        except StylecoreError as exc:
            raise self._unreadable(index, exc) from None

    def pixels(self, index: int) -> Frame:
        """Frame ``index`` as (H, W, 3) uint8, for the encoder."""
        try:
            with open_image(self.path(index)) as image:
                return np.asarray(image)
        except StylecoreError as exc:
            raise self._unreadable(index, exc) from None

    def _unreadable(self, index: int, exc: StylecoreError) -> StylecoreError:
        return StylecoreError(
            f"cached frame {self.path(index).name} in {self.folder} cannot be read ({exc}); "
            f"delete {self.folder} so they are done again"
        )

    def save(self, index: int, image: Tensor) -> None:
        """Write frame ``index`` (atomically: a kill leaves no half frame), then list it in the manifest."""
        if not self.folder.is_dir() or not (self.folder / MARKER).exists():
            self._write_marker()  # the marker first: a cache is never a folder of unmarked PNGs
        save_image(image, self.path(index))
        self.frames.add(index)
        self._write_marker()

    def remove(self) -> None:
        """Delete the manifest's frames and the marker, then the folder if nothing else is left in it."""
        self._delete_frames()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.folder / MARKER)  # unlink never follows a link
        with contextlib.suppress(OSError):
            self.folder.rmdir()

    def _delete_frames(self) -> None:
        for index in sorted(self.frames):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path(index))  # the name we wrote; a link there is removed, not followed
        self.frames.clear()
