"""Helpers the file-safety test modules share (test modules never import one another)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
from PIL import Image

#: The quickest run: 32 px, 2 steps, seeded random weights, two layers.
FAST = ["--size", "32", "--iterations", "2", "--weights", "random:0", "--content-layers", "conv2_1",
        "--style-layers", "conv1_1,conv2_1", "-q"]  # fmt: skip
MINE = {"stylecore:config": "{}"}  # settings text, as the CLI writes it (save_image seals the file)


def hashes(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (links as their target text) -> sha256."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(folder))] = "link:" + os.readlink(path)
        elif path.is_file():
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def photo(path: Path, seed: int = 0, size: tuple[int, int] = (40, 32)) -> Path:
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip()


def video_argv(clip: tuple[Path, Path], out: Path, *more: str) -> list[str]:
    return ["video", str(clip[0]), str(clip[1]), "-o", str(out), *FAST, *more]
