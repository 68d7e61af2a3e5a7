"""Work RVU and revenue per billing practitioner and program for a month: what is claimed
(accepted, not voided) and what is still billable, priced by the fee schedule in force."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import msgspec

from domain import catalog
from domain.catalog import DEFAULT_FEES, FeeSchedule
from domain.ledger import Ledger
from domain.rules.assess import assess


class ReportRow(msgspec.Struct):
    billing_provider_npi: str
    program: str
    claimed_units: int
    claimed_work_rvu: str
    claimed_amount: str
    billable_units: int
    billable_work_rvu: str
    billable_amount: str


def report(ledger: Ledger, patients: list[str], month: str, fees: FeeSchedule = DEFAULT_FEES) -> list[ReportRow]:
    """Totals over the given patients' month (the worklist view lists who had activity)."""
    totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 6)
    for view in ledger.month_views_of(patients, month):
        for claim in view.live_claims():
            for line in claim.submitted.lines:
                _add(totals, claim.submitted.billing_provider_npi, line.code, line.units, fees, 0)
        row = assess(view, fees)
        for item in row.billable:
            _add(totals, row.billing_provider_npi or "(none)", item.code, item.units, fees, 3)
    return [
        ReportRow(npi, program, int(t[0]), _q(t[1]), _q(t[2]), int(t[3]), _q(t[4]), _q(t[5]))
        for (npi, program), t in sorted(totals.items())
    ]


def _add(totals: dict[tuple[str, str], list[Decimal]], npi: str, code: str, units: int,
         fees: FeeSchedule, at: int) -> None:  # fmt: skip
    spec = catalog.lookup(code)
    program = str(spec.program) if spec is not None and spec.program is not None else "other"
    t = totals[(npi, program)]
    t[at] += units
    t[at + 1] += fees.work_rvu(code) * units
    t[at + 2] += fees.fee(code) * units


def _q(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))
