"""Every read that counts billable work holds back what another practice already claimed,
as the worklist does (G-07 across practices): the revenue report, the forecast from the
record, and pace toward a threshold. Otherwise a biller is shown money the gate will refuse."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from adapters import reads
from adapters.viewdb import open_views
from domain.catalog import DEFAULT_FEES
from domain.ledger import Ledger
from projections.forecast import record_panel
from projections.pace import pace_report
from projections.report import report
from tests.factories import claim, enrolled, minutes
from tests.tenants import add_practices, home, with_index

__all__ = ["home"]
MONTH = "2026-03"


def _two_practices(home: str, theirs: int) -> tuple[Ledger, Ledger]:
    """A claims R5 (25 minutes); B has `theirs` minutes for the same patient, and R9 of its own."""
    urls = add_practices(home, "A", "B")
    a, b = with_index(urls["A"], "A", home), with_index(urls["B"], "B", home)
    for fact in [*enrolled("R5"), *minutes(25, "R5"), claim("CA", "R5")]:
        a.record(fact)
    for fact in [*enrolled("R5"), *minutes(theirs, "R5"), *enrolled("R9"), *minutes(25, "R9", staff="RN-9")]:
        b.record(fact)
    reads.ready(b, open_views(b, urls["B"]))
    return a, b


def test_the_report_counts_nothing_billable_that_another_practice_claimed(home: str) -> None:
    a, b = _two_practices(home, 25)
    (mine,) = report(b, ["R9"], MONTH)
    assert mine.billable_units == 1 and Decimal(mine.billable_amount) > 0
    (both,) = report(b, ["R5", "R9"], MONTH)
    assert both == mine  # R5's month is A's: nothing more is billable at B
    (theirs,) = report(a, ["R5"], MONTH)
    assert theirs.claimed_units == 1 and theirs.billable_units == 0


def test_the_forecast_from_the_record_counts_nothing_another_practice_claimed(home: str) -> None:
    _, b = _two_practices(home, 25)
    lines, _ = record_panel(b.month_views_of(["R5", "R9"], MONTH), DEFAULT_FEES, Decimal(1), b.elsewhere, b.policy)
    billable = [line for line in lines if line.source == "billable"]
    assert sum(line.patients for line in billable) == 1  # R9 only
    alone, _ = record_panel(b.month_views_of(["R5", "R9"], MONTH), DEFAULT_FEES, Decimal(1))
    assert sum(line.patients for line in alone if line.source == "billable") == 2  # without the index: both


def test_pace_names_the_other_practice_that_holds_the_month(home: str) -> None:
    _, b = _two_practices(home, 10)
    rows = pace_report(b, ["R5"], MONTH, date(2026, 3, 20)).pace
    (row,) = [r for r in rows if r.code == "99490"]
    assert row.have == 10 and "PROVIDER_CONFLICT" in row.held_by
