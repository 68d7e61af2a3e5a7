"""Claims the payer did not pay in full: denied, partly paid, reversed, or paid below the
fee schedule in force. Each adjustment and remark is explained (projections.remit_codes)
with what to do next."""

from __future__ import annotations

from decimal import Decimal

import msgspec

from domain import records
from domain.catalog import DEFAULT_FEES, FeeSchedule
from domain.ledger import Ledger
from domain.state import Claim
from projections.remit_codes import carc, rarc

FREE = frozenset({"253"})  # sequestration: a reduction every Medicare payment carries
CENT = Decimal("0.01")


class Explained(msgspec.Struct, frozen=True):
    group: str
    code: str
    amount: str
    says: str
    next_step: str


class Remark(msgspec.Struct, frozen=True):
    code: str
    says: str


class DenialRow(msgspec.Struct):
    claim_id: str
    patient_id: str
    month: str
    status: str
    billing_provider_npi: str
    expected: str  # the fee schedule's allowed amount for the claim's lines
    paid: str
    underpaid: str  # allowed, less what the payer paid and the patient's share, on lines not denied
    adjustments: list[Explained]
    remarks: list[Remark]
    next_step: str


def denials(ledger: Ledger, patients: list[str], month: str, fees: FeeSchedule = DEFAULT_FEES) -> list[DenialRow]:
    out = []
    for view in ledger.month_views_of(patients, month):
        if view.current is None:
            continue
        for claim in view.current.claims.values():
            row = _row(claim, view.patient.patient_id, month, fees)
            if row is not None:
                out.append(row)
    return sorted(out, key=lambda r: (r.patient_id, r.claim_id))


def _row(claim: Claim, patient_id: str, month: str, fees: FeeSchedule) -> DenialRow | None:
    last = claim.adjudications[-1] if claim.adjudications else None
    if last is None or claim.voided is not None:
        return None
    expected = sum((fees.fee(x.code) * x.units for x in claim.submitted.lines), Decimal(0))
    short = underpaid(last, fees)
    if claim.status not in ("denied", "partial", "reversed") and short < CENT:
        return None
    adjustments = [a for x in last.lines or () for a in x.adjustments]
    explained = [Explained(a.group.value, a.reason, _q(a.amount), *carc(a.reason)) for a in adjustments]
    codes = list(dict.fromkeys(r for x in last.lines or () for r in x.remarks))
    # Claim-level adjustments ("CO-50") and remarks (an MOA's "MA130") are kept in reason_codes.
    shown = {f"{a.group}-{a.code}" for a in explained}
    for code in last.reason_codes or ():
        group, _, reason = code.partition("-")
        if reason and code not in shown:
            explained.append(Explained(group, reason, "", *carc(reason)))
        elif not reason and code not in codes:
            codes.append(code)
    remarks = [Remark(code, rarc(code)) for code in codes]
    return DenialRow(
        claim.submitted.claim_id, patient_id, month, claim.status, claim.submitted.billing_provider_npi,
        _q(expected), _q(claim.paid_amount), _q(short), explained, remarks, _next_step(claim, explained, short),
    )  # fmt: skip


def underpaid(answer: records.ClaimAdjudicated, fees: FeeSchedule) -> Decimal:
    """What the payer paid short of the fee schedule on the lines it paid: the allowed
    amount less the payment, the patient's share (PR) and sequestration."""
    if answer.outcome.value not in ("paid", "partial"):
        return Decimal(0)
    short = Decimal(0)
    for line in answer.lines or ():
        if not line.paid:
            continue  # a denied line is a denial, not an underpayment
        covered = (line.paid or Decimal(0)) + sum(
            (a.amount for a in line.adjustments if a.group.value == "PR" or a.reason in FREE), Decimal(0)
        )
        short += max(Decimal(0), fees.fee(line.code) * line.units - covered)
    return short


def _next_step(claim: Claim, explained: list[Explained], short: Decimal) -> str:
    if claim.status == "reversed":
        return "the payer took the payment back: wait for its corrected payment, or void the claim"
    for item in explained:
        if item.group != "PR" and item.code not in FREE and item.code != "45":
            return item.next_step
    if short >= CENT:
        return "paid below the fee schedule: check the payer's allowed amount; appeal if it is wrong"
    return explained[0].next_step if explained else "read the payer's explanation"


def _q(amount: Decimal) -> str:
    return str(amount.quantize(CENT))
