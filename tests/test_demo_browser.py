"""A real browser (Debian's chromium, driven by Playwright) uses the page as a first-time visitor would.

Skipped where chromium or Playwright is missing, except in CI, where .ci/run
installs both and a missing browser is a failure. At a laptop's 1366x768 and a
phone's 390x844: Run and the status line are on the first screen, an example then
Run shows a preview and then a result, Stop leaves its image, each error sits next
to its cause while the old result goes, the snippet the page shows runs as written,
and axe-core passes empty, after an example, after a result and after an error.
Screenshots of both widths go to artifacts/ when STYLECORE_SCREENSHOTS says so.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from .conftest import EXAMPLES, free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
#: Where the screenshots go: a temporary folder, so a test run changes no tracked file.
#: ``STYLECORE_SCREENSHOTS=artifacts make test`` refreshes the committed ones (README, docs).
ARTIFACTS = Path(os.environ.get("STYLECORE_SCREENSHOTS") or tempfile.mkdtemp(prefix="stylecore-screens-"))
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
#: axe-core findings inside Gradio's own markup, which the app cannot change: (rule, a
#: piece of the node's selector or HTML, why). Each is listed in README, *Known limits*.
AXE_EXCLUSIONS: tuple[tuple[str, str, str], ...] = ()
#: Records, on every change of the page, the status line and how many images the result shows.
WATCH = """() => {
  window.seen = [];
  new MutationObserver(() => window.seen.push([document.querySelector('#status')?.innerText || '',
    document.querySelectorAll('#result img').length])).observe(document.body, {subtree: true, childList: true,
    characterData: true});
}"""


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing in CI; .ci/run should install it")
        pytest.skip("needs Debian's chromium (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def offline_url(app: Any) -> Iterator[str]:
    """The same page from an app that found no weights."""
    from demo.app import create_app
    from demo.models import Models

    error = "VGG19 ImageNet weights not found at /root/.cache/torch/hub/checkpoints/vgg19.pth and no network"
    offline = create_app(app.hardware, Models(None, None, weights_error=error))
    port = free_port()
    offline.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        offline.demo.close()


def _open(browser, url: str, viewport: dict[str, int] = DESKTOP):
    page = browser.new_page(viewport=viewport)
    page.goto(url)
    page.locator("#run").wait_for()
    page.locator("#examples tr.tr-body img").first.wait_for()  # the page has drawn
    return page


def _on_first_screen(page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    height = page.viewport_size["height"]
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= height


def _set(page, elem_id: str, value: int) -> None:
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def _upload(page, elem_id: str, path: Path) -> None:
    page.locator(f"#{elem_id} input[type=file]").set_input_files(str(path))


def _example(page, row: int = 0) -> None:
    page.locator("#examples tr.tr-body").nth(row).click()
    page.locator("#content-photo img").first.wait_for()
    page.locator("#style-image img").first.wait_for()


def _run_to_done(page, steps: int) -> None:
    _set(page, "iterations", steps)
    page.locator("#run").click()
    page.locator("#status").get_by_text(f"Done: step {steps} / {steps}").wait_for(timeout=180_000)
    page.wait_for_function(
        "() => { const b = document.querySelector('#run'); return !b.disabled && b.innerText.trim() === 'Run'; }"
    )  # back for the next run


def _serious(page) -> list[str]:
    """axe-core's serious and critical findings, less the named Gradio-internal exclusions."""
    from axe_playwright_python.sync_playwright import Axe

    found = []
    response = Axe().run(page).response
    assert len(response["passes"]) > 10  # axe really looked at the page
    for rule in response["violations"]:
        if rule["impact"] not in ("serious", "critical"):
            continue
        for node in rule["nodes"]:
            where = f"{node['target']} {node['html']}"
            if not any(rule["id"] == r and piece in where for r, piece, _why in AXE_EXCLUSIONS):
                found.append(f"{rule['id']}: {where[:200]}")
    return found


def _screenshot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name))


@pytest.mark.slow
@pytest.mark.parametrize(("viewport", "shot"), [(DESKTOP, "demo_1366x768.png"), (PHONE, "demo_390px.png")])
def test_an_example_then_run_shows_a_preview_then_a_result_on_one_screen(browser, url: str, viewport, shot) -> None:
    page = _open(browser, url, viewport)
    assert _on_first_screen(page, "#run") and _on_first_screen(page, "#status")
    assert _serious(page) == []  # empty
    _example(page)
    assert _serious(page) == []  # after an example
    page.evaluate(WATCH)
    _run_to_done(page, 40)
    seen = page.evaluate("window.seen")
    assert any(status.startswith("Running") and images == 2 for status, images in seen), seen[:20]  # a preview
    result = page.locator("#result img")
    assert result.count() == 2 and all(result.nth(k).get_attribute("src") for k in range(2))  # before, after
    assert page.locator("#run-message").inner_text().strip() == ""
    assert "stylecore-" in page.locator("#download").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    assert _on_first_screen(page, "#run") and _on_first_screen(page, "#status")
    if viewport is DESKTOP:
        assert _on_first_screen(page, "#result") and _on_first_screen(page, "#download")
    else:  # on a phone the result comes right under Run
        run, status = page.locator("#run").bounding_box(), page.locator("#result").bounding_box()
        assert run and status and 0 < status["y"] - run["y"] < 250
    _screenshot(page, shot)
    assert _serious(page) == []  # after a result


@pytest.mark.slow
def test_the_page_says_things_for_people_and_names_its_parts(browser, url: str) -> None:
    page = _open(browser, url)
    rows = page.locator("#examples tr.tr-body")
    page.wait_for_function("() => [...document.querySelectorAll('#examples tr.tr-body img')].every((i) => i.alt)")
    alts = [rows.nth(i).locator("img").nth(j).get_attribute("alt") for i in range(2) for j in range(2)]
    assert all(alts) and len(set(alts)) == 4, alts  # every thumbnail says what it is
    for region in ("status", "run-message", "content-message", "style-message"):
        assert page.locator(f"#{region}").get_attribute("aria-live") == "polite"
    names = [b.get_attribute("aria-label") for b in page.locator("#content-photo button, #style-image button").all()]
    named = [n for n in names if n]
    assert len(named) == len(set(named)) and any("clipboard" in n for n in named), names  # one name per button
    assert not page.locator("#advanced input[type=radio]").first.is_visible()  # technical choices are folded
    assert page.get_by_text("Extractor API", exact=True).count() == 0  # no developer tab beside the page
    slider = page.locator("#iterations input[type=range]")
    slider.focus()
    page.keyboard.press("ArrowRight")  # a keyboard user's focus: :focus-visible applies
    outline = slider.evaluate("(el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth")
    assert outline.split()[0] not in ("none", "") and outline.split()[1] != "0px", outline
    accent = slider.evaluate("(el) => getComputedStyle(el).accentColor")
    assert accent == "rgb(30, 64, 175)", accent  # the buttons' blue, not Gradio's orange


@pytest.mark.slow
def test_the_snippet_the_page_shows_runs_as_written(browser, url: str, tmp_path: Path) -> None:
    page = _open(browser, url)
    page.locator("#use-from-code").get_by_text("Use it from code").click()
    code = page.locator("#code pre code").first
    code.wait_for()
    text = code.inner_text()
    assert f'Client("{url}")' in text and f"{url}gradio_api/mcp/" in page.locator("#code").inner_text()
    shutil.copy(EXAMPLES / "chelsea.jpg", tmp_path / "photo.jpg")
    shutil.copy(EXAMPLES / "strokes.png", tmp_path / "painting.jpg")
    (tmp_path / "snippet.py").write_text(text)
    done = subprocess.run([sys.executable, "snippet.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Done: step 20 / 20" in done.stdout and "saved:" in done.stdout


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE])
def test_each_error_sits_next_to_its_cause_and_the_old_result_goes(browser, url: str, tmp_path: Path,
                                                                   viewport) -> None:  # fmt: skip
    strip = tmp_path / "strip.png"
    Image.new("RGB", (4000, 16), "red").save(strip)
    page = _open(browser, url, viewport)
    _example(page)
    _run_to_done(page, 2)
    _upload(page, "content-photo", strip)  # checked on upload, next to its box
    message = page.locator("#content-message")
    message.get_by_text("4000x16 pixels").wait_for(timeout=30_000)
    photo, said = page.locator("#content-photo").bounding_box(), message.bounding_box()
    assert photo and said and 0 <= said["y"] - (photo["y"] + photo["height"]) < 60  # right under the photo
    assert said["width"] > 150  # a line, not a column of single words
    page.locator("#run").click()
    page.locator("#status").get_by_text("Not started: see the message under the photo").wait_for(timeout=30_000)
    assert "4000x16 pixels" in message.inner_text() and page.locator("#run-message").inner_text().strip() == ""
    assert page.locator("#result img").count() == 0 and page.locator("#download a").count() == 0  # nothing stale
    run = page.locator("#run").bounding_box()
    assert run and run["height"] < 60  # Run keeps its shape
    assert _serious(page) == []  # after an error
    page.locator("#style-image button[aria-label^='Remove']").first.click()
    _upload(page, "content-photo", EXAMPLES / "chelsea.jpg")
    page.locator("#run").click()
    page.locator("#style-message").get_by_text('The "Style image" box is empty').wait_for(timeout=30_000)


@pytest.mark.slow
def test_stop_says_where_and_leaves_that_image(browser, url: str) -> None:
    page = _open(browser, url)
    _example(page)
    _set(page, "iterations", 1500)
    page.locator("#run").click()
    page.locator("#status").get_by_text(re.compile(r"Running: step [1-9]")).wait_for(timeout=60_000)
    page.wait_for_timeout(1500)
    page.locator("#stop").click()
    stopped = page.locator("#status").get_by_text(re.compile(r"Stopped at step \d+ of 1500"))
    stopped.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # a preview already on its way may still land; the status must stay
    text = page.locator("#status").inner_text()
    match = re.search(r"Stopped at step (\d+) of 1500\. The image", text)
    assert match, text
    step = int(match.group(1))
    assert page.locator("#result img").count() == 2  # the image stays on the page
    link = page.locator("#download a").first
    href = link.get_attribute("href")
    assert href and f"step{step}" in href, (href, step)
    assert "Download the picture" in (link.get_attribute("aria-label") or "")
    with urllib.request.urlopen(href if href.startswith("http") else url.rstrip("/") + href, timeout=30) as r:
        data = r.read()
    path = ARTIFACTS / "stopped.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    with Image.open(path) as png:
        config = json.loads(png.info["stylecore:config"])
    assert config["iterations"] == 1500 and config["size"] == 80
    assert page.locator("#run").is_enabled()


@pytest.mark.slow
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE])
def test_the_offline_page_says_one_sentence_and_run_is_off(browser, offline_url: str, viewport) -> None:
    page = browser.new_page(viewport=viewport)
    page.goto(offline_url)
    page.locator("#run").wait_for()
    notice = page.locator("#notice").inner_text().strip()
    assert notice.count(".") == 1 and "/root" not in notice and "STYLECORE" not in notice, notice
    assert not page.locator("#run").is_enabled() and _on_first_screen(page, "#run")
    assert "Run is off" in page.locator("#run-message").inner_text()
    details = page.locator("#offline-details")
    assert not details.get_by_text("STYLECORE_WEIGHTS").is_visible()  # folded
    details.get_by_text("Details for whoever runs this server").click()
    details.get_by_text("STYLECORE_WEIGHTS").wait_for()
    assert _serious(page) == []


@pytest.mark.slow
def test_the_iterations_maximum_follows_the_size(browser, app, url: str, monkeypatch) -> None:
    small = dataclasses.replace(app.hardware, max_work=100 * 64 * 64)  # 100 steps at 64 px, 64 at 80 px
    monkeypatch.setattr(app, "hardware", small)
    page = _open(browser, url)
    box = page.locator("#iterations input[type=number]")
    page.wait_for_function("() => document.querySelector('#iterations input[type=range]').max === '64'")
    _set(page, "size", 64)
    page.wait_for_function("() => document.querySelector('#iterations input[type=range]').max === '100'")
    assert box.get_attribute("max") in (None, "100")


@pytest.mark.slow
def test_paint_where_the_second_style_goes(browser, app, url: str, monkeypatch) -> None:
    seen = []
    from demo import inputs

    real = inputs.read_region

    def spy(upload, painted):
        mask = real(upload, painted=painted)
        seen.append((painted, None if mask is None else float(mask.mean())))
        return mask

    monkeypatch.setattr(inputs, "read_region", spy)
    page = _open(browser, url, {"width": 1400, "height": 1400})
    _upload(page, "content-photo", EXAMPLES / "chelsea.jpg")
    _upload(page, "style-image", EXAMPLES / "strokes.png")
    page.get_by_text("More settings").click()
    page.get_by_text("A second style: blend it, or paint where it goes").click()
    _upload(page, "style2-image", EXAMPLES / "hubble.jpg")
    canvas = page.locator("#painted canvas").first
    canvas.wait_for()
    page.wait_for_timeout(1000)  # the editor draws the photo as its background
    canvas.scroll_into_view_if_needed()  # the mouse draws only where the window shows
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] * 0.35, box["y"] + box["height"] * 0.2  # on the photo, not its margin
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(20):
        page.mouse.move(x + k * 5, y + k * 8)
    page.mouse.up()
    page.wait_for_timeout(1500)  # the editor sends its layer
    _set(page, "iterations", 4)
    page.locator("#run").click()
    page.locator("#status").get_by_text("Done: step 4 / 4").wait_for(timeout=120_000)
    painted = [share for was_painted, share in seen if was_painted]
    assert painted and painted[0] is not None and 0 < painted[0] < 0.5  # the strokes, not the whole photo
