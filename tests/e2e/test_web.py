"""The workbench in a real headless Chromium (Debian's chromium and chromium-driver, driven by
selenium) against a real server on 127.0.0.1 and a SQLite store: a biller signs in, opens the
month, sees a progress bar with its pace, sends a billable claim and sees it accepted,
downloads the month's 837P, sends the same codes from a page drawn before (after the consent
was revoked) and sees the refusal with both its reasons, and signs out; a wrong key and a
recorder are refused in words."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from adapters.keys import Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from domain import facts as f
from tests.e2e.test_http import serve
from tests.factories import demographics, enrolled, minutes, practice

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {DRIVER})", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By as By  # noqa: E402  # shared with the other browser tests
from selenium.webdriver.remote.webdriver import WebDriver as WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

MONTH = "2026-03"
WAIT = 15  # seconds for any one thing to appear


@dataclass
class Site:
    base: str
    keys: dict[str, str]
    url: str  # the store, for facts a test records behind the page's back


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """P1 billable (45 CCM minutes: 99490 and 99439), P2 a near miss (15 of 20 minutes); the
    practice registered, so the month's 837P can be made."""
    url = f"sqlite:///{tmp_path_factory.mktemp('web') / 'ledger.db'}"
    ledger = open_ledger(url)
    for fact in [practice(), *enrolled("P1"), demographics("P1"), *minutes(45), *enrolled("P2"),
                 *minutes(15, "P2", day=3)]:  # fmt: skip
        ledger.record(fact)
    keys = Keys(open_views(ledger, url))
    tokens = {role: keys.add(f"e2e-{role}", role)[1] for role in ("biller", "recorder")}
    proc, base = serve(url, logs=False)  # `carelane serve`, on a free loopback port
    try:
        yield Site(base, tokens, url)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                 "--window-size=1280,1000", "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=DriverService(DRIVER))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()


def downloads_to(driver: WebDriver, folder: Path) -> Path:
    """Files the page sends as attachments land in `folder` (headless Chromium asks nobody)."""
    folder.mkdir(parents=True, exist_ok=True)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    return folder


def downloaded(folder: Path, suffix: str) -> tuple[str, bytes]:
    """The name and bytes of the one finished download ending in `suffix`."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.name.endswith(suffix)]
        if done and not [p for p in folder.iterdir() if p.name.endswith(".crdownload")]:
            assert len(done) == 1, done
            return done[0].name, done[0].read_bytes()
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} file was downloaded to {folder}: {sorted(p.name for p in folder.iterdir())}")


def wait_for(driver: WebDriver, css: str, text: str = "") -> str:
    """The element's text once it is there (and holds `text`)."""
    locator = (By.CSS_SELECTOR, css)
    if text:
        WebDriverWait(driver, WAIT).until(ec.text_to_be_present_in_element(locator, text))
    else:
        WebDriverWait(driver, WAIT).until(ec.presence_of_element_located(locator))
    return str(driver.find_element(*locator).text)


def sign_in(driver: WebDriver, site: Site, key: str) -> None:
    driver.delete_all_cookies()
    driver.get(site.base + "/app/login")
    driver.find_element(By.ID, "key").send_keys(key)
    driver.find_element(By.CSS_SELECTOR, "form.login button[type=submit]").click()


def test_a_biller_claims_from_the_month_and_meets_the_gate(site: Site, browser: WebDriver, tmp_path: Path) -> None:
    sign_in(browser, site, site.keys["biller"])
    wait_for(browser, "header .who", "e2e-biller (biller)")
    browser.get(f"{site.base}/app/month?month={MONTH}")
    assert "Biller's month: 2026-03" in wait_for(browser, "h1")
    bar = browser.find_element(By.CSS_SELECTOR, "#row-P2 progress")
    assert (bar.get_attribute("value"), bar.get_attribute("max")) == ("15", "20") and bar.is_displayed()
    assert "CCM 99490: 15 of 20 minutes" in browser.find_element(By.CSS_SELECTOR, "#row-P2 .bar").text
    pace = browser.find_element(By.CSS_SELECTOR, "#row-P2 .pace").text  # March is over: no day is left in it
    assert "missed: the period is over" in pace or "will" in pace, pace
    assert browser.find_element(By.CSS_SELECTOR, "#row-P2 .badge").text == "near miss"
    loaded = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert loaded and all(name.startswith(site.base + "/app/static/") for name in loaded), loaded
    assert browser.execute_script("return typeof htmx") == "object"
    browser.save_screenshot(str(tmp_path / "month.png"))

    first = browser.current_window_handle
    browser.switch_to.new_window("tab")  # the same page drawn now: its form names another claim id
    browser.get(f"{site.base}/app/month?month={MONTH}")
    wait_for(browser, "#row-P1 form.claim button")
    browser.switch_to.window(first)

    browser.execute_script("window.stayed = true")  # survives only if htmx swaps the row in place
    browser.find_element(By.CSS_SELECTOR, "#row-P1 form.claim button").click()
    accepted = wait_for(browser, "#row-P1 .answer-accepted", "Accepted")
    assert "(99490, 99439) is recorded" in accepted
    assert browser.execute_script("return window.stayed") is True
    assert browser.find_element(By.CSS_SELECTOR, "#row-P1 .badge").text == "claimed"
    assert not browser.find_elements(By.CSS_SELECTOR, "#row-P1 form.claim")

    folder = downloads_to(browser, tmp_path / "downloads")
    browser.find_element(By.ID, "export-837").click()  # a test file (ISA15 T), the default
    name, x12 = downloaded(folder, ".x12")
    assert name == f"837P-{MONTH}-B000000001-test.x12" and x12.startswith(b"ISA*") and b"*0*T*:" in x12
    assert b"CLM*" in x12 and b"*116" in x12  # the claim just accepted, 99490 and 99439

    # Behind the page's back, P1's consent is revoked as of February: the stale form meets it.
    open_ledger(site.url).record(f.ConsentRevoked(patient_id="P1", program=f.Program.CCM, revoked_on=date(2026, 2, 10)))
    browser.switch_to.window(browser.window_handles[-1])
    browser.find_element(By.CSS_SELECTOR, "#row-P1 form.claim button").click()
    refused = wait_for(browser, "#row-P1 .answer-refused", "DUPLICATE_CLAIM")
    assert "Refused:" in refused and "(99490, 99439) was not recorded" in refused
    codes = {e.text for e in browser.find_elements(By.CSS_SELECTOR, "#row-P1 .answer-refused ul.reasons code")}
    assert {"DUPLICATE_CLAIM", "CONSENT_REVOKED"} <= codes, refused
    browser.save_screenshot(str(tmp_path / "duplicate.png"))
    browser.close()
    browser.switch_to.window(first)

    browser.find_element(By.ID, "sign-out").click()
    assert "You are signed out." in wait_for(browser, "main .notice", "signed out")
    browser.get(f"{site.base}/app/month?month={MONTH}")
    assert browser.current_url == site.base + "/app/login" and browser.find_element(By.ID, "key")


def test_a_wrong_key_and_a_recorder_are_refused_in_words(site: Site, browser: WebDriver) -> None:
    sign_in(browser, site, "cl_wrong_key")
    assert "That key was not accepted" in wait_for(browser, "#login-error")
    sign_in(browser, site, site.keys["recorder"])
    wait_for(browser, "header .who", "e2e-recorder (recorder)")
    browser.get(f"{site.base}/app/month?month={MONTH}")
    assert "Your role, recorder, may not see this page: it needs biller." in wait_for(browser, "main .notice")
    assert browser.find_element(By.CSS_SELECTOR, "h1").text == "Not allowed"
