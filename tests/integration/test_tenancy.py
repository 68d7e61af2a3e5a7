"""Practices as tenants, on both stores: each practice's store holds only its own record;
G-07 and L-01 hold across practices through the claim index (rules.md G-07, last sentence),
which holds no clinical facts; a void frees the patient-month for another practice."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from adapters import reads, tenancy
from adapters.claim_index import ClaimIndex
from adapters.store import open_ledger
from adapters.tenants import Catalog
from adapters.viewdb import open_views
from domain import facts as f
from domain.elsewhere import Slot
from domain.ledger import Ledger
from domain.policy import Policy
from domain.reasons import Refused
from projections.events import Query, events
from projections.refusals import RefusalRow
from tests.factories import claim, enrolled, minutes
from tests.tenants import OPENED, add_practices, home, with_index

__all__ = ["home"]


def _refusals(ledger: Ledger, url: str) -> list[RefusalRow]:
    return reads.refusals(ledger, open_views(ledger, url))


def _patients(ledger: Ledger, url: str) -> set[str]:
    db = open_views(ledger, url)
    reads.ready(ledger, db, True)
    return {e.patient_id for e in events(ledger, db, Query())}


def _refused(ledger: object, fact: f.Fact) -> Refused:
    with pytest.raises(Refused) as caught:
        ledger.record(fact)  # type: ignore[attr-defined]
    return caught.value


def test_a_claim_another_practice_holds_is_refused_naming_it(home: str) -> None:
    urls = add_practices(home, "A", "B")
    a, b = with_index(urls["A"], "A", home), with_index(urls["B"], "B", home)
    for ledger in (a, b):
        for fact in [*enrolled("R1"), *minutes(45, "R1")]:
            ledger.record(fact)
    a.record(claim("CA", "R1"))
    refusal = _refused(b, claim("CB", "R1"))
    assert [r.code.value for r in refusal.reasons] == ["PROVIDER_CONFLICT"]
    assert "practice A" in refusal.reasons[0].message and "R1" not in refusal.reasons[0].message
    # PCM beside A's CCM: the lane (L-01) and G-07 across practices, with B's own reasons too
    codes = [r.code.value for r in _refused(b, claim("CB2", "R1", codes=("99424",))).reasons]
    assert {"PROVIDER_CONFLICT", "LANE_CONFLICT"} <= set(codes) and len(codes) > 2
    for fact in minutes(45, "R1", month="2026-04"):
        b.record(fact)
    b.record(claim("CB3", "R1", service_month="2026-04"))  # another month is B's to bill
    # The refusal is B's: in B's refusal log, not A's.
    assert {r.claim_id for r in _refusals(b, urls["B"])} == {"CB", "CB2"}
    assert _refusals(a, urls["A"]) == []


def test_practices_with_different_lane_policies_still_meet_on_the_program(home: str) -> None:
    """A practice that holds the lane per practitioner only (policy switch) and one that holds
    it across practitioners (the default) name different lane slots; G-07 must still hold
    between them: CCM claimed at one is refused at the other, whichever claims first."""
    urls = add_practices(home, "A", "B")
    per_practitioner = Policy(lane_across_practitioners=False)
    a = tenancy.attach(open_ledger(urls["A"], policy=per_practitioner), tenancy.Resolved(urls["A"], "A", home))
    OPENED.append(a)
    b = with_index(urls["B"], "B", home)
    for ledger in (a, b):
        for patient in ("R1", "R2"):
            for fact in [*enrolled(patient), *minutes(45, patient, staff=f"RN-{patient}")]:
                ledger.record(fact)
    a.record(claim("CA", "R1"))
    assert "PROVIDER_CONFLICT" in _refused(b, claim("CB", "R1")).codes[0].value
    b.record(claim("CB2", "R2"))
    assert "PROVIDER_CONFLICT" in _refused(a, claim("CA2", "R2")).codes[0].value


def test_a_void_frees_the_month_for_the_other_practice(home: str) -> None:
    urls = add_practices(home, "A", "B")
    a, b = with_index(urls["A"], "A", home), with_index(urls["B"], "B", home)
    for ledger in (a, b):
        for fact in [*enrolled("R2"), *minutes(45, "R2")]:
            ledger.record(fact)
    a.record(claim("CA", "R2"))
    assert _refused(b, claim("CB", "R2")).codes
    a.record(f.ClaimVoided(claim_id="CA", reason="billed in error", by="BILLER-1"))
    b.record(claim("CB", "R2"))  # the same claim again, now accepted
    assert _refused(a, claim("CA2", "R2")).codes[0].value == "PROVIDER_CONFLICT"


def test_each_practice_store_holds_only_its_own_record(home: str) -> None:
    urls = add_practices(home, "A", "B")
    a, b = with_index(urls["A"], "A", home), with_index(urls["B"], "B", home)
    for fact in enrolled("ONLY-A"):
        a.record(fact)
    for fact in enrolled("ONLY-B"):
        b.record(fact)
    patients_a, patients_b = _patients(a, urls["A"]), _patients(b, urls["B"])
    assert patients_a == {"ONLY-A"} and patients_b == {"ONLY-B"}
    assert urls["A"] != urls["B"]


def test_the_index_holds_only_what_the_check_needs(home: str) -> None:
    urls = add_practices(home, "A", "B")
    a = with_index(urls["A"], "A", home)
    for fact in [*enrolled("R3"), *minutes(45, "R3")]:
        a.record(fact)
    a.record(claim("CA", "R3"))
    catalog = Catalog.open(home)
    assert catalog is not None
    with catalog.db.reading() as cur:
        cur.execute("SELECT * FROM carelane_claim_slots")
        slots = [tuple(r) for r in cur.fetchall()]
        columns = [d[0] for d in cur.description]
        cur.execute("SELECT * FROM carelane_claim_holds")
        holds = [tuple(r) for r in cur.fetchall()]
    assert columns == ["mbi_hash", "slot", "month", "practice_id", "program"]
    assert sorted(row[1] for row in slots) == ["CCM", "CCM|PCM|APCM"]  # the program (G-07) and the lane (L-01)
    assert len(holds) == 2 and {row[0] for row in slots} == {row[2] for row in holds}  # one patient
    text = msgspec.json.encode([slots, holds]).decode()
    assert "TE5" not in text and "R3" not in text  # neither the MBI nor the patient id


def _indexes(home: str) -> tuple[Ledger, Catalog, ClaimIndex, ClaimIndex]:
    """Practices A and B; A's ledger, the catalog, and each practice's claim index on it."""
    urls = add_practices(home, "A", "B")
    catalog = Catalog.open(home)
    assert catalog is not None
    return with_index(urls["A"], "A", home), catalog, ClaimIndex(catalog, "A"), ClaimIndex(catalog, "B")


def test_a_hold_lost_to_a_crash_is_released_by_reconciling(home: str) -> None:
    a, catalog, index_a, index_b = _indexes(home)
    slot = Slot("1EG4TE5R4", "CCM|PCM|APCM", "CCM", "2026-03")
    assert index_a.reserve("NEVER-SAVED", [slot]).held == []  # reserved, then the process died
    assert [h.practice_id for h in index_b.reserve("CB", [slot]).held] == ["A"]
    assert index_a.reconcile(a) == 0  # too recent: it may still be being recorded
    assert index_a.reconcile(a, datetime.now(UTC) + timedelta(minutes=11)) == 1
    assert index_b.reserve("CB", [slot]).held == []
    catalog.close()


def test_reconciling_releases_a_stale_attempt_and_keeps_a_retry_of_the_same_claim(home: str) -> None:
    """A claim whose first attempt died, retried since and still being recorded: only the
    dead attempt's holds go, and the slot stays with the retry."""
    a, catalog, index_a, index_b = _indexes(home)
    slot = Slot("1EG4TE5R4", "CCM", "CCM", "2026-03")
    dead = index_a.reserve("C1", [slot]).attempt
    long_ago = (datetime.now(UTC) - timedelta(minutes=20)).isoformat(timespec="seconds")
    with catalog.db.transaction() as cur:
        cur.execute("UPDATE carelane_claim_holds SET held_at = %s WHERE attempt = %s", (long_ago, dead))
    retry = index_a.reserve("C1", [slot]).attempt
    assert index_a.reconcile(a) == 1
    with catalog.db.reading() as cur:
        cur.execute("SELECT DISTINCT attempt FROM carelane_claim_holds")
        assert [row[0] for row in cur.fetchall()] == [retry]
    assert [h.practice_id for h in index_b.reserve("CB", [slot]).held] == ["A"]
    catalog.close()


def test_a_long_running_process_releases_a_lost_hold_as_it_runs(home: str) -> None:
    """A server or `project --follow` reconciles every few minutes, not only at start: a hold
    a crashed writer left is released while it runs, and the other practice can claim."""
    a, catalog, index_a, index_b = _indexes(home)
    stop = threading.Event()
    args = (a, stop, 0.05, timedelta(seconds=1))  # every 50 ms; a hold is lost after 1 s
    keeper = threading.Thread(target=index_a.keep_reconciled, args=args)
    keeper.start()
    try:
        time.sleep(0.2)  # it has looked once, and found nothing
        slot = Slot("1EG4TE5R4", "CCM|PCM|APCM", "CCM", "2026-03")
        assert index_a.reserve("NEVER-SAVED", [slot]).held == []  # then the writer died
        assert [h.practice_id for h in index_b.reserve("CB", [slot]).held] == ["A"]
        deadline = time.monotonic() + 10
        while index_b.reserve("CB", [slot]).held and time.monotonic() < deadline:
            time.sleep(0.1)
        assert index_b.reserve("CB", [slot]).held == []
    finally:
        stop.set()
        keeper.join(5)
    assert not keeper.is_alive()
    catalog.close()


def test_the_worklist_holds_back_what_another_practice_claimed(home: str) -> None:
    urls = add_practices(home, "A", "B")
    a, b = with_index(urls["A"], "A", home), with_index(urls["B"], "B", home)
    for ledger in (a, b):
        for fact in [*enrolled("R5"), *minutes(45, "R5")]:
            ledger.record(fact)
    a.record(claim("CA", "R5"))
    (row,) = reads.worklist(b, open_views(b, urls["B"]), "2026-03")
    assert row.billable == [] and row.estimated_total == "0.00"
    held = [x for x in row.blocked if x.reason == "PROVIDER_CONFLICT"]
    assert {x.code for x in held} == {"99490", "99439"} and "practice A" in held[0].detail
    (row_a,) = reads.worklist(a, open_views(a, urls["A"]), "2026-03")
    assert [x.code for x in row_a.billable] == ["99439"]  # A's own add-on is still A's to bill


def _index_is_whole(home: str) -> None:
    """Every hold has its slot row, owned by the holder's practice."""
    catalog = Catalog.open(home)
    assert catalog is not None
    with catalog.db.reading() as cur:
        cur.execute(
            "SELECT h.practice_id, s.practice_id FROM carelane_claim_holds h LEFT JOIN carelane_claim_slots s "
            "ON s.mbi_hash = h.mbi_hash AND s.slot = h.slot AND s.month = h.month"
        )
        rows = cur.fetchall()
    assert all(holder == owner for holder, owner in rows), rows


def test_an_abandoned_attempt_leaves_the_same_claims_other_holds(home: str) -> None:
    """Two writers of one claim at once: the one whose save failed abandons only its own
    reservation, so the claim the other saved keeps its slot."""
    add_practices(home, "A", "B")
    catalog = Catalog.open(home)
    assert catalog is not None
    index_a, index_b = ClaimIndex(catalog, "A"), ClaimIndex(catalog, "B")
    slot = Slot("1EG4TE5R6", "CCM|PCM|APCM", "CCM", "2026-03")
    first, second = index_a.reserve("CA", [slot]), index_a.reserve("CA", [slot])
    assert first.attempt and second.attempt and first.attempt != second.attempt
    index_a.abandon(second.attempt)
    assert [h.practice_id for h in index_b.reserve("CB", [slot]).held] == ["A"]
    index_a.release(["CA"])  # the claim voided: every hold of it goes
    assert index_b.reserve("CB", [slot]).held == []
    _index_is_whole(home)


def test_a_store_with_claims_joining_a_catalog_puts_them_in_the_index(home: str) -> None:
    """The first practice keeps the home store and its history: claims billed before the
    catalog existed hold their months against the practices added with it."""
    before = with_index(home, "A", home)  # no catalog yet: a single-practice ledger
    for fact in [*enrolled("R7"), *minutes(45, "R7"), claim("CA", "R7")]:
        before.record(fact)
    from adapters.commands.practices import _backfill

    urls = add_practices(home, "A", "B")
    assert urls["A"] == home
    a, b = with_index(urls["A"], "A", home), with_index(urls["B"], "B", home)
    assert _backfill(a, urls["A"]) == []
    for fact in [*enrolled("R7"), *minutes(45, "R7")]:
        b.record(fact)
    assert _refused(b, claim("CB", "R7")).codes[0].value == "PROVIDER_CONFLICT"
    _index_is_whole(home)
