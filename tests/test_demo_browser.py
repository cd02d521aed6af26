"""A real browser (Debian's chromium, driven by Playwright) runs the app once.

Skipped where chromium or Playwright is missing, except in CI, where .ci/run
installs both and a missing browser is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from .conftest import EXAMPLES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = Path(__file__).resolve().parent.parent / "artifacts" / "demo_screenshot.png"


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


@pytest.mark.slow
def test_upload_run_and_see_the_result(browser, url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(url)
    uploads = page.locator("input[type=file]")
    uploads.nth(0).set_input_files(str(EXAMPLES / "chelsea.jpg"))
    uploads.nth(1).set_input_files(str(EXAMPLES / "strokes.png"))
    page.locator("#iterations input[type=number]").fill("8")
    page.locator("#iterations input[type=number]").press("Enter")
    page.locator("#size input[type=number]").fill("128")
    page.locator("#size input[type=number]").press("Enter")
    page.locator("#run").click()
    page.get_by_text("Done: step 8 / 8").wait_for(timeout=120_000)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    result = page.locator("#result img")
    assert result.count() == 2 and all(result.nth(i).get_attribute("src") for i in range(2))  # before, after
    legend = page.locator("#loss-legend").inner_text()
    for term in ("content", "style", "total variation", "total"):  # the legend names every line
        assert term in legend, legend
    assert "stylecore-chelsea-strokes" in page.locator("#download").inner_text()  # Gradio splits off ".png"
    assert SCREENSHOT.stat().st_size > 10_000


@pytest.mark.slow
def test_paint_where_the_second_style_goes(browser, app, url: str, monkeypatch) -> None:
    seen = []
    real = app.service.read_region

    def spy(upload, painted):
        mask = real(upload, painted=painted)
        seen.append((painted, None if mask is None else float(mask.mean())))
        return mask

    monkeypatch.setattr(app.service, "read_region", spy)
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(url)
    uploads = page.locator("input[type=file]")
    uploads.nth(0).set_input_files(str(EXAMPLES / "chelsea.jpg"))
    uploads.nth(1).set_input_files(str(EXAMPLES / "strokes.png"))
    page.get_by_text("A second style: blend it, or paint where it goes").click()
    page.locator("input[type=file]").nth(2).set_input_files(str(EXAMPLES / "hubble.jpg"))
    canvas = page.locator("canvas").first
    canvas.wait_for()
    page.wait_for_timeout(1000)  # the editor draws the photo as its background
    box = canvas.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] * 0.2, box["y"] + box["height"] * 0.2
    page.mouse.move(x, y)
    page.mouse.down()
    for k in range(20):
        page.mouse.move(x + k * 5, y + k * 8)
    page.mouse.up()
    page.locator("#iterations input[type=number]").fill("4")
    page.locator("#iterations input[type=number]").press("Enter")
    page.locator("#run").click()
    page.get_by_text("Done: step 4 / 4").wait_for(timeout=120_000)
    painted = [share for was_painted, share in seen if was_painted]
    assert painted and painted[0] is not None and 0 < painted[0] < 0.5  # the strokes, not the whole photo
