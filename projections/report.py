"""Work RVU and revenue per billing practitioner and program for a month: what is claimed
(accepted, not voided) and what is still billable, priced by the fee schedule in force."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import msgspec

from domain import catalog, elsewhere
from domain.catalog import DEFAULT_FEES, FeeSchedule
from domain.ledger import Ledger
from domain.rules.assess import assess
from domain.state import Claim
from projections.denials import underpaid


class ReportRow(msgspec.Struct):
    billing_provider_npi: str
    program: str
    claimed_units: int
    claimed_work_rvu: str
    claimed_amount: str
    billable_units: int
    billable_work_rvu: str
    billable_amount: str
    paid_amount: str = "0.00"  # what the payer paid on the claimed lines (835)
    underpaid_amount: str = "0.00"  # the fee schedule's allowed amount the payer paid short of


def report(ledger: Ledger, patients: list[str], month: str, fees: FeeSchedule = DEFAULT_FEES) -> list[ReportRow]:
    """Totals over the given patients' month (the worklist view lists who had activity)."""
    totals: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 8)
    assessed = []
    for view in ledger.month_views_of(patients, month):
        for claim in view.live_claims():
            for line in claim.submitted.lines:
                _add(totals, claim.submitted.billing_provider_npi, line.code, line.units, fees, 0)
            _payments(totals, claim, fees)
        assessed.append((assess(view, fees), view.patient.medicare_id))
    for row in elsewhere.withhold(ledger.elsewhere, assessed, ledger.policy):  # not billable if held elsewhere
        for item in row.billable:
            _add(totals, row.billing_provider_npi or "(none)", item.code, item.units, fees, 3)
    return [
        ReportRow(npi, program, int(t[0]), _q(t[1]), _q(t[2]), int(t[3]), _q(t[4]), _q(t[5]), _q(t[6]), _q(t[7]))
        for (npi, program), t in sorted(totals.items())
    ]


def _add(totals: dict[tuple[str, str], list[Decimal]], npi: str, code: str, units: int,
         fees: FeeSchedule, at: int) -> None:  # fmt: skip
    t = totals[(npi, _program(code))]
    t[at] += units
    t[at + 1] += fees.work_rvu(code) * units
    t[at + 2] += fees.fee(code) * units


def _payments(totals: dict[tuple[str, str], list[Decimal]], claim: Claim, fees: FeeSchedule) -> None:
    """A paid claim's payment, by program of each paid line (the first line's program when
    the answer has no lines), and what it was paid short of the fee schedule."""
    if not claim.paid:
        return
    answer = claim.adjudications[-1]
    npi = claim.submitted.billing_provider_npi
    paid_lines = [(x.code, x.paid or Decimal(0)) for x in answer.lines or ()]
    for code, amount in paid_lines or [(claim.submitted.lines[0].code, claim.paid_amount)]:
        totals[(npi, _program(code))][6] += amount
    totals[(npi, _program(claim.submitted.lines[0].code))][7] += underpaid(answer, fees)


def _program(code: str) -> str:
    spec = catalog.lookup(code)
    return str(spec.program) if spec is not None and spec.program is not None else "other"


def _q(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))
