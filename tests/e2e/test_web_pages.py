"""The compliance dashboard and the auditor's timeline in a real headless Chromium (Debian's
chromium and chromium-driver, driven by selenium) against a real server on 127.0.0.1 and a
SQLite store planted as the integration tests plant it: a compliance officer sees the refusal
chart with the double billing picked out and runs verify; an auditor opens a patient's
timeline, downloads the claim's ADR binder (a PDF holding the claim and the digest the page
shows), moves the "as of" back, and sees the late fact disappear."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.keys import ROLES, Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from tests.e2e.test_http import serve
from tests.e2e.test_web import (
    By,
    WebDriver,
    browser as browser,  # the headless Chromium fixture, shared
    downloaded,
    downloads_to,
    wait_for,
)
from tests.factories import enrolled, minutes, practice
from tests.integration.test_web_pages import LATE, plant

Site = tuple[str, dict[str, str]]  # the server's address, and a key per role


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The planted store, the practice registered, and P5 billable (a claim button to reach)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'ledger.db'}"
    plant(url)
    ledger = open_ledger(url)
    for fact in (practice(), *enrolled("P5"), *minutes(25, "P5", staff="RN-5", day=6)):
        ledger.record(fact)
    keys = Keys(open_views(ledger, url))
    tokens = {role: keys.add(f"e2e-{role}", role)[1] for role in ROLES}
    proc, base = serve(url, logs=False)  # `carelane serve`, on a free loopback port
    try:
        yield base, tokens
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def sign_in(driver: WebDriver, base: str, key: str, who: str) -> None:
    driver.delete_all_cookies()
    driver.get(base + "/app/login")
    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()
    wait_for(driver, "header .who", who)


def fits(driver: WebDriver, width: int) -> bool:
    """At this window width the page scrolls only down (wide tables scroll in their own box)."""
    driver.set_window_size(width, 1000)
    return bool(driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"))


def entries(driver: WebDriver) -> list[str]:
    return [r.text for r in driver.find_elements(By.CSS_SELECTOR, "#timeline tr.fact")]


def test_compliance_sees_the_chart_and_runs_verify(site: Site, browser: WebDriver, tmp_path: Path) -> None:
    base, keys = site
    sign_in(browser, base, keys["compliance"], "e2e-compliance (compliance)")
    browser.get(base + "/app/compliance?through=2026-03")
    assert "Compliance" in wait_for(browser, "h1")
    chart = browser.find_element(By.ID, "reason-chart")
    assert chart.is_displayed() and chart.size["width"] > 300
    double = browser.find_element(By.CSS_SELECTOR, 'g.reason-bar[data-reason="DUPLICATE_CLAIM"]')
    assert double.get_attribute("data-count") == "1" and "double" in (double.get_attribute("class") or "")
    assert double.find_element(By.TAG_NAME, "rect").get_attribute("fill") == "#a11d1d"
    assert "C2" in browser.find_element(By.ID, "attempts").text
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(name.startswith(base + "/app/static/") for name in loaded), loaded
    assert fits(browser, 800) and fits(browser, 1280)
    browser.save_screenshot(str(tmp_path / "compliance.png"))
    browser.find_element(By.ID, "run-verify").click()
    result = wait_for(browser, "#verify-result", "Intact")
    assert re.search(r"Last digest: position \d+, sha256 [0-9a-f]{64}", result), result
    browser.save_screenshot(str(tmp_path / "verify.png"))


def test_an_auditor_replays_a_timeline_as_of_an_earlier_instant(site: Site, browser: WebDriver, tmp_path: Path) -> None:
    base, keys = site
    sign_in(browser, base, keys["auditor"], "e2e-auditor (auditor)")
    browser.get(base + "/app/audit")
    browser.find_element(By.ID, "patient").send_keys("P1")
    browser.execute_script("document.getElementById('from').value = '2026-03';"
                           "document.getElementById('to').value = '2026-03';")  # fmt: skip
    browser.find_element(By.ID, "show-timeline").click()
    wait_for(browser, "#timeline")
    late = [text for text in entries(browser) if f"entry id: {LATE}" in text]
    assert len(late) == 1 and "late" in late[0], entries(browser)
    assert browser.find_elements(By.CSS_SELECTOR, "#claim-C1")
    assert fits(browser, 800) and fits(browser, 1280)
    browser.save_screenshot(str(tmp_path / "timeline.png"))
    download_the_binder(browser, tmp_path)
    before = len(entries(browser))
    browser.execute_script("document.getElementById('as_of').value = '2026-04-01T00:00:00';")
    browser.find_element(By.ID, "show-timeline").click()
    assert "2026-04-01 00:00:00" in wait_for(browser, "#packet-as-of", "2026-04-01")
    after = entries(browser)
    assert len(after) == before - 1 and not [text for text in after if f"entry id: {LATE}" in text]
    browser.save_screenshot(str(tmp_path / "timeline-as-of.png"))


def download_the_binder(browser: WebDriver, tmp_path: Path) -> None:
    """The claim's ADR binder from its link: a PDF naming the claim, with the page's digest."""
    pypdf = pytest.importorskip("pypdf", reason="needs pypdf (a dev dependency) to read the binder's text")
    digest = browser.find_element(By.CSS_SELECTOR, ".packet code.digest").text
    folder = downloads_to(browser, tmp_path / "downloads")
    browser.find_element(By.ID, "binder-C1").click()
    name, pdf = downloaded(folder, ".pdf")
    assert name == "adr-binder-claim-C1.pdf" and pdf.startswith(b"%PDF-")
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Claim C1: 99490 x1, 99439 x1" in " ".join(text.split()) and digest in "".join(text.split())
    assert browser.find_element(By.ID, "binder-form").is_displayed()  # the page stayed where it was
