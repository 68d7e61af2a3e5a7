"""The claim lifecycle on both stores: the refusal log, adjudication and voids, and a race
of many processes for one patient-month on PostgreSQL."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal
from typing import Any

import pytest

from adapters.reads import refusals as read_refusals
from adapters.store import open_ledger
from adapters.viewdb import open_views
from domain import facts as f
from domain.ledger import Ledger
from domain.reasons import Refused
from tests.conftest import pg_url
from tests.factories import Book, claim, enrolled, minutes


def test_refused_claims_are_kept_in_the_refusal_log(ledger: Ledger, store_url: str) -> None:
    """A refused claim records nothing on the patient but is logged once with who, when and why;
    the log filters by month and reason."""
    book = Book(ledger)
    book.add(enrolled("P1"), minutes(25))
    book.add(claim("C1"))
    attempt = claim("C2", recorded_by="biller-7", source="billing-co")
    assert book.refused(attempt) == ["DUPLICATE_CLAIM"]
    assert book.refused(attempt) == ["DUPLICATE_CLAIM"]  # sent again: logged once
    assert book.refused(claim("C3", codes=("99491",))) == ["UNDER_THRESHOLD", "TIER_CONFLICT"]
    db = open_views(ledger, store_url)

    def refusals(month: str | None = None, reason: str | None = None) -> list[Any]:
        return read_refusals(ledger, db, month, reason)

    rows = refusals()
    assert [(r.claim_id, r.recorded_by, r.source) for r in rows] == [
        ("C2", "biller-7", "billing-co"),
        ("C3", None, None),
    ]
    assert rows[0].reasons[0]["code"] == "DUPLICATE_CLAIM" and "C1" in rows[0].reasons[0]["message"]
    assert [r.claim_id for r in refusals(month="2026-03", reason="UNDER_THRESHOLD")] == ["C3"]
    assert refusals(month="2026-04") == []
    assert [c.claim_id for c in book.row().claimed] == ["C1"]


def test_adjudication_and_void_follow_the_claim(ledger: Ledger) -> None:
    """ClaimAdjudicated is kept on the claim; ClaimVoided frees its codes for a corrected claim;
    the worklist's `claimed` shows each claim with its status."""
    book = Book(ledger)
    book.add(enrolled("P1"), minutes(45))
    book.add(claim("C1", codes=("99490",)))
    book.add(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.DENIED, reason_codes=["CO-16"]))
    assert book.billable() == {"99439": 1}
    book.add(f.ClaimVoided(claim_id="C1", reason="resubmit with add-on", by="B"))
    assert [(c.claim_id, c.status) for c in book.row().claimed] == [("C1", "voided")]
    assert book.billable() == {"99490": 1, "99439": 1}
    book.add(claim("C2", codes=("99490", "99439")))
    book.add(f.ClaimAdjudicated(claim_id="C2", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("92.80")))
    assert [(c.claim_id, c.status) for c in book.row().claimed] == [("C1", "voided"), ("C2", "paid")]
    assert book.billable() == {}


def _race(url: str, claim_id: str, barrier: Any, results: Any) -> None:
    try:
        ledger = open_ledger(url)
        barrier.wait(timeout=60)
        try:
            ledger.record(claim(claim_id, codes=("99490",)))
            results.put((claim_id, "accepted"))
        except Refused as e:
            results.put((claim_id, ",".join(c.value for c in e.codes)))
        ledger.close()
    except BaseException as e:  # the parent reports it; a silent child would hang the barrier
        results.put((claim_id, f"error: {e!r}"))


@pytest.mark.postgres
@pytest.mark.parametrize("trial", range(3))
def test_racing_processes_accept_exactly_one_claim_for_a_patient_month(trial: int) -> None:
    """G-08 under concurrency: 6 processes claim 99490 for one patient-month at the same
    moment on PostgreSQL; exactly one is accepted, every other is DUPLICATE_CLAIM."""
    url = next(gen := pg_url())
    try:
        book = Book(open_ledger(url))
        book.add(enrolled("P1"), minutes(25))
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(6), context.Queue()
        procs = [context.Process(target=_race, args=(url, f"C{trial}-{n}", barrier, results)) for n in range(6)]
        for p in procs:
            p.start()
        outcomes = sorted(results.get(timeout=120)[1] for _ in procs)
        for p in procs:
            p.join(30)
        assert outcomes == ["DUPLICATE_CLAIM"] * 5 + ["accepted"], outcomes
        assert len(book.row().claimed) == 1
    finally:
        next(gen, None)
