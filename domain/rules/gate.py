"""The claim gate: a claim is accepted whole or refused whole, with every failing line's
reasons. Each line is judged by its own allowance (domain.rules.codes) and the lines
together with what is already claimed by the stacking rules (domain.rules.stacking)."""

from __future__ import annotations

from domain import catalog, facts
from domain.catalog import Kind
from domain.reasons import Because, Reason
from domain.rules.codes import allowance
from domain.rules.stacking import SCOPED, Line, conflicts
from domain.rules.view import MonthView


def claimed_lines(view: MonthView) -> list[Line]:
    """Lines already claimed that matter to this month: the month's live claims and the
    patient's cross-month lines."""
    month_lines = [
        Line(line.code, line.units, c.submitted.billing_provider_npi, view.month, None, c.submitted.claim_id)
        for c in view.live_claims()
        for line in c.submitted.lines
        if (spec := catalog.lookup(line.code)) is None or spec.kind not in SCOPED
    ]
    return month_lines + view.patient.scoped_lines()


def judge(claim: facts.ClaimSubmitted, view: MonthView) -> tuple[list[Because], list[Line]]:
    """The reasons to refuse `claim` (empty: accept) and its lines with their periods."""
    reasons: list[Because] = []
    new: list[Line] = []
    service_on = claim.service_on or view.first
    for line in claim.lines:
        spec = catalog.lookup(line.code)
        if spec is None:
            # G-12
            reasons.append(Because(Reason.CODE_UNKNOWN, f"{line.code} is not a code the ledger knows"))
            continue
        if not spec.payable_on(service_on):
            # G-11
            reasons.append(Because(
                Reason.CODE_RETIRED, f"{line.code} is not payable for dates of service from {spec.valid_until}"
            ))  # fmt: skip
            continue
        allowed = allowance(spec, view, claim.billing_provider_npi, claim.service_on)
        if not allowed.units and spec.kind is not Kind.EXCLUSION:
            reasons += [Because(r.code, f"{line.code}: {r.message}") for r in allowed.reasons]
            continue
        cap = view.policy.cap(line.code, spec.cap)
        within_cap = cap is None or line.units <= cap
        if allowed.units and line.units > allowed.units and within_cap:
            near = allowed.next_unit or Because(Reason.UNDER_THRESHOLD, f"{allowed.units} unit(s) supported")
            reasons.append(Because(near.code, f"{line.code} x{line.units}: {near.message}"))
        new.append(Line(line.code, line.units, claim.billing_provider_npi, view.month, allowed.scope, claim.claim_id))
    reasons += conflicts(new, claimed_lines(view), view.policy)
    return reasons, [line for line in new if line.scope is not None]
