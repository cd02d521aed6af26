"""Finished video frames on disk, so an interrupted ``stylecore video`` goes on where it stopped.

One PNG per frame, named by its index in the source, and ``settings.json`` recording what made
them. A cache made with other settings is emptied rather than mixed in: resuming is only for the
same command (a later ``--end`` is the same command; another style or ``--start`` is not).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from torch import Tensor

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
        if recorded.is_file() and recorded.read_text() != wanted:
            self.discarded = len(self.done())
            shutil.rmtree(folder)
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
        shutil.rmtree(self.folder, ignore_errors=True)
