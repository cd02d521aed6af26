"""The one rule for every file the commands write: never an input, never someone else's file, never half.

* :class:`WritePlan` lists every path a command will write and every path it reads; :meth:`WritePlan.check`
  refuses, before any work, a write that is one of the reads (same resolved path, or the same inode
  through a hard link or symlink) or that would replace a file this tool did not make.
* :func:`made_by_stylecore` recognises our files by the metadata we write into them: an image's seal
  (:mod:`stylecore.imaging.formats`: a digest of its pixels, text and place) or the video tag :data:`VIDEO_TAG`.
* Only regular files are read or replaced at an output name (:func:`check_regular`): a FIFO, a device,
  a socket or a link to one is refused, since opening one to look inside would hang or write elsewhere.
* :func:`atomic_file` writes to a temporary file in the target's folder, fsyncs it and renames it into
  place, so a crash or a kill leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StylecoreError

#: Container metadata key and value our videos carry (MP4 writes "comment" as its ``©cmt`` atom).
VIDEO_TAG = ("comment", "made by stylecore")
PARTIAL = ".stylecore-partial-"  # prefix of temporary files; a SIGKILL can leave one behind


def _identity(path: Path) -> tuple[str, tuple[int, int] | None]:
    """(resolved path, (st_dev, st_ino) or None when nothing is there)."""
    try:
        st = os.stat(path)
        inode: tuple[int, int] | None = (st.st_dev, st.st_ino)
    except OSError:
        inode = None
    return str(path.resolve()), inode


def _empty(path: Path) -> bool:
    """A 0-byte regular file (a result cut short before its first byte): nothing in it to keep."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return st.st_size == 0 and stat.S_ISREG(st.st_mode)


def same_file(a: Path, b: Path) -> bool:
    """True when ``a`` and ``b`` are one file: same resolved path, or the same inode (hard links)."""
    (pa, ia), (pb, ib) = _identity(a), _identity(b)
    return pa == pb or (ia is not None and ia == ib)


def check_regular(path: Path) -> None:
    """Refuse, in one sentence, a FIFO, device or socket at ``path`` (or a link to one); missing is fine."""
    try:
        st = os.stat(path) if os.path.islink(path) else os.lstat(path)
    except OSError:
        return  # nothing there, or a dangling link (replaced, never followed)
    if not stat.S_ISREG(st.st_mode) and not stat.S_ISDIR(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket" if stat.S_ISSOCK(st.st_mode) else "a device"
        link = " (through a link)" if os.path.islink(path) else ""
        raise StylecoreError(f"{path} is {kind}{link}, not a regular file; choose another output name")


def _regular(path: Path) -> bool:
    """A regular file, not a link to one: opening it cannot hang or read elsewhere."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def made_by_stylecore(path: Path) -> bool:
    """True when ``path`` is an image or video this tool wrote there (its seal or video tag says so).

    Only a regular file is opened. An image counts when its seal matches its pixels, text and place,
    or when it is sealed but cut short (an older result interrupted mid-write: nothing in it to keep).
    """
    if not _regular(path):
        return False
    from .formats import SUFFIXES, claims_provenance, read_provenance

    if path.suffix.lower() in SUFFIXES:
        try:
            blob = path.read_bytes()
        except OSError:
            return False
        return read_provenance(path, blob) is not None or claims_provenance(path, blob)
    return _video_tagged(path)


def provenance_of(path: Path) -> dict[str, str] | None:
    """The text an image we wrote at ``path`` carries (None: not ours, or not a regular file)."""
    from .formats import read_provenance

    try:
        return read_provenance(path) if _regular(path) else None
    except OSError:
        return None


def _video_tagged(path: Path) -> bool:
    try:
        import av

        with av.open(str(path)) as container:
            tags = {key.lower(): value for key, value in container.metadata.items()}  # MKV upper-cases keys
            return bool(tags.get(VIDEO_TAG[0]) == VIDEO_TAG[1])
    except Exception:  # not a video we can read, or PyAV missing
        return False


def decodes(path: Path) -> bool:
    """True when the image at ``path`` is a regular file that decodes to the end (a resumed run redoes others)."""
    from PIL import Image

    if not _regular(path):
        return False
    try:
        with Image.open(path) as image:
            image.load()
        return True
    except Exception:  # any failure means: not a finished result
        return False


@dataclass
class WritePlan:
    """Every path a command reads and writes, checked against each other before any work."""

    reads: list[Path] = field(default_factory=list)
    writes: list[Path] = field(default_factory=list)  # files replaced only when we made them
    families: list[tuple[Path, Callable[[str], bool], Callable[[Path], bool], str]] = field(default_factory=list)

    def read(self, *paths: Path | None) -> None:
        self.reads.extend(p for p in paths if p is not None and str(p) != "-")

    def write(self, *paths: Path) -> None:
        self.writes.extend(paths)

    def write_matching(
        self, folder: Path, matches: Callable[[str], bool], owned: Callable[[Path], bool], what: str
    ) -> None:
        """Files in ``folder`` whose names ``matches`` (e.g. snapshots: too many to list one by one).

        ``owned``: which of them may be replaced; ``what`` names those (e.g. "a snapshot of out.png").
        """
        self.families.append((folder, matches, owned, what))

    def check(self) -> None:
        """Refuse, with one sentence, a write that is an input, not a regular file, or a file not ours to replace."""
        reads = [(p, *_identity(p)) for p in self.reads]
        targets: list[tuple[Path, Callable[[Path], bool], str]] = [
            (p, made_by_stylecore, "was not made by stylecore") for p in self.writes
        ]
        targets += list(self._family_files())
        for target, owned, what in targets:
            check_regular(target)
            resolved, inode = _identity(target)
            for source, path, ino in reads:
                if resolved == path or (inode is not None and inode == ino):
                    raise StylecoreError(f"{target} would overwrite the input {source}; choose another output name")
            if os.path.lexists(target) and not _empty(target) and not owned(target):
                raise StylecoreError(f"{target} exists and {what}, so it is kept; move it or choose another name")

    def _family_files(self) -> Iterator[tuple[Path, Callable[[Path], bool], str]]:
        """Files already there that a family would write, and the reads that fall in one."""
        for folder, matches, owned, what in self.families:
            with contextlib.suppress(OSError):
                for entry in os.scandir(folder):
                    if matches(entry.name):
                        yield folder / entry.name, owned, f"is not {what}"
            for source in self.reads:  # an input named like a snapshot, possibly not yet resolved
                if same_file(source.parent, folder) and matches(source.name):
                    yield folder / source.name, owned, f"is not {what}"


def check_no_inputs_inside(folder: Path, reads: Iterable[Path], what: str) -> None:
    """Refuse a folder this tool fills (a cache) that holds one of the inputs."""
    root = str(folder.resolve())
    for source in reads:
        if str(source.resolve()).startswith(root + os.sep):
            raise StylecoreError(f"{what} {folder} holds the input {source}; choose another folder")


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success fsync it and rename it onto ``path``.

    The temporary name keeps the suffix, so writers that pick a format by extension still do.
    On any exception (a KeyboardInterrupt too) the temporary file is removed and ``path`` is untouched.
    A symlink at ``path`` is replaced, never followed.
    """
    path = Path(path)
    temp = path.with_name(f"{PARTIAL}{os.getpid()}-{path.name}")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(temp)  # a leftover of an earlier run of this pid, or a planted link: removed, not followed
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o666))
    try:
        yield temp
        fd = os.open(temp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(temp)
    with contextlib.suppress(OSError):  # the rename itself survives a power cut once the folder is synced
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
