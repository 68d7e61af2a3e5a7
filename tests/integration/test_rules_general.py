"""General rules the ledger core enforces before anything is recorded (rules.md G-*)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain import facts as f
from domain.keys import patient_month_key
from domain.ledger import Ledger
from domain.patient_month import PatientMonth
from domain.reasons import Reason, Refused
from domain.timing import is_late
from tests.conftest import Clock
from tests.factories import EST, Book, claim, consent, enrolled, minutes, patient, time_entry


def refused(ledger: Ledger, fact: f.Fact) -> list[Reason]:
    with pytest.raises(Refused) as caught:
        ledger.record(fact)
    return caught.value.codes


@pytest.fixture
def ledger(sqlite_ledger: Ledger) -> Ledger:
    sqlite_ledger.record(patient("P1"))
    sqlite_ledger.record(patient("P2"))
    return sqlite_ledger


def month_of(ledger: Ledger, pid: str, month: str) -> PatientMonth:
    pm = ledger.repository.get(patient_month_key(pid, month))
    assert isinstance(pm, PatientMonth)
    return pm


def test_g01_minutes_belong_to_the_calendar_month_in_the_practice_zone(ledger: Ledger) -> None:
    """G-01: 23:30 on 31 March in New York is March, though it is already April in UTC."""
    from zoneinfo import ZoneInfo

    late_evening = datetime(2026, 3, 31, 23, 30, tzinfo=ZoneInfo("America/New_York"))
    assert late_evening.astimezone(UTC).month == 4
    ledger.record(time_entry("E1", at=late_evening, minutes=20))
    assert "E1" in month_of(ledger, "P1", "2026-03").entries


def test_g03_overlapping_minutes_of_one_staff_member_are_refused(ledger: Ledger) -> None:
    """G-03: the same person cannot log overlapping clock time, whatever the patient or program."""
    ledger.record(time_entry("E1", at=datetime(2026, 3, 2, 10, 0, tzinfo=EST), minutes=30))
    clash = time_entry("E2", "P2", at=datetime(2026, 3, 2, 10, 20, tzinfo=EST), minutes=15, program=f.Program.BHI)
    assert refused(ledger, clash) == [Reason.TIME_OVERLAP]


def test_g03_adjacent_entries_and_other_staff_are_fine(ledger: Ledger) -> None:
    """G-03 holds: back-to-back entries, and another person at the same time, are both recorded."""
    ledger.record(time_entry("E1", at=datetime(2026, 3, 2, 10, 0, tzinfo=EST), minutes=30))
    ledger.record(time_entry("E2", "P2", at=datetime(2026, 3, 2, 10, 30, tzinfo=EST), minutes=10))
    ledger.record(time_entry("E3", "P2", at=datetime(2026, 3, 2, 10, 5, tzinfo=EST), minutes=10, staff_id="RN-2"))
    assert len(month_of(ledger, "P2", "2026-03").entries) == 2


def test_g03_overlap_across_midnight(ledger: Ledger) -> None:
    """G-03: an entry running past midnight blocks the next day's early minutes too."""
    ledger.record(time_entry("E1", at=datetime(2026, 3, 2, 23, 50, tzinfo=EST), minutes=30))
    early = time_entry("E2", "P2", at=datetime(2026, 3, 3, 0, 10, tzinfo=EST), minutes=10)
    assert refused(ledger, early) == [Reason.TIME_OVERLAP]


def test_g03_a_voided_entry_frees_its_minutes(ledger: Ledger) -> None:
    """G-03: after a void (entered in error) the same clock time can be logged correctly."""
    ledger.record(time_entry("E1", at=datetime(2026, 3, 2, 10, 0, tzinfo=EST), minutes=30))
    ledger.record(f.TimeEntryVoided(entry_id="E1", patient_id="P1", reason="wrong patient", by="RN-1"))
    ledger.record(time_entry("E2", "P2", at=datetime(2026, 3, 2, 10, 0, tzinfo=EST), minutes=30))
    assert month_of(ledger, "P1", "2026-03").entries["E1"].voided is not None


def test_g08_a_code_claimed_twice_for_a_month_is_refused_until_voided(ledger: Ledger) -> None:
    """G-08: DUPLICATE_CLAIM for the same code and period; a voided claim frees its codes."""
    Book(ledger).add(enrolled("P1")[1:], minutes(25))
    ledger.record(claim("C1"))
    assert refused(ledger, claim("C2")) == [Reason.DUPLICATE_CLAIM]
    ledger.record(f.ClaimVoided(claim_id="C1", reason="wrong NPI", by="BILLER"))
    ledger.record(claim("C2"))
    assert set(month_of(ledger, "P1", "2026-03").claims) == {"C1", "C2"}


def test_g11_retired_codes_by_date_of_service(ledger: Ledger) -> None:
    """G-11: G0511 from 2025-10-01, G0512 and G0071 from 2026-01-01 are CODE_RETIRED."""
    assert refused(ledger, claim("C1", codes=("G0511",), service_month="2025-10")) == [Reason.CODE_RETIRED]
    assert refused(ledger, claim("C2", codes=("G0512", "G0071"))) == [Reason.CODE_RETIRED] * 2
    ledger.record(claim("C3", codes=("G0512",), service_month="2025-12"))
    ledger.record(claim("C4", codes=("G0511",), service_month="2025-09"))


def test_g12_unknown_codes_are_refused_line_by_line(ledger: Ledger) -> None:
    """G-12: CODE_UNKNOWN for each line the catalog does not know; the claim is refused whole."""
    Book(ledger).add(enrolled("P1")[1:], minutes(25))
    assert refused(ledger, claim("C1", codes=("99490", "12345", "ABCDE"))) == [Reason.CODE_UNKNOWN] * 2
    assert month_of_or_none(ledger) is None or not month_of(ledger, "P1", "2026-03").claims


def month_of_or_none(ledger: Ledger) -> object:
    from eventsourcing.application import AggregateNotFoundError

    try:
        return ledger.repository.get(patient_month_key("P1", "2026-03"))
    except AggregateNotFoundError:
        return None


def test_g13_future_dated_facts_are_refused(ledger: Ledger, clock: Clock) -> None:
    """G-13: a fact dated after its recording is FUTURE_DATED, dates and instants alike."""
    tomorrow = clock.now.date() + timedelta(days=1)
    assert refused(ledger, time_entry("E1", at=clock.now + timedelta(hours=1))) == [Reason.FUTURE_DATED]
    assert refused(ledger, consent(f.Program.CCM, "P1", recorded_on=tomorrow)) == [Reason.FUTURE_DATED]
    ledger.record(time_entry("E2", at=clock.now - timedelta(minutes=30)))


def test_g13_late_facts_are_accepted_and_flagged(clock: Clock) -> None:
    """G-13: a fact recorded more than 7 days after it happened is late (accepted, flagged)."""
    from domain.policy import DEFAULT_POLICY

    entry = time_entry("E1", at=datetime(2026, 3, 2, 10, 0, tzinfo=EST))
    assert is_late(entry, datetime(2026, 3, 12, 12, 0, tzinfo=EST), DEFAULT_POLICY)
    assert not is_late(entry, datetime(2026, 3, 5, 12, 0, tzinfo=EST), DEFAULT_POLICY)
    visit_day = f.DataTransmitted(patient_id="P1", device_id="D", transmitted_on=date(2026, 3, 2))
    assert not is_late(visit_day, datetime(2026, 3, 9, 23, 0, tzinfo=EST), DEFAULT_POLICY)


def test_references_must_exist(ledger: Ledger) -> None:
    """Voids, adjudications and revisions refer to facts on file, else they are refused."""
    assert refused(ledger, f.TimeEntryVoided(entry_id="E9", patient_id="P1", reason="x", by="RN")) == [
        Reason.UNKNOWN_ENTRY
    ]
    assert refused(ledger, f.ClaimVoided(claim_id="C9", reason="x", by="B")) == [Reason.UNKNOWN_CLAIM]
    assert refused(
        ledger,
        f.CarePlanRevised(patient_id="P1", plan_id="CP9", revised_on=date(2026, 3, 1), by="DR", substantial=True),
    ) == [Reason.UNKNOWN_REFERENCE]
    assert refused(ledger, f.DataTransmitted(patient_id="P1", device_id="D9", transmitted_on=date(2026, 3, 1))) == [
        Reason.UNKNOWN_REFERENCE
    ]
    ledger.record(time_entry("E1"))
    assert refused(ledger, f.TimeEntryVoided(entry_id="E1", patient_id="P2", reason="x", by="RN")) == [
        Reason.UNKNOWN_ENTRY
    ]


def test_a_second_void_with_other_words_is_refused(ledger: Ledger) -> None:
    """ALREADY_VOIDED: an entry or claim is voided once; the same void resent is idempotent."""
    ledger.record(time_entry("E1"))
    void = f.TimeEntryVoided(entry_id="E1", patient_id="P1", reason="wrong patient", by="RN")
    first = ledger.record(void)
    assert ledger.record(void).duplicate and ledger.record(void).version == first.version
    assert refused(ledger, f.TimeEntryVoided(entry_id="E1", patient_id="P1", reason="typo", by="RN")) == [
        Reason.ALREADY_VOIDED
    ]
