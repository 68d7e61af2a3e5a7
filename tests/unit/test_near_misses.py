"""Near misses as data (interface.md section 4): every blocked entry that is a count carries
`have`, `need` and `unit`, for every program; and the smaller slips of the gate issue: CoCM's
midpoints (P-COCM-1) and device periods across calendar months (P-RPM-1)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from domain import facts as f
from domain.ledger import Ledger
from tests.conftest import Clock
from tests.factories import EST, Book, claim, enrolled, minutes
from tests.unit.test_rules_programs import device, on

P = f.Program


@pytest.fixture
def book(memory_ledger: Ledger) -> Book:
    return Book(memory_ledger)


def counts(
    book: Book, pid: str = "P1", month: str = "2026-03"
) -> dict[str, tuple[str, int | None, int | None, str | None]]:
    return {b.code: (b.reason, b.have, b.need, b.unit) for b in book.row(pid, month).blocked}


def test_g05_ccm_near_misses_carry_have_need_unit(book: Book) -> None:
    """G-05, P-CCM-4: 19 minutes is 99490 at 19 of 20 minutes; 45 is 99439's second unit at
    45 of 60."""
    book.add(enrolled("P1"), minutes(19))
    assert counts(book)["99490"] == ("UNDER_THRESHOLD", 19, 20, "minutes")
    book.add(minutes(26, day=9))
    assert counts(book)["99439"] == ("UNDER_THRESHOLD", 45, 60, "minutes")


def test_prpm1_15_of_16_days_is_reported(book: Book) -> None:
    """P-RPM-1: at 15 days 99445 is billable and 99454 is a near miss at 15 of 16 days."""
    book.add(enrolled("P1", P.RPM))
    device(book, days=15)
    assert book.billable() == {"99445": 1, "99453": 1}
    assert counts(book)["99454"] == ("DEVICE_DAYS_INSUFFICIENT", 15, 16, "days")


def test_prpm3_19_of_20_minutes_is_reported(book: Book) -> None:
    """P-RPM-3: at 19 interactive minutes 99470 is billable and 99457 is a near miss at 19 of
    20 minutes; 9 minutes is 99470 at 9 of 10."""
    book.add(enrolled("P1", P.RPM))
    device(book, days=16)
    book.add(minutes(9, program=P.RPM, interactive=True))
    assert counts(book)["99470"] == ("UNDER_THRESHOLD", 9, 10, "minutes")
    book.add(minutes(10, program=P.RPM, day=9, interactive=True))
    assert book.billable()["99470"] == 1
    assert counts(book)["99457"] == ("UNDER_THRESHOLD", 19, 20, "minutes")


def cocm(book: Book, total: int, month: str = "2026-03") -> None:
    book.add(minutes(total, program=P.COCM, month=month, staff=f"CM-{month}", chunk=30))


def test_pcocm1_99494_from_86_minutes_in_the_first_month_and_76_later(book: Book) -> None:
    """P-COCM-1: 99494 is not offered at 85 minutes in the first month (85 of 86), is at 86,
    and adds a unit at 116; in a later month it starts at 76 (75 of 76 is a near miss)."""
    book.add(enrolled("P1", P.COCM), f.RatingScaleAdministered(
        patient_id="P1", scale="PHQ-9", score=14, administered_on=date(2026, 3, 2), by="CM"))  # fmt: skip
    cocm(book, 85)
    assert book.billable() == {"99492": 1}
    assert counts(book)["99494"] == ("UNDER_THRESHOLD", 85, 86, "minutes")
    book.add(minutes(1, program=P.COCM, staff="CM-X", day=20))
    assert book.billable() == {"99492": 1, "99494": 1}
    book.add(minutes(30, program=P.COCM, staff="CM-Y", day=21))
    assert book.billable() == {"99492": 1, "99494": 2}
    cocm(book, 75, month="2026-02")  # an earlier month of CoCM: March is no longer the first
    assert book.billable(month="2026-03")["99493"] == 1
    book.add(minutes(45, program=P.COCM, month="2026-04", staff="CM-Z", chunk=45))
    book.add(minutes(30, program=P.COCM, month="2026-04", staff="CM-W", chunk=30, day=3))
    assert counts(book, month="2026-04")["99494"] == ("UNDER_THRESHOLD", 75, 76, "minutes")


def test_prpm1_a_mid_period_claim_counts_every_day_of_its_period(book: Book, clock: Clock) -> None:
    """P-RPM-1: a device code dated mid-period counts the whole 30-day period, across the
    calendar months it spans (10 days in March and 8 in April: 99454, not 99445)."""
    book.add(enrolled("P1", P.RPM))
    start = date(2026, 3, 15)
    book.add(f.DeviceSetup(patient_id="P1", device_id="D1", program=f.DeviceProgram.RPM,
                           category=f.DeviceCategory.PHYSIOLOGIC, setup_on=start))  # fmt: skip
    for i in range(18):
        book.add(f.DataTransmitted(patient_id="P1", device_id="D1", transmitted_on=start + timedelta(days=i)))
    clock.now = datetime(2026, 4, 20, 12, tzinfo=EST)  # the period ended on 13 April
    assert book.refused(on(date(2026, 3, 20), "99445")) == ["BAND_EXCEEDED"]  # 18 days: past 99445's band
    book.add(on(date(2026, 3, 20), "99454"))
    assert book.refused(claim("C9", codes=("99454",), service_month=None, service_on=date(2026, 4, 13))) == [
        "DUPLICATE_CLAIM"
    ]
