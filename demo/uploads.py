"""Image inputs that arrive over HTTP, checked before anything decodes them.

Gradio hands a component whatever file payload the request carried: an API
caller can send a bare ``{"path": "/any/server/file"}`` (no ``meta``), which
Gradio 6 passes through unchecked, or a ``data:`` URL, which it would decode
at full size. So the app replaces ``gr.Image``'s preprocessing with
:func:`check_payload`: the file must be one Gradio stored as an upload (or a
bundled example), small enough on disk, and small enough in the header's
pixel count. Only then does ``stylecore`` decode it, at the size it needs.

A refused file becomes a :class:`Rejected` value rather than an exception, so
the run's validator can answer with the reason before the request is queued,
and the function itself refuses it with the same sentence.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

import gradio as gr
from gradio.utils import get_upload_folder
from gradio_client.utils import is_http_url_like  # type: ignore[import-untyped]
from PIL import Image, UnidentifiedImageError

from .inputs import MAX_INPUT_PIXELS, Rejected, Upload

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
MAX_UPLOAD_BYTES = 20 * 2**20
MAX_UPLOAD = "20mb"  # the same limit, as Gradio's launch(max_file_size=...) wants it
#: Bytes one address may upload while Gradio keeps uploads (an hour): ten files at the limit.
UPLOAD_QUOTA_BYTES = 10 * MAX_UPLOAD_BYTES
UNREADABLE = "That file is not an image we can read; upload a PNG, JPEG or WebP."
NO_URLS = "Send images as file uploads (POST /gradio_api/upload), not as http(s) URLs."


C = TypeVar("C", gr.Image, gr.ImageEditor)


class _Refused(Exception):
    pass


def upload_quota() -> int:
    """Bytes one address may upload per hour: ``STYLECORE_UPLOAD_QUOTA_MB``, else :data:`UPLOAD_QUOTA_BYTES`."""
    text = os.environ.get("STYLECORE_UPLOAD_QUOTA_MB", "").strip()
    try:
        return max(0, int(float(text) * 2**20)) if text else UPLOAD_QUOTA_BYTES
    except ValueError:
        return UPLOAD_QUOTA_BYTES


def allowed_roots() -> tuple[Path, ...]:
    """Gradio's upload cache and the bundled examples, symlinks resolved."""
    return (Path(os.path.realpath(get_upload_folder())), Path(os.path.realpath(EXAMPLES)))


def _inside(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path != root and path.is_relative_to(root) for root in roots)


def display_name(payload: Any, path: Path) -> str:
    """The user's own file name (never a server path), shortened."""
    name = Path(str(getattr(payload, "orig_name", None) or path.name)).name
    return name if len(name) <= 60 else name[:57] + "..."


def check_payload(payload: Any) -> Upload | Rejected | None:
    """The checks above, in order; a refusal is a :class:`Rejected` with one sentence."""
    if payload is None:
        return None
    try:
        return _checked(payload)
    except _Refused as refusal:
        return Rejected(str(refusal))


def _checked(payload: Any) -> Upload:
    url = getattr(payload, "url", None) or ""
    if url.startswith("data:"):
        raise _Refused("Send images as file uploads (POST /gradio_api/upload), not as data: URLs.")
    if is_http_url_like(str(getattr(payload, "path", None) or "")):  # left unfetched by refuse_urls
        raise _Refused(NO_URLS)
    if not getattr(payload, "path", None):
        raise _Refused("The image is missing; upload a PNG, JPEG or WebP.")
    path = Path(os.path.realpath(payload.path))  # resolves .. and symlinks before the check
    if not _inside(path, allowed_roots()) or not path.is_file():
        raise _Refused("That image was not uploaded to this app; upload the file first.")
    name = display_name(payload, path)
    size = path.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise _Refused(f"{name} is {size / 2**20:.0f} MB; the limit is {MAX_UPLOAD_BYTES // 2**20} MB.")
    return Upload(path, name, check_header(path, name))


def check_header(path: Path, name: str, max_pixels: int = MAX_INPUT_PIXELS) -> tuple[int, int]:
    """Width and height from the file's header (nothing is decoded); refuse what is too large."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except Image.DecompressionBombError:  # Pillow's own limit, far above ours
        raise _Refused(f"{name} is far too large; the limit is {max_pixels / 1e6:.0f} megapixels.") from None
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError):
        raise _Refused(f"{name}: {UNREADABLE}") from None
    if width * height > max_pixels:
        raise _Refused(f"{name} is {width}x{height} pixels; the limit is {max_pixels / 1e6:.0f} megapixels.")
    return width, height


def as_input(value: Any) -> Upload | Rejected | None:
    """Whatever reached a callback as an image input, checked: the callback's own guard.

    The component's hook (:func:`checked_image`) is the first check, but Gradio does
    not always run it: its example loader rebuilds the component from its config,
    without the instance's hook, and hands the run a plain path. So every callback
    passes its image inputs through here too; an already checked value passes as is.
    """
    if value is None or isinstance(value, Upload | Rejected):
        return value
    if isinstance(value, str | os.PathLike):
        value = SimpleNamespace(path=os.fspath(value), url=None, orig_name=None)
    elif isinstance(value, dict):
        value = SimpleNamespace(path=value.get("path"), url=value.get("url"), orig_name=value.get("orig_name"))
    return check_payload(value)


def refuse_urls(component: C) -> C:
    """``component`` refuses an http(s) URL input before anything is fetched.

    Gradio downloads a file payload whose path is a URL in full, with no cap on bytes
    or time, before any check of ours can run. This app needs no URL inputs, so the
    component's own download step leaves them unfetched, and :func:`check_payload`
    refuses them with one sentence.
    """
    move = component.async_move_resource_to_block_cache

    async def guarded(url_or_file_path: str | Path | None) -> str | None:
        if url_or_file_path is not None and is_http_url_like(str(url_or_file_path)):
            # Left as it is, unfetched: check_payload refuses it with NO_URLS, and the client gets that
            # sentence from the run (raised here, before the queue, it would be a bare HTTP 400).
            return str(url_or_file_path)
        return await move(url_or_file_path)

    component.async_move_resource_to_block_cache = guarded  # type: ignore[method-assign]
    return component


def checked_image(**kwargs: Any) -> gr.Image:
    """A ``gr.Image`` whose value reaches the app as :func:`check_payload` returns it.

    The hook is set on the instance: a subclass would make Gradio write a .pyi stub into demo/.
    """
    image = refuse_urls(gr.Image(type="filepath", image_mode=None, **kwargs))
    image.preprocess = check_payload  # type: ignore[method-assign,assignment]
    return image


def check_painted(payload: Any) -> Upload | Rejected | None:
    """The painted layer of a ``gr.ImageEditor`` (strokes over the photo), checked like any upload."""
    layers = [layer for layer in (getattr(payload, "layers", None) or []) if layer is not None]
    return check_payload(layers[0]) if layers else None


def painted_region(**kwargs: Any) -> gr.ImageEditor:
    """A ``gr.ImageEditor`` whose value reaches the app as its first layer, checked (PNG keeps the alpha)."""
    editor = refuse_urls(gr.ImageEditor(type="filepath", format="png", **kwargs))
    editor.preprocess = check_painted  # type: ignore[method-assign,assignment]
    return editor


# ---- files a call leaves behind -------------------------------------------------------------------

#: What a client is told instead of an error that names a server path (Gradio's "Cannot move /tmp/...").
NOT_UPLOADED = (
    "An input file was not uploaded to this app; upload it first (POST /gradio_api/upload) and send its path."
)
UNREADABLE_REQUEST = "The request could not be read; check its inputs against /gradio_api/info."
#: A data: URL an MCP call decoded is removed once its upload joined the queue, or after this long.
MCP_DECODE_KEEP_S = 600.0


def public_detail(detail: Any) -> Any:
    """A join's error as the client sees it: never a server path (the upload cache, the working folder)."""
    if not isinstance(detail, str):
        return detail
    if "Cannot move " in detail:
        return NOT_UPLOADED
    roots = (os.getcwd(), tempfile.gettempdir(), get_upload_folder(), str(allowed_roots()[0]))
    return UNREADABLE_REQUEST if any(root in detail for root in roots) else detail


def file_paths(data: Any) -> list[str]:
    """Every file's path in a call's data (payloads, an editor's layers, checked :class:`Upload` values), in order."""
    if isinstance(data, Upload):
        return [str(data.path)]
    if isinstance(data, dict):
        own = [data["path"]] if isinstance(data.get("path"), str) else []
        return own + [p for key, value in data.items() if key != "path" for p in file_paths(value)]
    if isinstance(data, list | tuple):
        return [p for item in data for p in file_paths(item)]
    path = getattr(data, "path", None)  # a FileData model
    return [path] if isinstance(path, str) else []


def discard_uploads(data: Any, uploaded: set[str]) -> int:
    """Remove the files a failed call uploaded (those in ``uploaded``, Gradio's record of uploads); how many went.

    Only files that came through the upload route go: never a bundled example, a file Gradio
    cached for the page itself, or anything outside the upload cache. An emptied folder goes too.
    """
    root = allowed_roots()[0]
    removed = 0
    for raw in file_paths(data):
        path = Path(os.path.realpath(raw))
        if not {raw, str(path)} & uploaded or not _inside(path, (root,)) or not path.is_file():
            continue
        if is_example_copy(path):  # the page's own example: Gradio caches it at this same path
            continue
        forget_decodes_of(path)
        path.unlink(missing_ok=True)
        uploaded.difference_update({raw, str(path)})
        removed += 1
        if path.parent != root:
            with contextlib.suppress(OSError):  # not empty: another file of the same upload
                path.parent.rmdir()
    return removed


class _Decodes:
    """The files Gradio's MCP server decoded from data: URLs, until the upload made from each joins the queue."""

    def __init__(self) -> None:
        self.files: dict[Path, tuple[float, int, str]] = {}  # path -> (when, size, sha256)
        self.lock = threading.Lock()

    def add(self, path: Path) -> None:
        with contextlib.suppress(OSError), self.lock:
            self.files[path] = (time.monotonic(), path.stat().st_size, _digest(path))

    def drop_twins(self, upload: Path) -> None:
        """Remove every decoded file with ``upload``'s bytes (its loopback upload), and stale ones."""
        try:
            size, digest = upload.stat().st_size, ""
        except OSError:
            return
        with self.lock:
            for path, (when, length, sha) in list(self.files.items()):
                stale = time.monotonic() - when > MCP_DECODE_KEEP_S
                if stale or (length == size and sha == (digest := digest or _digest(upload))):
                    del self.files[path]
                    path.unlink(missing_ok=True)
                    with contextlib.suppress(OSError):
                        path.parent.rmdir()


DECODES = _Decodes()


def joined(data: Any) -> None:
    """A call's uploads reached the queue: drop the data: URL decodes they were made from."""
    if DECODES.files:
        for raw in file_paths(data):
            forget_decodes_of(Path(os.path.realpath(raw)))


def forget_decodes_of(upload: Path) -> None:
    """An upload joined the queue (or failed at its door): the data: URL decoded for it is not needed any more."""
    if DECODES.files:
        DECODES.drop_twins(upload)


def track_mcp_decodes() -> None:
    """Record the files Gradio's MCP server decodes from data: URLs (it keeps them for good otherwise).

    Patched on the class, once, before any server exists: the first call decodes before any hook
    on a live server could be set. Without the ``mcp`` extra there is nothing to track.
    """
    try:
        from gradio.mcp import GradioMCPServer
    except ImportError:
        return
    convert = GradioMCPServer.convert_strings_to_filedata
    if getattr(convert, "_stylecore_tracked", False):
        return

    @functools.wraps(convert)
    def tracked(self: Any, value: Any, positions: Any) -> Any:
        converted = convert(self, value, positions)
        for raw in file_paths(converted):
            if not is_http_url_like(raw):
                DECODES.add(Path(os.path.realpath(raw)))
        return converted

    tracked._stylecore_tracked = True  # type: ignore[attr-defined]
    GradioMCPServer.convert_strings_to_filedata = tracked  # type: ignore[method-assign,assignment]


@functools.cache
def _example_digests() -> frozenset[tuple[str, str]]:
    return frozenset((path.name, _digest(path)) for path in EXAMPLES.iterdir() if path.is_file())


def is_example_copy(path: Path) -> bool:
    """Whether ``path`` holds a bundled example's bytes under its name.

    Gradio's cache is content-addressed: an upload of an example's bytes lands at the very path
    the page's example uses, so removing it would take the example away from every visitor.
    """
    names = {name for name, _ in _example_digests()}
    return path.name in names and (path.name, _digest(path)) in _example_digests()


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(2**20), b""):
            sha.update(block)
    return sha.hexdigest()


# ---- the results folder: ours while we live, anyone's to remove after ---------------------------------

RESULTS_PREFIX = "stylecore-results-"
#: A results folder younger than this is never swept: its owner may be between mkdtemp and its lock.
RESULTS_GRACE_S = 60.0
_HELD: list[int] = []  # the open, locked descriptors of this process's results folders


def hold_results(root: Path, clock: Callable[[], float] = time.time) -> int:
    """Lock ``root`` for this process's lifetime, then remove earlier apps' results folders; how many went.

    The lock is ``flock`` on the folder: the kernel drops it when its process ends, however it
    ends (even SIGKILL), so an unlocked ``stylecore-results-*`` folder of ours belongs to no one.
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _HELD.append(fd)
    removed = 0
    with os.scandir(root.parent) as entries:
        for entry in entries:
            if entry.name.startswith(RESULTS_PREFIX) and entry.path != str(root) and _abandoned(entry, clock()):
                shutil.rmtree(entry.path, ignore_errors=True)  # works through descriptors, follows no link
                removed += 1
    return removed


def _abandoned(entry: os.DirEntry[str], now: float) -> bool:
    """Our own folder, old enough, and not locked by a live process."""
    try:
        info = entry.stat(follow_symlinks=False)
        if (
            not entry.is_dir(follow_symlinks=False)
            or info.st_uid != os.getuid()
            or now - info.st_mtime < RESULTS_GRACE_S
        ):
            return False
        fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:  # a live app holds it
        return False
    finally:
        os.close(fd)


def exit_on_sigterm() -> None:
    """SIGTERM ends the server as Ctrl-C does (Gradio closes, ``atexit`` removes the results folder).

    Python's default for SIGTERM ends the process at once, skipping ``atexit``. Main thread only.
    """

    def handle(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handle)
