"""The compliance dashboard and the auditor's timeline on the app `carelane serve` runs (a real
SQLite store whose facts were recorded at chosen instants, Litestar's TestClient): who may see
each page, refusals counted by reason as the gate gave them, verify run with and without the
form's token, and a timeline that marks a late fact and replays the record as of an instant."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from adapters.access import AccessLog
from adapters.http import create_app
from adapters.keys import ROLES, Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from domain import facts as f
from domain.reasons import Refused
from tests.conftest import Clock
from tests.factories import EST, OTHER_NPI, claim, enrolled, minutes, time_entry

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
LATE = "LATE-1"  # 20 minutes on 5 March, recorded on 15 April


def app_for(url: str) -> Litestar:
    """`carelane serve`'s app: the API with the workbench."""
    return create_app(url)


@dataclass
class Bench:
    url: str
    keys: dict[str, str]
    refused: Counter[str]  # reason code -> refusals giving it, as the ledger answered


def plant(url: str) -> Counter[str]:
    """P1 claimed (45 minutes) then claimed again by another practitioner (refused, double
    billing); P2 claimed short of its minutes (refused); P3 claimed and then left unsupported
    by a void; P1's late entry recorded on 15 April."""
    clock = Clock(datetime(2026, 3, 2, 20, 0, tzinfo=UTC))
    ledger = open_ledger(url, clock=clock)
    for fact in [*enrolled("P1"), *minutes(45), *enrolled("P2"), *minutes(15, "P2", staff="RN-2"), *enrolled("P3"),
                 *minutes(25, "P3", staff="RN-3")]:  # fmt: skip
        ledger.record(fact)
    clock.now = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)
    ledger.record(claim("C1", codes=("99490", "99439")))
    ledger.record(claim("C4", "P3"))
    refused: Counter[str] = Counter()
    for attempt in (claim("C2", billing_provider_npi=OTHER_NPI), claim("C3", "P2")):
        with pytest.raises(Refused) as e:
            ledger.record(attempt)
        refused.update({c.value for c in e.value.codes})
    clock.now = datetime(2026, 4, 2, 12, 0, tzinfo=UTC)
    ledger.record(f.TimeEntryVoided(entry_id="T-P3-CCM-2026-03-RN-3-2-0", patient_id="P3", reason="wrong patient",
                                    by="RN-1"))  # fmt: skip
    clock.now = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)
    ledger.record(time_entry(LATE, "P1", at=datetime(2026, 3, 5, 10, 0, tzinfo=EST)))
    return refused


@pytest.fixture
def bench(sqlite_url: str) -> Bench:
    refused = plant(sqlite_url)
    keys = Keys(open_views(open_ledger(sqlite_url), sqlite_url))
    return Bench(sqlite_url, {role: keys.add(f"pages-{role}", role)[1] for role in ROLES}, refused)


@pytest.fixture
def client(bench: Bench) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with TestClient(app=app_for(bench.url), base_url="http://testserver.local") as c:
        yield c


def sign_in(client: TestClient, key: str) -> None:  # type: ignore[type-arg]
    client.cookies.clear()
    form = client.get("/app/login")
    token = TOKEN.search(form.text)
    assert token is not None
    answer = client.post("/app/login", data={"key": key, "csrf_token": token.group(1)}, follow_redirects=False)
    assert answer.status_code == 303


def token(page: httpx.Response) -> str:
    found = TOKEN.search(page.text)
    assert found is not None, "the page has no form token"
    return found.group(1)


def timeline_rows(page: httpx.Response) -> dict[str, str]:
    """Entry id -> the row's marks, for the time entries on the timeline."""
    out = {}
    for flags, body in re.findall(r'<tr id="fact-\d+"[^>]*data-flags="([^"]*)">(.*?)</tr>', page.text, re.S):
        found = re.search(r"entry id: ([\w-]+)", body)
        if found and "TimeLogged" in body:
            out[found.group(1)] = flags
    return out


def test_a_biller_is_refused_both_pages(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["biller"])
    for path, needs in (("/app/compliance", "compliance"), ("/app/audit?patient=P1", "auditor or compliance")):
        refused = client.get(path)
        assert refused.status_code == 403, path
        assert f"Your role, biller, may not see this page: it needs {needs}." in refused.text
        shown = TOKEN.sub("", refused.text).replace("patient=P1", "")  # a random token may hold "P1"
        assert "P1" not in shown
    csrf = token(client.get("/app/month?month=2026-03"))
    assert client.post("/app/compliance/verify", data={"csrf_token": csrf}).status_code == 403
    sign_in(client, bench.keys["auditor"])
    assert client.get("/app/compliance").status_code == 403
    assert client.get("/app/audit").status_code == 200


def test_the_dashboard_counts_refusals_by_reason(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    assert bench.refused["DUPLICATE_CLAIM"] == 1 and bench.refused["PROVIDER_CONFLICT"] == 1
    sign_in(client, bench.keys["compliance"])
    page = client.get("/app/compliance?through=2026-03")
    assert page.status_code == 200 and "Compliance: refusals" in page.text
    bars = dict(re.findall(r'data-reason="([A-Z_]+)" data-count="(\d+)"', page.text))
    assert {k: int(v) for k, v in bars.items()} == dict(bench.refused)
    assert re.search(r'class="reason-bar double" data-reason="DUPLICATE_CLAIM"', page.text)
    assert not re.search(r'class="reason-bar double" data-reason="UNDER_THRESHOLD"', page.text)
    assert 'data-month="2026-03" data-total="2" data-double="1"' in page.text
    assert re.search(r"2 refused claims\s+for", page.text) and "1 attempted double billing" in page.text
    attempts = page.text.split('id="attempts"')[1].split("</table>")[0]
    assert "C2" in attempts and "C3" not in attempts and "<mark>DUPLICATE_CLAIM</mark>" in attempts
    unsupported = page.text.split('id="unsupported-claims"')[1].split("</table>")[0]
    assert "C4" in unsupported and "not paid: nothing to return" in unsupported and "C1" not in unsupported
    late = page.text.split('id="late-facts"')[1].split("</table>")[0]
    assert "TimeLogged" in late and "2026-04-15" in late
    by_program = client.get("/app/compliance?through=2026-03&program=RPM")
    assert 'data-reason="DUPLICATE_CLAIM"' not in by_program.text and "0 refused claims" in by_program.text
    by_npi = client.get(f"/app/compliance?through=2026-03&provider={OTHER_NPI}")
    assert "UNDER_THRESHOLD" not in re.findall(r'data-reason="([A-Z_]+)"', by_npi.text)
    assert re.search(r"1 refused claim\s+for", by_npi.text)
    assert client.get("/app/compliance?through=2026-15").status_code == 400
    reads = AccessLog(open_views(open_ledger(bench.url), bench.url)).of("P2")
    assert "GET /app/compliance" in {r.route for r in reads}


def test_verify_says_intact_and_needs_the_form_token(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["compliance"])
    csrf = token(client.get("/app/compliance"))
    for sent in ({}, {"csrf_token": "forged"}):
        refused = client.post("/app/compliance/verify", data=sent, follow_redirects=False)
        assert refused.status_code == 403 and "This form has expired" in refused.text
    fragment = client.post("/app/compliance/verify", data={"csrf_token": csrf}, headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith('<div id="verify-result"')
    assert "<strong>Intact.</strong>" in fragment.text
    digest = re.search(r'Last digest: position (\d+), sha256 <code class="digest">([0-9a-f]{64})</code>', fragment.text)
    assert digest is not None and int(digest.group(1)) > 0
    sent = {"csrf_token": csrf, "through": "2026-03"}
    plain = client.post("/app/compliance/verify", data=sent, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/app/compliance?through=2026-03#verify"
    assert "<strong>Intact.</strong>" in client.get("/app/compliance?through=2026-03").text
    assert "<strong>Intact.</strong>" not in client.get("/app/compliance?through=2026-03").text  # shown once


def test_the_timeline_marks_a_late_fact_and_replays_as_of(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["auditor"])
    page = client.get("/app/audit?patient=P1&from=2026-03&to=2026-03")
    assert page.status_code == 200
    rows = timeline_rows(page)
    assert "late" in rows[LATE].split("|") and rows["T-P1-CCM-2026-03-RN-1-2-0"] == ""
    assert "Recorded" in page.text and "2026-04-15 08:00:00 EDT" in page.text  # recorded_at in the practice's zone
    assert 'id="claim-C1"' in page.text and "Time entries (3)" in page.text  # C1's evidence: its three entries
    before = client.get("/app/audit?patient=P1&from=2026-03&to=2026-03&as_of=2026-04-01T00:00")
    assert before.status_code == 200 and "2026-04-01 00:00:00 EDT" in before.text
    replayed = timeline_rows(before)
    assert LATE not in replayed and "T-P1-CCM-2026-03-RN-1-2-0" in replayed
    early = client.get("/app/audit?patient=P1&from=2026-03&to=2026-03&as_of=2026-03-15T09:30:00")
    assert 'id="claim-C1"' not in early.text and "No claim in these months as of this instant." in early.text
    missing = client.get("/app/audit?patient=P9&from=2026-03&to=2026-03")
    assert missing.status_code == 404 and "No patient with that id" in missing.text
    for query in ("as_of=yesterday", "from=2026-04&to=2026-03", "from=2024-01&to=2026-03"):
        bad = client.get(f"/app/audit?patient=P1&{query}")
        assert bad.status_code == 400 and "^" not in bad.text
    reads = AccessLog(open_views(open_ledger(bench.url), bench.url)).of("P1")
    assert "GET /app/audit" in {r.route for r in reads}
    assert "GET /app/audit" not in {r.route for r in AccessLog(open_views(open_ledger(bench.url), bench.url)).of("P9")}


def test_the_timeline_escapes_what_it_shows(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    ledger = open_ledger(bench.url, clock=Clock(datetime(2026, 3, 20, 12, 0, tzinfo=UTC)))
    for fact in enrolled("<b>P4</b>"):
        ledger.record(fact)
    sign_in(client, bench.keys["compliance"])
    page = client.get("/app/audit", params={"patient": "<b>P4</b>", "from": "2026-03", "to": "2026-03"})
    assert page.status_code == 200 and "&lt;b&gt;P4&lt;/b&gt;" in page.text and "<b>P4</b>" not in page.text
