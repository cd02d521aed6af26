"""Finished video frames on disk, so an interrupted ``stylecore video`` goes on where it stopped.

One PNG per frame, named by its index in the source, and ``settings.json`` recording what made
them. A cache made with other settings is emptied rather than mixed in: resuming is only for the
same command (a later ``--end`` is the same command; another style or ``--start`` is not).

Only files the cache wrote are ever deleted, and a folder that holds anything else without being a
cache is refused: ``--frames-dir .`` must not empty the user's folder.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from torch import Tensor

from .errors import StylecoreError
from .imageio import load_image, open_image, save_image
from .media import Frame

SETTINGS = "settings.json"


class FrameCache:
    def __init__(self, folder: Path, settings: Mapping[str, object]) -> None:
        """Open ``folder`` for frames made with ``settings`` (JSON-able); see :attr:`discarded`."""
        self.folder = folder
        self.discarded = 0  # frames dropped because they were made with other settings
        recorded = folder / SETTINGS
        wanted = json.dumps(settings, sort_keys=True, default=str)
        if folder.is_dir() and not recorded.is_file() and any(folder.iterdir()):
            raise StylecoreError(f"{folder}: not empty and not a frame cache; choose another --frames-dir")
        if recorded.is_file() and recorded.read_text() != wanted:
            self.discarded = len(self.done())
            self._delete_frames()
        folder.mkdir(parents=True, exist_ok=True)
        recorded.write_text(wanted)

    def path(self, index: int) -> Path:
        return self.folder / f"{index:06d}.png"

    def done(self) -> list[int]:
        """Indices of the finished frames, ascending."""
        return sorted(int(p.stem) for p in self.folder.glob("[0-9]*.png") if p.stem.isdigit())

    def has(self, index: int) -> bool:
        return self.path(index).is_file()

    def load(self, index: int) -> Tensor:
        """Frame ``index`` as (1, 3, H, W) in [0, 1]."""
        return load_image(self.path(index))

    def pixels(self, index: int) -> Frame:
        """Frame ``index`` as (H, W, 3) uint8, for the encoder."""
        with open_image(self.path(index)) as image:
            return np.asarray(image)

    def save(self, index: int, image: Tensor) -> None:
        """Write frame ``index``; a run killed mid-write leaves no half file behind."""
        partial = self.folder / f"partial-{index:06d}.png"
        save_image(image, partial)
        os.replace(partial, self.path(index))

    def remove(self) -> None:
        """Delete the cache's own files, then the folder if nothing else is left in it."""
        self._delete_frames()
        (self.folder / SETTINGS).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.folder.rmdir()

    def _delete_frames(self) -> None:
        for index in self.done():
            self.path(index).unlink(missing_ok=True)
        for partial in self.folder.glob("partial-[0-9]*.png"):
            partial.unlink(missing_ok=True)
