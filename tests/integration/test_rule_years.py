"""Rules by year (rules.md "Effective dates", G-11, G-17, P-RPM-1, P-RPM-3): a claim is judged
under the rule year of its date of service, and a new year is data, not code."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import msgspec
import pytest

from adapters.store import open_ledger
from domain import facts as f
from domain.catalog import CATALOG, Kind
from domain.ledger import Ledger
from domain.rulebook import DEFAULT_RULEBOOK, LOOKBACKS, YearRules
from projections.audit import packet
from tests.conftest import Clock
from tests.factories import Book, claim, consent, enrolled, minutes, plan, visit
from tests.unit.test_rules_programs import device, on

P = f.Program


def ready_2025(book: Book, program: P = P.CCM) -> None:
    """A patient enrolled in January 2025 (conditions, consent, visit, plan)."""
    jan = date(2025, 1, 6)
    book.add(
        enrolled("P1", program, recorded_on=jan)[:5],
        consent(program, "P1", recorded_on=jan),
        visit("V25", visit_on=jan),
        plan("CP25", established_on=jan, programs=[program]),
    )


@pytest.fixture
def book(sqlite_ledger: Ledger) -> Book:
    return Book(sqlite_ledger)


@pytest.mark.parametrize("code", ["99445", "99470", "98979", "98984", "98985", "G0568", "G0569", "G0570"])
def test_g11_codes_new_in_2026_are_not_yet_effective_in_2025(book: Book, code: str) -> None:
    """Effective dates, G-11: a 2025 claim for a code payable from 2026 is CODE_NOT_YET_EFFECTIVE."""
    ready_2025(book)
    assert "CODE_NOT_YET_EFFECTIVE" in book.refused(claim("C1", codes=(code,), service_month="2025-06"))


def test_g11_apcm_from_2025_and_retired_codes(book: Book) -> None:
    """Effective dates, P-APCM-1, G-11: APCM for 2024 is CODE_NOT_YET_EFFECTIVE (payable from
    2025); G0511 from 2025-10-01 and G0512 from 2026-01-01 are CODE_RETIRED."""
    ready_2025(book, P.APCM)
    assert book.refused(claim("C1", codes=("G0557",), service_month="2024-11")) == ["CODE_NOT_YET_EFFECTIVE"]
    book.add(claim("C2", codes=("G0557",), service_month="2025-06"))
    assert book.refused(on(date(2025, 10, 1), "G0511", cid="C3")) == ["CODE_RETIRED"]
    book.add(on(date(2025, 9, 30), "G0511", cid="C4"))
    assert book.refused(on(date(2026, 1, 2), "G0512", cid="C5")) == ["CODE_RETIRED"]


def test_prpm1_before_2026_fewer_than_16_days_bill_nothing(book: Book) -> None:
    """P-RPM-1 (2025): no 99445, so 15 days bill no device code, and 99453 needs 16 days of
    data in its first period; with 16 both are billable, under the 2025 rule year."""
    ready_2025(book, P.RPM)
    device(book, days=15, start=date(2025, 6, 1))
    assert book.billable(month="2025-06") == {}
    blocked = {b.code: (b.reason, b.have, b.need) for b in book.row(month="2025-06").blocked}
    assert blocked["99454"] == ("DEVICE_DAYS_INSUFFICIENT", 15, 16)
    assert blocked["99453"] == ("DEVICE_DAYS_INSUFFICIENT", 15, 16)
    assert "CODE_NOT_YET_EFFECTIVE" in book.refused(on(date(2025, 6, 30), "99445"))
    book.add(f.DataTransmitted(patient_id="P1", device_id="D1", transmitted_on=date(2025, 6, 20)))
    assert book.billable(month="2025-06") == {"99454": 1, "99453": 1}
    book.add(on(date(2025, 6, 30), "99454", cid="C2"))
    view = book.ledger.month_view("P1", "2025-06")
    assert view is not None and view.rules.name == "2025"


def test_prpm3_before_2026_management_needs_20_minutes(book: Book) -> None:
    """P-RPM-3, P-RTM-1 (2025): no 99470 or 98979, so 15 interactive minutes bill nothing."""
    ready_2025(book, P.RPM)
    device(book, days=16, start=date(2025, 6, 1))
    book.add(minutes(15, program=P.RPM, month="2025-06", interactive=True))
    assert "99470" not in book.billable(month="2025-06") and "99457" not in book.billable(month="2025-06")
    book.add(minutes(5, program=P.RPM, month="2025-06", day=9, interactive=True))
    assert book.billable(month="2025-06")["99457"] == 1


MADE_UP_2027 = YearRules(name="2027", starts=date(2027, 1, 1), setup_min_days=2, visit_lookback_months=LOOKBACKS)
STRICTER_99490 = msgspec.structs.replace(CATALOG["99490"], minimum=25, valid_from=date(2027, 1, 1))


def test_g17_a_made_up_2027_is_data_and_leaves_2025_as_it_was(sqlite_url: str, clock: Clock, tmp_path: Path) -> None:
    """G-17, Effective dates: adding a rule year 2027 (99490 at 25 minutes) is new entries,
    not code. The audit packet of a 2025 claim is unchanged by it; a 2027 claim is judged
    under 2027 (20 minutes refused, 25 accepted) and records that year."""
    book = Book(open_ledger(sqlite_url, clock=clock))
    ready_2025(book)
    book.add(minutes(20, month="2025-06"), claim("C25", service_month="2025-06"))
    before = msgspec.to_builtins(packet(book.ledger, "P1", "2025-06", "2025-06"))
    assert before["sections"][0]["claims"][0]["verdict"]["rule_year"] == "2025"

    extended = DEFAULT_RULEBOOK.extended(codes=[STRICTER_99490], years=[MADE_UP_2027])
    later = Book(open_ledger(sqlite_url, clock=clock, rulebook=extended))
    assert msgspec.to_builtins(packet(later.ledger, "P1", "2025-06", "2025-06")) == before
    clock.now = datetime(2027, 4, 2, 12, tzinfo=UTC)
    later.add(visit("V27", visit_on=date(2027, 1, 4)), minutes(20, month="2027-03"))
    assert later.refused(claim("C27", service_month="2027-03")) == ["UNDER_THRESHOLD"]
    later.add(minutes(5, month="2027-03", day=9))
    later.add(claim("C27", service_month="2027-03"))
    month = later.ledger.month_view("P1", "2027-03")
    assert month is not None and month.rules.name == "2027"
    (held,) = month.live_claims()
    assert held.verdict is not None and held.verdict.rule_year == "2027" and held.verdict.allowed == {"99490": 1}
    # The default book, which knows no 2027, still judges 2027 by 2026's rules.
    assert DEFAULT_RULEBOOK.on(date(2027, 3, 1)).spec("99490") == CATALOG["99490"]


def test_every_code_has_one_kind_across_its_entries() -> None:
    """Effective dates: entries of one code differ by dates and numbers, never by program or
    kind, which the stacking rules read from the catalog."""
    for code, specs in DEFAULT_RULEBOOK.entries.items():
        assert {(s.program, s.kind) for s in specs} == {(CATALOG[code].program, CATALOG[code].kind)}
    assert all(s.kind is not Kind.EXCLUSION or s.program is None for s in CATALOG.values())


def test_pccm2_the_first_month_is_the_first_with_a_service(book: Book, clock: Clock) -> None:
    """P-CCM-2: the first CCM month is the first with a service on record, not the month of
    consent: consent in January 2025 and a visit in June 2024 make March 2026's first CCM
    month INITIATING_VISIT_STALE; a CCM entry in May 2025 makes May the first month."""
    book.add(enrolled("P1", recorded_on=date(2025, 1, 6))[:5], consent(P.CCM, "P1", recorded_on=date(2025, 1, 6)))
    book.add(visit("V-OLD", visit_on=date(2024, 6, 3)), plan("CP", established_on=date(2025, 1, 6)))
    book.add(minutes(25))
    assert book.refused(claim("C1")) == ["INITIATING_VISIT_STALE"]
    book.add(minutes(5, month="2025-05"))
    book.add(claim("C1"))


def test_a_made_up_year_that_changes_a_cap_is_data(sqlite_url: str, clock: Clock) -> None:
    """Effective dates, G-06: a 2027 entry giving 99439 a cap of 3 lets 80 minutes bill
    99439 x3 in 2027 (worklist and gate alike), while March 2026 stays capped at 2."""
    extended = DEFAULT_RULEBOOK.extended(
        codes=[msgspec.structs.replace(CATALOG["99439"], cap=3, valid_from=date(2027, 1, 1))], years=[MADE_UP_2027]
    )
    clock.now = datetime(2027, 4, 2, 12, tzinfo=UTC)
    book = Book(open_ledger(sqlite_url, clock=clock, rulebook=extended))
    book.add(enrolled("P1"), visit("V27", visit_on=date(2027, 1, 4)))
    book.add(minutes(80, month="2026-03"), minutes(80, month="2027-03"))
    three = [f.ClaimLine("99490"), f.ClaimLine("99439", 3)]
    assert book.billable(month="2027-03") == {"99490": 1, "99439": 3}
    assert book.refused(claim("C26", lines=three, service_month="2026-03")) == ["ADDON_CAP_EXCEEDED"]
    book.add(claim("C27", lines=three, service_month="2027-03"))


def test_g14_a_code_not_yet_effective_is_still_judged_for_conflicts(book: Book, clock: Clock) -> None:
    """G-14, Effective dates, L-07: a 2025 claim for 99470 beside a 99457 already claimed that
    month carries CODE_NOT_YET_EFFECTIVE and the conflict."""
    ready_2025(book, P.RPM)
    device(book, days=16, start=date(2025, 6, 1))
    book.add(minutes(25, program=P.RPM, month="2025-06", interactive=True))
    book.add(claim("C1", codes=("99457",), service_month="2025-06"))
    assert book.refused(claim("C2", codes=("99470",), service_month="2025-06")) == [
        "CODE_NOT_YET_EFFECTIVE",
        "CODE_CONFLICT",
    ]
