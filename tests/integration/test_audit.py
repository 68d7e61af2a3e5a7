"""The auditor's record packet and the event stream, on both stores: as-of replays leave out
what was recorded later; late entries, voids and entries recorded after a claim are flagged;
each claim carries the evidence it stood on when it was submitted."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from adapters.reads import ready
from adapters.viewdb import open_views
from domain import facts as f
from domain.ledger import Ledger
from projections.audit import FutureInstant, packet
from projections.events import Query, events
from tests.conftest import Clock
from tests.factories import EST, Book, claim, enrolled, minutes, time_entry


def build(ledger: Ledger, clock: Clock) -> tuple[datetime, datetime]:
    """March: 25 minutes, a claim on 2 April, a late entry and a void after it."""
    book = Book(ledger)
    clock.now = datetime(2026, 3, 3, 12, 0, tzinfo=EST)
    book.add(enrolled("P1"), minutes(25))
    clock.now = datetime(2026, 4, 2, 9, 0, tzinfo=EST)
    book.add(claim("C1"))
    claimed_at = clock.now
    clock.now = datetime(2026, 4, 14, 9, 0, tzinfo=EST)
    book.add(time_entry("E-LATE", at=datetime(2026, 3, 30, 15, 0, tzinfo=EST), minutes=10))
    book.add(f.TimeEntryVoided(entry_id="T-P1-CCM-2026-03-RN-1-2-0", patient_id="P1", reason="wrong patient", by="RN"))
    return claimed_at, clock.now


def test_each_claim_carries_the_evidence_it_stood_on(ledger: Ledger, clock: Clock) -> None:
    """G-17: the claim's consent, visit, plan, conditions and the time entries that reach 20
    minutes are shown as they were at submission, with the verdict the gate recorded (rule
    year, units allowed, the facts it stood on); later changes are flagged, never hidden."""
    claimed_at, _ = build(ledger, clock)
    p = packet(ledger, "P1", "2026-03", "2026-03")
    (section,) = p.sections
    (evidence,) = section.claims
    assert evidence.claim_id == "C1" and evidence.submitted_at == claimed_at.isoformat()
    assert evidence.gate_at_submission == ["accepted under the 2026 rules (recorded verdict)"]
    assert evidence.verdict is not None and evidence.verdict["allowed"] == {"99490": 1}
    kinds = {(r["kind"], r["ref"]) for r in evidence.verdict["stood_on"]}
    assert {("consent", "CCM"), ("condition", "E11.9"), ("time_entry", "T-P1-CCM-2026-03-RN-1-2-0")} <= kinds
    assert ("time_entry", "E-LATE") not in kinds
    # G-16: the void leaves 10 of the minutes it was accepted on; E-LATE, logged after it, is no support
    assert evidence.unsupported is not None and evidence.unsupported["missing"] == [
        "UNDER_THRESHOLD: 99490: 10 of 20 minutes"
    ]
    positions = [r["position"] for r in evidence.verdict["stood_on"]]
    assert all(isinstance(n, int) for n in positions) and len(set(positions)) == len(positions)
    assert evidence.consents[0]["program"] == "CCM" and evidence.consents[0]["cost_sharing_explained"]
    assert evidence.initiating_visits and evidence.care_plans and len(evidence.conditions) >= 2
    assert evidence.minutes_counted == {"CCM": 25}
    assert sum(t["minutes"] for t in evidence.time_entries if t["counted"]) == 25
    assert any("E-LATE" in flag and "after the claim" in flag for flag in evidence.flags)
    assert any("voided after the claim" in flag for flag in evidence.flags)
    by_type = {e.fact.get("entry_id"): e.flags for e in section.facts if e.type == "TimeLogged"}
    assert "late" in by_type["E-LATE"] and any(
        flag.startswith("voided") for flag in by_type["T-P1-CCM-2026-03-RN-1-2-0"]
    )
    assert len(p.digest) == 64 and p.events_read > 10
    order = [e.type for e in section.facts]  # time order: the claim after the month's work, the void after the claim
    assert order.index("ClaimSubmitted") > max(i for i, t in enumerate(order) if t == "TimeLogged")
    assert order.index("TimeEntryVoided") > order.index("ClaimSubmitted")
    assert p.record[0].type == "PatientRegistered"  # the record opens with the patient


def test_as_of_replays_what_the_ledger_knew(ledger: Ledger, clock: Clock) -> None:
    """--as-of before the late entry: the entry is absent, and the digest differs."""
    claimed_at, _ = build(ledger, clock)
    then = packet(ledger, "P1", "2026-03", "2026-03", as_of=claimed_at + timedelta(minutes=1))
    now = packet(ledger, "P1", "2026-03", "2026-03")
    ids = lambda pk: {e.fact.get("entry_id") for e in pk.sections[0].facts}  # noqa: E731
    assert "E-LATE" not in ids(then) and "E-LATE" in ids(now)
    assert not then.sections[0].claims[0].flags
    assert then.digest != now.digest and then.events_read < now.events_read
    before = packet(ledger, "P1", "2026-03", "2026-03", as_of=claimed_at - timedelta(days=1))
    assert before.sections[0].claims == []
    with pytest.raises(FutureInstant, match="is in the future"):  # what it will know is not yet known
        packet(ledger, "P1", "2026-03", "2026-03", as_of=clock.now + timedelta(days=1))


def test_event_queries_and_late_facts(ledger: Ledger, clock: Clock, store_url: str) -> None:
    """carelane events filters by patient, type and dates; --late lists late facts and time
    recorded after a claim that it counts toward."""
    build(ledger, clock)
    Book(ledger).add(enrolled("P2")[:1])
    db = ready(ledger, open_views(ledger, store_url))
    mine = list(events(ledger, db, Query(patient="P1", types=["TimeLogged"])))
    assert len(mine) == 3 and all(r.patient_id == "P1" for r in mine)
    late = list(events(ledger, db, Query(types=["TimeLogged"], late=True)))
    assert {r.type for r in events(ledger, db, Query(late=True))} >= {"ConsentRecorded", "TimeLogged"}
    assert [r.fact.get("entry_id") for r in late] == ["E-LATE"]
    assert late[0].late and late[0].after_claim
    march = list(events(ledger, db, Query(happened_from="2026-03-02", happened_to="2026-03-02")))
    assert {r.type for r in march} == {"TimeLogged"}
    voids = list(events(ledger, db, Query(types=["TimeEntryVoided"], recorded_after="2026-04-10T00:00:00+00:00")))
    assert len(voids) == 1 and voids[0].fact["reason"] == "wrong patient"
    assert date.fromisoformat(march[0].happened or "") == date(2026, 3, 2)


def test_every_patients_packet_builds_on_the_demo_practice(tmp_path: object) -> None:
    """The demo's generated practice (claims sent after the rest of the record): the packet
    of every patient builds. Before, a claim's evidence replayed the patient's stream past the
    claim's own event and failed on the version that followed."""
    from pathlib import Path

    from adapters import demo
    from adapters.store import open_ledger
    from adapters.synthetic import last_full_month
    from domain.month import Month

    url = f"sqlite:///{Path(str(tmp_path)) / 'demo.db'}"
    demo.run(url, patients=12, seed=7, echo=lambda _text: None)
    ledger = open_ledger(url)
    db = ready(ledger, open_views(ledger, url))
    last = last_full_month(date.today())
    first = Month(last).shifted(-2)
    patients = sorted({e.patient_id for e in events(ledger, db, Query(types=["ClaimSubmitted"]))})
    assert len(patients) >= 5
    for patient_id in patients:
        built = packet(ledger, patient_id, first, last)
        assert any(s.claims for s in built.sections) and built.digest
