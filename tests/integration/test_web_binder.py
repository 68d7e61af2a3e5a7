"""The ADR binder (adapters.web.binder) on the app `carelane serve` runs, over the store the
page tests plant (C1 claimed for P1 in March, a late entry recorded on 15 April): a PDF whose
text holds the cover sheet with the 45-day deadline, the claim's evidence, the timeline and the
digest the packet carries; each download logged as a read of the patient's record; refused to
roles that may not see the auditor's pages; bad requests answered in words."""

from __future__ import annotations

import io
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from litestar.testing import TestClient

from adapters.access import AccessLog
from adapters.store import open_ledger
from adapters.viewdb import open_views
from projections import audit
from tests.factories import enrolled
from tests.integration.test_web_pages import (
    LATE,
    Bench,
    bench as bench,  # the planted store and a key per role, shared
    client as client,
    sign_in,
)

pypdf = pytest.importorskip("pypdf", reason="needs pypdf (a dev dependency) to read the binder's text")

BINDER = "/app/audit/binder.pdf"
ZONE = ZoneInfo("America/New_York")


def text_of(answer: httpx.Response) -> str:
    """The PDF's text, every run of whitespace made one space."""
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-type"] == "application/pdf" and answer.content.startswith(b"%PDF-")
    pages = pypdf.PdfReader(io.BytesIO(answer.content)).pages
    return " ".join(" ".join(page.extract_text() for page in pages).split())


def test_a_claims_binder_has_the_cover_the_evidence_and_the_packets_digest(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["auditor"])
    query = {"patient": "P1", "from": "2026-03", "to": "2026-03", "claim": "C1", "as_of": "2026-04-20T09:00",
             "requested": "2026-04-10"}  # fmt: skip
    answer = client.get(BINDER, params=query)
    assert answer.headers["content-disposition"] == 'attachment; filename="adr-binder-claim-C1.pdf"'
    assert answer.headers["cache-control"] == "no-store"
    text = text_of(answer)
    assert "Additional documentation for medical review" in text and "Claim C1: 99490 x1, 99439 x1" in text
    assert "45-day deadline." in text and "Answer due by 2026-05-25" in text  # the letter's date + 45 days
    assert "Test Family Medicine" not in text  # no practice registered: the cover says so
    assert "No practice is registered in the ledger" in text
    for table in ("Consent", "Initiating visit", "Care plan", "Conditions", "Time entries", "Facts the gate's verdict"):
        assert table in text, table
    assert "Minutes counted for CCM: 45" in text and "99439 x1 needs at least 40 minutes (2026 rules)" in text
    assert f"entry id: {LATE}" in text  # recorded by 20 April: on the timeline, marked
    instant = datetime(2026, 4, 20, 9, 0, tzinfo=ZONE)
    packet = audit.packet(open_ledger(bench.url), "P1", "2026-03", "2026-03", instant)
    squeezed = "".join(text.split())
    assert squeezed.count(packet.digest) >= 2  # on the cover and the integrity page
    assert "carelaneauditP1--from2026-03--to2026-03--as-of2026-04-20T09:00:00-04:00--formatjson" in squeezed
    reads = AccessLog(open_views(open_ledger(bench.url), bench.url)).of("P1")
    assert f"GET {BINDER}" in {r.route for r in reads}


def test_a_requests_binder_replays_as_of_and_leaves_out_what_came_later(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["compliance"])
    before = text_of(client.get(BINDER, params={"patient": "P1", "from": "2026-02", "to": "2026-03",
                                                "as_of": "2026-04-01T00:00"}))  # fmt: skip
    assert "Every claim for services from 2026-02 to 2026-03" in before and "C1" in before
    assert f"entry id: {LATE}" not in before  # recorded on 15 April
    assert "45 days after the date on the request letter" in before  # no letter date given
    early = text_of(client.get(BINDER, params={"patient": "P1", "to": "2026-03", "as_of": "2026-03-15T09:30"}))
    assert "No claim for these months was on record" in early and "Claim C1" not in early


def test_roles_that_may_not_see_the_auditors_pages_get_no_binder(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    for role in ("biller", "recorder"):
        sign_in(client, bench.keys[role])
        refused = client.get(BINDER, params={"patient": "P1", "to": "2026-03"})
        assert refused.status_code == 403 and "application/pdf" not in refused.headers["content-type"]
        assert f"Your role, {role}, may not see this page: it needs auditor or compliance." in refused.text
    client.cookies.clear()
    assert client.get(BINDER, params={"patient": "P1"}, follow_redirects=False).headers["location"] == "/app/login"
    reads = AccessLog(open_views(open_ledger(bench.url), bench.url)).of("P1")
    assert f"GET {BINDER}" not in {r.route for r in reads}


def test_bad_requests_are_answered_in_words_and_log_no_read(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["auditor"])
    for params, said in [({"patient": ""}, "patient: give a patient id"),
                         ({"patient": "P1", "requested": "20 April"}, "request dated: expected a date"),
                         ({"patient": "P1", "requested": "2026-02-30"}, "request dated: expected a date"),
                         ({"patient": "P1", "from": "2026-04", "to": "2026-03"}, "to: before from")]:  # fmt: skip
        answer = client.get(BINDER, params=params)
        assert answer.status_code == 400 and said in answer.text and "^" not in answer.text, params
    missing = client.get(BINDER, params={"patient": "P9", "to": "2026-03"})
    assert missing.status_code == 404 and "No patient with that id" in missing.text and "P9" not in missing.text
    no_claim = client.get(BINDER, params={"patient": "P1", "to": "2026-03", "claim": "C2"})  # C2 was refused
    assert no_claim.status_code == 404 and "No claim in these months with that id" in no_claim.text
    log = AccessLog(open_views(open_ledger(bench.url), bench.url))
    assert f"GET {BINDER}" not in {r.route for r in log.of("P9")}


def test_the_binder_escapes_what_it_shows(bench: Bench, client: TestClient) -> None:  # type: ignore[type-arg]
    """A patient id with markup is printed as it is, not read as markup (nor fetched)."""
    ledger = open_ledger(bench.url)
    odd = '<b>P4</b><img src="http://127.0.0.1:9/x">'
    for fact in enrolled(odd):
        ledger.record(fact)
    sign_in(client, bench.keys["auditor"])
    text = text_of(client.get(BINDER, params={"patient": odd, "to": "2026-03"}))
    assert "<b>P4</b>" in "".join(text.split())
