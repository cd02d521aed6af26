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
from .test_demo import app, url  # noqa: F401 - shared fixtures: one server per module

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
def test_upload_run_and_see_the_result(browser, url: str) -> None:  # noqa: F811
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
    result = page.locator("#result img")
    assert result.count() == 1 and result.get_attribute("src")
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 10_000
