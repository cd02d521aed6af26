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

import os
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
UNREADABLE = "That file is not an image we can read; upload a PNG, JPEG or WebP."
NO_URLS = "Send images as file uploads (POST /gradio_api/upload), not as http(s) URLs."


C = TypeVar("C", gr.Image, gr.ImageEditor)


class _Refused(Exception):
    pass


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
