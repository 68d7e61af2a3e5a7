"""The gate's refusals and withdrawn support as compliance reads them: the refusal log view
(real SQLite: the views live there)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from adapters import x12
from adapters.reads import refusals, worklist
from adapters.viewdb import open_views
from domain import facts as f
from domain.ledger import Ledger
from projections.audit import packet
from tests.conftest import Clock
from tests.factories import EST, OTHER_NPI, Book, claim, enrolled, minutes


@pytest.fixture
def book(sqlite_ledger: Ledger) -> Book:
    b = Book(sqlite_ledger)
    b.add(enrolled("P1"))
    return b


def test_g14_a_second_practitioner_gets_every_reason(book: Book, sqlite_url: str) -> None:
    """G-14, G-07, G-08: a second practitioner's 99490 for a month already billed is refused
    PROVIDER_CONFLICT and DUPLICATE_CLAIM beside INITIATING_VISIT_MISSING, and a compliance
    query by DUPLICATE_CLAIM finds the attempt."""
    book.add(minutes(25), claim("C1"))
    codes = book.refused(claim("C2", billing_provider_npi=OTHER_NPI))
    assert set(codes) == {"INITIATING_VISIT_MISSING", "PROVIDER_CONFLICT", "DUPLICATE_CLAIM"}
    found = refusals(book.ledger, open_views(book.ledger, sqlite_url), reason="DUPLICATE_CLAIM")
    assert [r.claim_id for r in found] == ["C2"]


def test_g16_a_void_after_a_claim_leaves_it_unsupported(book: Book, sqlite_url: str, clock: Clock) -> None:
    """G-16: 45 minutes, a 99490 + 99439 claim, then a void leaving 35: the void is recorded,
    the claim becomes unsupported with what is missing, leaves the 837P, and is listed by a
    compliance query for SUPPORT_WITHDRAWN; the audit packet flags it."""
    book.add(minutes(45, chunk=15))
    clock.now += timedelta(hours=1)
    book.add(claim("C1", codes=("99490", "99439")))
    clock.now += timedelta(hours=1)
    assert [c.claim.submitted.claim_id for c in x12.claims_for(book.ledger, ["P1"], "2026-03")] == ["C1"]
    book.add(f.TimeEntryVoided(entry_id="T-P1-CCM-2026-03-RN-1-2-0", patient_id="P1", reason="wrong patient", by="RN"))
    (held,) = book.row().claimed
    assert held.status == "unsupported" and held.missing and "UNDER_THRESHOLD" in held.missing[0]
    assert held.overpayment is None and held.repay_by is None
    assert x12.claims_for(book.ledger, ["P1"], "2026-03") == []
    (row,) = refusals(book.ledger, open_views(book.ledger, sqlite_url), reason="SUPPORT_WITHDRAWN")
    assert row.claim_id == "C1" and [r["code"] for r in row.reasons] == ["SUPPORT_WITHDRAWN", "UNDER_THRESHOLD"]
    (evidence,) = packet(book.ledger, "P1", "2026-03", "2026-03").sections[0].claims
    assert evidence.status == "unsupported" and evidence.unsupported is not None
    assert evidence.unsupported["because_of"].startswith("TimeEntryVoided")


def test_g15_the_worklist_offers_nothing_the_gate_would_refuse_as_period_open(clock: Clock, open_at: object,
                                                                           sqlite_url: str) -> None:  # fmt: skip
    """G-15, interface.md section 4 ("billable is what may be claimed now"): read on 20 March,
    the March row holds 99490 back as PERIOD_OPEN, as the gate answers a claim for it; read
    on 31 March, with no new fact, the same row offers it and the gate accepts it."""
    clock.now = datetime(2026, 3, 20, 12, tzinfo=EST)
    book = Book(open_at(sqlite_url))  # type: ignore[operator]
    book.add(enrolled("P1"), minutes(25))
    views = open_views(book.ledger, sqlite_url)
    (row,) = worklist(book.ledger, views, "2026-03")
    assert row.billable == [] and row.estimated_total == "0.00"
    assert [(b.code, b.reason) for b in row.blocked if b.reason == "PERIOD_OPEN"] == [("99490", "PERIOD_OPEN")]
    assert book.refused(claim("C1")) == ["PERIOD_OPEN"]
    clock.now = datetime(2026, 3, 31, 9, tzinfo=EST)
    (row,) = worklist(book.ledger, views, "2026-03")
    assert [b.code for b in row.billable] == ["99490"] and not [b for b in row.blocked if b.reason == "PERIOD_OPEN"]
    book.add(claim("C1"))
