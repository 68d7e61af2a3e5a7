"""Every workbench page in headless Chromium, as each role sees it: at 1280 and at 800 pixels
wide the page scrolls only down (wide tables scroll in their own box), a screenshot of each is
kept, and axe-core's automated accessibility check finds no serious or critical violation.
axe.min.js is the copy axe-selenium-python ships (PyPI), injected through WebDriver: nothing is
loaded from outside the server. The keyboard alone reaches the skip link and a claim's button,
and the focus is drawn.

Screenshots go to the test's temporary folder, and also to $CARELANE_SCREENSHOTS when it is set
(for CI artifacts and the README)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_web import (
    By,
    WebDriver,
    browser as browser,  # the headless Chromium fixture, shared
    wait_for,
)
from tests.e2e.test_web_pages import (
    Site,
    fits,
    sign_in,
    site as site,  # the planted store with a key per role, shared
)

axe_selenium = pytest.importorskip("axe_selenium_python", reason="needs axe-selenium-python (a dev dependency)")
from selenium.webdriver.common.keys import Keys as Key  # noqa: E402

BLOCKING = ("serious", "critical")
# (role, path, the page's heading, the screenshot's name); None: signed out.
PAGES = [
    (None, "/app/login", "Sign in", "login"),
    ("biller", "/app/month?month=2026-03", "Biller's month: 2026-03", "month"),
    ("biller", "/app/reports?through=2026-04&months=3", "Reports: revenue by month", "reports"),
    ("compliance", "/app/compliance?through=2026-03", "Compliance: refusals", "compliance"),
    ("auditor", "/app/audit", "Auditor: a patient's record", "audit-picker"),
    ("auditor", "/app/audit?patient=P1&from=2026-03&to=2026-03", "Auditor: a patient's record, P1", "timeline"),
    ("recorder", "/app", "Carelane", "home"),
    ("recorder", "/app/month?month=2026-03", "Not allowed", "refused"),
]


def axe_violations(driver: WebDriver) -> list[dict[str, Any]]:
    """axe-core's violations on the page as it is now, the serious and critical ones."""
    axe = axe_selenium.Axe(driver)
    axe.inject()
    found = axe.run()
    assert found["passes"], "axe checked nothing"  # the check ran on this page
    return [v for v in found["violations"] if v.get("impact") in BLOCKING]


def keep(driver: WebDriver, folder: Path, name: str, width: int) -> None:
    """The whole page (up to 4000 pixels tall) at this width, from its top."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(width, min(max(height, 1000), 4000))
    driver.execute_script("window.scrollTo(0, 0)")
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(width, 1000)
    extra = os.environ.get("CARELANE_SCREENSHOTS")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(extra) / path.name)


@pytest.mark.parametrize(("role", "path", "heading", "name"), PAGES, ids=[p[3] for p in PAGES])
def test_each_page_fits_both_widths_and_passes_axe(
    site: Site, browser: WebDriver, tmp_path: Path, role: str | None, path: str, heading: str, name: str
) -> None:
    base, keys = site
    if role is None:
        browser.delete_all_cookies()
    else:
        sign_in(browser, base, keys[role], f"e2e-{role} ({role})")
    browser.get(base + path)
    assert heading in wait_for(browser, "h1")
    for width in (1280, 800):
        assert fits(browser, width), f"{name} scrolls sideways at {width} pixels"
        keep(browser, tmp_path, f"{name}-{width}", width)
        blocking = axe_violations(browser)
        report = json.dumps([{k: v[k] for k in ("id", "impact", "help")} | {"nodes": [n["target"] for n in v["nodes"]]}
                             for v in blocking], indent=1)  # fmt: skip
        assert not blocking, f"{name} at {width} pixels: {report}"
    browser.set_window_size(1280, 1000)


def test_the_keyboard_reaches_the_skip_link_and_a_claim(site: Site, browser: WebDriver) -> None:
    """Tab first focuses "Skip to content", which takes the focus into the page; further tabs
    reach P5's claim button, the focus drawn with an outline."""
    base, keys = site
    sign_in(browser, base, keys["biller"], "e2e-biller (biller)")
    browser.get(base + "/app/month?month=2026-03")
    wait_for(browser, "#row-P5 form.claim button")
    body = browser.find_element(By.TAG_NAME, "body")
    body.send_keys(Key.TAB)
    skip = browser.switch_to.active_element
    assert skip.text == "Skip to content" and skip.is_displayed()
    skip.send_keys(Key.ENTER)
    target = browser.find_element(By.CSS_SELECTOR, "#row-P5 form.claim button")
    for _ in range(80):
        focused = browser.switch_to.active_element
        if focused == target:
            break
        focused.send_keys(Key.TAB)
    assert browser.switch_to.active_element == target, "Tab never reached P5's claim button"
    outline = browser.execute_script("return getComputedStyle(arguments[0]).outlineWidth", target)
    assert outline not in ("", "0px"), outline
