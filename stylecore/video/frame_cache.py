"""Finished video frames on disk, so an interrupted ``stylecore video`` goes on where it stopped.

One PNG per frame, named by its index in the source, and a marker file :data:`MARKER` that only
this tool writes: the cache's id, the settings that made its frames, the manifest of the frames
it wrote (with each file's size and SHA-256) and whether it made the folder. A folder is a cache
only when it holds that marker (a regular file, not a link); a non-empty folder without it is
refused, so ``--frames-dir .`` never touches the user's files. A folder holding nothing but our
half-written marker (a kill during the very first write) is taken back.

A cache made with other settings is emptied rather than mixed in: resuming is only for the same
command (a later ``--end`` is the same command; another style or ``--start`` is not). Emptying and
clean-up delete only the frames in the manifest whose size and digest are still the ones written
(a planted manifest cannot name a user's file), and remove the folder only when the cache made it.
Nothing is written through a symlink: every file is written beside its name and renamed onto it
(:func:`stylecore.imaging.outputs.atomic_file`).
"""

from __future__ import annotations

import contextlib
import hashlib
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
from ..imaging.formats import FORMATS
from ..imaging.images import load_image, open_image, save_image
from ..imaging.outputs import PARTIAL, atomic_file
from .media import Frame

MARKER = ".stylecore-cache"
FRAME_FORMAT = FORMATS["png"]  # lossless, 8-bit: what the encoder takes


def _fingerprint(path: Path) -> list[Any] | None:
    """[size, sha256] of a regular file (not a link); None for anything else."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return [len(data), hashlib.sha256(data).hexdigest()]


class FrameCache:
    def __init__(self, folder: Path, settings: Mapping[str, object]) -> None:
        """Open ``folder`` for frames made with ``settings`` (JSON-able); see :attr:`discarded`.

        Nothing is created until the first frame is saved.
        """
        self.folder = folder
        self.discarded = 0  # frames dropped because they were made with other settings
        self.settings = json.dumps(settings, sort_keys=True, default=str)
        self.digests: dict[int, list[Any]] = {}  # frame -> [size, sha256] as written
        if os.path.lexists(folder) and not folder.is_dir():
            raise StylecoreError(f"{folder} is not a folder; choose another --frames-dir")
        record = self._read_marker()
        if record is None:
            self._take_back_partial_marker()
            if folder.is_dir() and any(folder.iterdir()):
                raise StylecoreError(f"{folder}: not empty and not a frame cache; choose another --frames-dir")
            self.id, self.frames, self.created = uuid.uuid4().hex, set[int](), not folder.exists()
            return
        self.id, self.frames = str(record["id"]), {int(i) for i in record["frames"]}
        self.digests = {int(i): d for i, d in record.get("digests", {}).items()}
        self.created = bool(record.get("created", True))
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

    def _take_back_partial_marker(self) -> None:
        """A folder holding only our half-written marker (a kill during the first write): empty it again."""
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return
        ours = [e for e in entries if e.name.startswith(PARTIAL) and e.name.endswith(f"-{MARKER}")]
        if entries and len(ours) == len(entries) and all(e.is_file(follow_symlinks=False) for e in ours):
            for entry in ours:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)

    def _write_marker(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        digests = {str(i): self.digests[i] for i in sorted(self.frames) if i in self.digests}
        record = {"id": self.id, "settings": self.settings, "frames": sorted(self.frames), "digests": digests,
                  "created": self.created}  # fmt: skip
        with atomic_file(self.folder / MARKER) as temp:
            temp.write_text(json.dumps(record))

    def path(self, index: int) -> Path:
        return self.folder / f"{index:06d}{FRAME_FORMAT.suffix}"

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
        path = self.path(index)
        if os.path.lexists(path) and _fingerprint(path) != self.digests.get(index):
            raise StylecoreError(f"{path} is not a frame this cache wrote, so it is kept; choose another --frames-dir")
        if not self.folder.is_dir() or not (self.folder / MARKER).exists():
            self._write_marker()  # the marker first: a cache is never a folder of unmarked PNGs
        save_image(image, self.path(index), bits=FRAME_FORMAT.bits)
        fingerprint = _fingerprint(self.path(index))
        if fingerprint is not None:
            self.digests[index] = fingerprint
        self.frames.add(index)
        self._write_marker()

    def remove(self) -> None:
        """Delete the manifest's frames and the marker, then the folder if the cache made it and it is empty."""
        self._delete_frames()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.folder / MARKER)  # unlink never follows a link
        if self.created:  # a folder the user gave, even empty, is theirs
            with contextlib.suppress(OSError):
                self.folder.rmdir()

    def _delete_frames(self) -> None:
        """Only frames whose file is still the one written (size and SHA-256): a manifest cannot name a user's file."""
        for index in sorted(self.frames):
            written = self.digests.get(index)
            if written is not None and _fingerprint(self.path(index)) == written:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.path(index))
        self.frames.clear()
        self.digests.clear()
