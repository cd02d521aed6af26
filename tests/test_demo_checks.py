"""The app's request check, Stop state and words, without Gradio or a server."""

from __future__ import annotations

import re
from typing import Any

import pytest

from demo import checks, words
from demo.checks import Problem, prepare, upload_problem
from demo.hosting import Hardware
from demo.inputs import Rejected, Upload
from demo.limits import ClientLimit
from demo.models import Models
from demo.runs import ClientRuns
from demo.settings import defaults, table

from .conftest import EXAMPLES

CPU = Hardware("cpu", 512, 200 * 256**2, 1, 8, 2, 100, 256, 300.0)
SETTINGS = table(CPU)
PHOTO = Upload(EXAMPLES / "chelsea.jpg", "chelsea.jpg", (451, 300))
STYLE = Upload(EXAMPLES / "strokes.png", "strokes.png", (256, 256))


class _Extractor:
    class weights:  # what Models reads of an extractor
        label, trained = "random", False


READY = Models(_Extractor(), None)  # type: ignore[arg-type]


def _prepare(images: dict[str, Any], models: Models = READY, **values: Any) -> checks.Request:
    return prepare(images, defaults(SETTINGS) | values, SETTINGS, CPU, models)


@pytest.mark.parametrize(("missing", "box"), [("content", "Photo"), ("style", "Style image")])
def test_an_empty_box_is_named(missing: str, box: str) -> None:
    images = {"content": PHOTO, "style": STYLE} | {missing: None}
    with pytest.raises(Problem) as info:
        _prepare(images)
    assert info.value.where == missing and f'"{box}" box is empty' in info.value.message


def test_a_good_request_carries_its_config_and_a_bad_value_names_its_setting() -> None:
    request = _prepare({"content": PHOTO, "style": STYLE}, iterations=7, size=128)
    assert (request.config.iterations, request.config.size) == (7, 128) and request.style2 is None
    with pytest.raises(Problem) as info:
        _prepare({"content": PHOTO, "style": STYLE}, iterations=10**6)
    assert info.value.where == "iterations"
    assert info.value.message == "Iterations must be a whole number from 1 to 2000, got 1e+06."


def test_a_refused_upload_and_an_offline_app_are_one_sentence_each() -> None:
    with pytest.raises(Problem, match=r"^not an image$") as info:
        _prepare({"content": PHOTO, "style": Rejected("not an image")})
    assert info.value.where == "style"
    offline = Models(None, None, weights_error="VGG19 ImageNet weights not found at /x")
    with pytest.raises(Problem, match=r"^VGG19 ImageNet weights not found at /x\.$"):
        _prepare({"content": PHOTO, "style": STYLE}, models=offline)


def test_an_upload_is_checked_on_its_own_next_to_its_box() -> None:
    strip = Upload(EXAMPLES / "chelsea.jpg", "strip.png", (4000, 16))
    assert "4000x16 pixels" in (upload_problem("content", strip, 256, SETTINGS) or "")
    assert "style image is 4000x16" in (upload_problem("style", strip, "not a size", SETTINGS) or "")
    assert upload_problem("content", PHOTO, 256, SETTINGS) is None
    assert upload_problem("region", Rejected("no."), 256, SETTINGS) == "no."


def test_stop_names_the_step_of_its_image_or_the_step_shown() -> None:
    runs, keys = ClientRuns(ClientLimit(2)), ("session:a",)
    assert runs.stop(keys) == "Stopped before the first step."
    runs.start(keys)
    updates = iter([("pair", "plot", "Running", None, (1, 100)), ("pair", "plot", "Running", "x.png", (3, 100))])
    tracked = runs.tracked(keys, updates)
    next(tracked)
    assert runs.stop(keys) == "Stopped at step 1 of 100, before its first picture."
    runs.start(keys)
    tracked = runs.tracked(keys, iter([("p", "p", "s", "x.png", (2, 100)), ("p", "p", "s", "y.png", (3, 100))]))
    next(tracked)
    assert runs.stop(keys).startswith("Stopped at step 2 of 100. The image of that step")
    assert list(tracked) == []  # nothing more goes out after Stop


def test_the_status_line_has_words_for_artists() -> None:
    fp32 = words.status(3, 10, 1.25, "fp32 (CPU has no bf16 units)")
    assert fp32 == "Running: step 3 / 10 · 1.2 s."
    bf16 = words.status(10, 10, 2.0, "bf16 (CPU has AMX)", final=True, notes=["time budget reached"])
    assert bf16 == "Done: step 10 / 10 · Faster, same look (bf16) · 2.0 s. Note: Time budget reached."
    assert not re.search(r"AVX|AMX|CPU", bf16)


def test_the_offline_notice_is_one_sentence() -> None:
    notice = words.notice("no weights", trained=False, offline=True)
    assert notice.count(".") == 1 and "/" not in notice and "STYLECORE" not in notice
