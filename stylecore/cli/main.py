"""``stylecore``: dispatches to a command: ``batch`` (a folder), ``video`` (a video), else one image.

Only the standard library is imported before a command installs its SIGINT/SIGTERM handling
(see :mod:`stylecore.cli.common`), so a Ctrl-C while torch is still importing ends with one line.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``stylecore``; returns the exit code."""
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["batch"]:
        from .batch import batch_main

        return batch_main(args[1:])
    if args[:1] == ["video"]:
        from .video import video_main

        return video_main(args[1:])
    from .image import image_main

    return image_main(args)
