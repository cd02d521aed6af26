"""Checking a run request before anything is decoded: which input is wrong, and one sentence why.

No Gradio here (``tests/test_demo.py`` checks it): the images arrive already checked
by :mod:`demo.uploads` (an :class:`Upload`, a :class:`Rejected` or None), the settings
are parsed once by the table in :mod:`demo.settings`, and the answer is a
:class:`Request` that runs or a :class:`Problem` that names its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stylecore import ConfigError, StyleConfig

from . import inputs, settings, words
from .hosting import Hardware
from .inputs import Input, Rejected, Upload
from .models import Models
from .settings import Setting

#: The run's image inputs, in the run function's parameter order (the settings follow them).
IMAGE_INPUTS = ("content", "style", "style2", "region", "painted")
#: What each image box is called on the page, for messages that name a box.
BOX_NAMES = {"content": "Photo", "style": "Style image", "style2": "Second style image", "region": "Region mask",
             "painted": "Paint where the second style goes"}  # fmt: skip


@dataclass(frozen=True)
class Request:
    """A run that passed every check: its uploads (headers read, nothing decoded) and its config."""

    content: Upload
    style: Upload
    style2: Upload | None
    region: Upload | None
    painted: Upload | None
    config: StyleConfig
    notes: tuple[str, ...]


class Problem(Exception):
    """Why a request cannot run: one sentence, and the input it is about."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(message)
        self.where, self.message = where, message


def missing_box(name: str) -> str:
    """The sentence for an empty required box, naming it."""
    return f'The "{BOX_NAMES[name]}" box is empty; add {"a photo" if name == "content" else "a style image"} there.'


def prepare(images: Mapping[str, Input], values: Mapping[str, Any], table: tuple[Setting, ...], hardware: Hardware,
            models: Models) -> Request:  # fmt: skip
    """Every check that needs no decoding, and the settings parsed once; :class:`Problem` says why not.

    ``images`` holds the checked image inputs by name, ``values`` the raw setting values.
    """
    for name in IMAGE_INPUTS:
        value = images.get(name)
        if isinstance(value, Rejected):
            raise Problem(name, value.message)
    content, style, style2 = images.get("content"), images.get("style"), images.get("style2")
    for name, value in (("content", content), ("style", style)):
        if value is None:
            raise Problem(name, missing_box(name))
    if images.get("region") is not None and style2 is None:
        raise Problem("region", "A region places the second style: add a second style image too.")
    try:
        checked = settings.check(table, values, hardware, two_styles=style2 is not None)
    except ConfigError as exc:
        raise Problem(settings.blame(table, str(exc)), words.sentence(str(exc))) from None
    if models.extractor is None:
        raise Problem("content", words.sentence(models.weights_error or "no weights"))
    for name, what, side in (("content", "photo", checked.config.size), ("style", "style image", 0)):
        problem = inputs.size_problem(images.get(name), what, side)
        if problem:
            raise Problem(name, problem)
    assert isinstance(content, Upload) and isinstance(style, Upload)  # checked above
    optional = {n: v if isinstance(v, Upload) else None for n, v in images.items()}
    return Request(content, style, optional.get("style2"), optional.get("region"), optional.get("painted"),
                   checked.config, checked.notes)  # fmt: skip


def upload_problem(name: str, image: Input, size: Any, table: tuple[Setting, ...]) -> str | None:
    """What is wrong with one box's upload on its own (shown next to it on upload), or None.

    ``size`` is the size control's value; an unreadable one is left for Run to report.
    """
    if isinstance(image, Rejected):
        return image.message
    if name not in ("content", "style"):
        return None
    side = 0
    if name == "content":
        try:
            side = int(settings.by_name(table)["size"].control.parse(size))
        except ConfigError:
            side = 0
    return inputs.size_problem(image, "photo" if name == "content" else "style image", side)
