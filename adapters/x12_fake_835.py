"""The stand-in payer's 835 (005010X221A1), for tests and demos only: never for production.

Medicare Part B pays each claim of an 837P as a plan says (paid, underpaid, partly or wholly
denied, reversed and paid again), with amounts that balance the way an 835 must: per line
SVC02 - SVC03 = its CAS amounts, per claim CLP04 = the lines paid, and BPR02 = the CLP04s.
The envelope and the 837's reading are adapters.x12_fake's."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from adapters.x12 import Segments, money
from adapters.x12_fake import (
    PAYER_ZONE,
    Claim,
    Line,
    Submission,
    interchange,
    payer_claim_number,
    read_837,
    unknown_claims,
)

PLANS = ("paid", "underpaid", "partial", "denied-97", "denied-B20", "reversed-repaid")
PAYER_TAX_ID = "1999999999"  # TRN03 and BPR10: "1" and a made-up 9-digit tax id
PAID_SHARE = Decimal("0.80")  # Medicare pays 80% of the allowed amount...
SEQUESTRATION = Decimal("0.98")  # ...less 2% sequestration (CO-253); the patient owes 20% (PR-2)
UNDERPAID = Decimal("0.90")  # "underpaid": 10% less, the difference a CO-45 fee-schedule cut
BUNDLED_REMARK = "M15"  # separately billed services bundled: with CARC 97
ELSEWHERE_REMARK = "M86"  # paid already for the same service: with CARC B20 (another provider billed it)
ZERO = Decimal(0)


@dataclass
class Adjudicated:
    """One service line as paid: amounts, CAS (group, reason, amount), LQ remarks."""

    line: Line
    charge: Decimal
    paid: Decimal
    allowed: Decimal | None  # AMT*B6; None on a denied line
    adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)


def remit_835(text_837: str, plan: Mapping[str, str] | None = None, *, control: int = 900003,
              now: datetime | None = None, trace: str = "EFT0001", skip: Collection[str] = ()) -> str:  # fmt: skip
    """The 835 paying the 837's claims; plan maps CLM01 to one of PLANS (default "paid"). A
    void (frequency 8) is answered by reversing the payment; `skip` leaves claims out (the
    ones the clearinghouse rejected never reach the payer)."""
    sub, moment, plan = read_837(text_837), now or datetime.now(PAYER_ZONE), plan or {}
    unknown_claims(sub, plan)
    loops = [(claim, status, lines) for claim in sub.claims if claim.claim_id not in skip
             for status, lines in outcomes(claim, plan.get(claim.claim_id, "paid"))]  # fmt: skip
    total = sum((a.paid for _, _, lines in loops for a in lines), ZERO)
    body = Segments()
    _header(body, sub, total, trace, moment)
    for claim, status, lines in loops:
        _claim_payment(body, claim, status, lines)
    return interchange(sub, "835", "005010X221A1", "HP", body, control, moment, st03=False)


def outcomes(claim: Claim, plan: str) -> list[tuple[str, list[Adjudicated]]]:
    """The CLP loops (CLP02, lines) that answer one claim under a plan."""
    paid = [_paid(line) for line in claim.lines]
    if claim.frequency == "8":
        return [("22", [_negated(a) for a in paid])]
    if plan == "paid":
        return [("1", paid)]
    if plan == "underpaid":
        return [("1", [_underpaid(line) for line in claim.lines])]
    if plan == "partial":
        return [("1", paid[:1] + [_denied(line, "97", BUNDLED_REMARK) for line in claim.lines[1:]])]
    if plan == "denied-97":
        return [("4", [_denied(line, "97", BUNDLED_REMARK) for line in claim.lines])]
    if plan == "denied-B20":
        return [("4", [_denied(line, "B20", ELSEWHERE_REMARK) for line in claim.lines])]
    if plan == "reversed-repaid":
        return [("22", [_negated(a) for a in paid]), ("1", paid)]
    raise ValueError(f"claim {claim.claim_id}: no plan {plan!r} (one of {', '.join(PLANS)})")


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _paid(line: Line) -> Adjudicated:
    """Allowed = charge; paid 80% less sequestration; coinsurance 20%; sequestration takes
    what is left, so the rounding never unbalances the line."""
    paid = _cents(line.charge * PAID_SHARE * SEQUESTRATION)
    coinsurance = _cents(line.charge * (1 - PAID_SHARE))
    sequestered = line.charge - coinsurance - paid
    return Adjudicated(line, line.charge, paid, line.charge, [("CO", "253", sequestered), ("PR", "2", coinsurance)])


def _underpaid(line: Line) -> Adjudicated:
    """A fee-schedule cut (CO-45) lowers the allowed amount and the payment by the same sum."""
    full = _paid(line)
    paid = _cents(full.paid * UNDERPAID)
    cut = full.paid - paid
    return Adjudicated(line, line.charge, paid, line.charge - cut, [*full.adjustments, ("CO", "45", cut)])


def _denied(line: Line, reason: str, remark: str) -> Adjudicated:
    return Adjudicated(line, line.charge, ZERO, None, [("CO", reason, line.charge)], [remark])


def _negated(a: Adjudicated) -> Adjudicated:
    """The reversal of a payment: every amount with its sign turned."""
    return Adjudicated(a.line, -a.charge, -a.paid, None if a.allowed is None else -a.allowed,
                       [(group, reason, -amount) for group, reason, amount in a.adjustments], a.remarks)  # fmt: skip


def _amount(value: Decimal) -> str:
    return money(value) if value else "0"  # a negated zero would print as "-0"


def _header(body: Segments, sub: Submission, total: Decimal, trace: str, now: datetime) -> None:
    """BPR and TRN (the EFT, or a notice when nothing is paid), the payer (1000A, with the
    technical contact X221 requires), the payee from the 837's billing provider (1000B)."""
    day = f"{now:%Y%m%d}"
    if total:
        bank = ("CCP", "01", "999999992", "DA", "100200300", PAYER_TAX_ID, "", "01", "999999994", "DA", "400500600")
        body.add("BPR", "I", _amount(total), "C", "ACH", *bank, day)
    else:
        body.add("BPR", "H", "0", "C", "NON", *[""] * 11, day)
    body.add("TRN", "1", trace, PAYER_TAX_ID)
    body.add("DTM", "405", day)
    body.add("N1", "PR", sub.payer_name)
    body.add("N3", "PO BOX 1000")
    body.add("N4", "SPRINGFIELD", "IL", "627050000")
    body.add("PER", "BL", "EDI HELP DESK", "TE", "8005550199")
    body.add("N1", "PE", sub.billing_name, "XX", sub.billing_npi)
    body.add("N3", sub.address)
    body.add("N4", sub.city, sub.state, sub.zip)
    if sub.tax_id:
        body.add("REF", "TJ", sub.tax_id)
    body.add("LX", "1")


def _claim_payment(body: Segments, claim: Claim, status: str, lines: list[Adjudicated]) -> None:
    """Loop 2100: the claim's totals, the patient, then each service line (loop 2110)."""
    charge, paid = sum((a.charge for a in lines), ZERO), sum((a.paid for a in lines), ZERO)
    owed = sum((amount for a in lines for group, _, amount in a.adjustments if group == "PR"), ZERO)
    body.add("CLP", claim.claim_id, status, _amount(charge), _amount(paid), _amount(owed), "MB",
             payer_claim_number(claim.claim_id), claim.place, "1", keep_case=True)  # fmt: skip
    body.add("NM1", "QC", "1", claim.last_name, claim.first_name, "", "", "", "MI", claim.member_id)
    for a in lines:
        body.add_composite("SVC", f"HC:{a.line.code}", _amount(a.charge), _amount(a.paid), "", a.line.units)
        if a.line.date:
            body.add("DTM", "472", a.line.date)
        groups: dict[str, list[str]] = {}
        for group, reason, amount in a.adjustments:
            if amount:  # a zero adjustment is no adjustment
                groups.setdefault(group, []).extend([reason, _amount(amount), ""])
        for group, parts in groups.items():
            body.add("CAS", group, *parts)
        if a.allowed is not None:
            body.add("AMT", "B6", _amount(a.allowed))
        for remark in a.remarks:
            body.add("LQ", "HE", remark)
