"""The compliance dashboard and the auditor's timeline in a real headless Chromium (Debian's
chromium and chromium-driver, driven by selenium) against a real server on 127.0.0.1 and a
SQLite store planted as the integration tests plant it: a compliance officer sees the refusal
chart with the double billing picked out and runs verify; an auditor opens a patient's
timeline, moves the "as of" back, and sees the late fact disappear."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.keys import Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from tests.integration.test_web_pages import LATE, plant

CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
    pytest.skip(f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {DRIVER})", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="needs selenium (pip install selenium)")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service as DriverService  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webdriver import WebDriver  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

WAIT = 15  # seconds for any one thing to appear
# `carelane serve`'s app with these pages: the same as the command once adapters.http lists them.
LAUNCH = (
    "import sys, uvicorn\n"
    "from adapters.http import create_app\n"
    "from adapters.http_timeouts import HeaderTimeoutProtocol\n"
    "from adapters.web.auditor import AUDITOR\n"
    "from adapters.web.compliance import COMPLIANCE\n"
    "from adapters.web.mount import mounted\n"
    "app = mounted(create_app(sys.argv[1]))\n"
    "for router, path in ((COMPLIANCE, '/app/compliance'), (AUDITOR, '/app/audit')):\n"
    "    if path not in app.route_handler_method_map:\n"
    "        app.register(router)\n"
    "uvicorn.run(app, host='127.0.0.1', port=int(sys.argv[2]), log_level='warning', http=HeaderTimeoutProtocol)\n"
)


Site = tuple[str, dict[str, str]]  # the server's address, and a key per role


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    url = f"sqlite:///{tmp_path_factory.mktemp('pages') / 'ledger.db'}"
    plant(url)
    keys = Keys(open_views(open_ledger(url), url))
    tokens = {role: keys.add(f"e2e-{role}", role)[1] for role in ("compliance", "auditor")}
    port = _free_port()
    env = os.environ | {"CARELANE_DB": url, "PYTHONPATH": str(Path(__file__).parents[2])}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, url, str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not answer /health within 30 seconds")
        yield base, tokens
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
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver: WebDriver, css: str, text: str = "") -> str:
    locator = (By.CSS_SELECTOR, css)
    if text:
        WebDriverWait(driver, WAIT).until(ec.text_to_be_present_in_element(locator, text))
    else:
        WebDriverWait(driver, WAIT).until(ec.presence_of_element_located(locator))
    return str(driver.find_element(*locator).text)


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
    before = len(entries(browser))
    browser.execute_script("document.getElementById('as_of').value = '2026-04-01T00:00:00';")
    browser.find_element(By.ID, "show-timeline").click()
    assert "2026-04-01 00:00:00" in wait_for(browser, "#packet-as-of", "2026-04-01")
    after = entries(browser)
    assert len(after) == before - 1 and not [text for text in after if f"entry id: {LATE}" in text]
    browser.save_screenshot(str(tmp_path / "timeline-as-of.png"))
