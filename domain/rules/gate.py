"""The claim gate: a claim is accepted whole or refused whole, with every reason that applies.

A claim is judged as a whole (G-06, G-08): its lines are summed per code, and with the units
the patient's live claims already hold for the same period, before units are compared with
what the record supports, so cutting a claim into lines or into several claims never bills
more. Every prerequisite, threshold, cap and conflict is judged on its own (G-14): a line
whose prerequisites fail is still judged for duplicates and conflicts. Codes are judged under
the rule year of the date of service (domain.rulebook), and an accepted claim carries that
verdict (G-17).
"""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import NamedTuple

from domain import catalog, facts, records
from domain.catalog import CodeSpec, Kind
from domain.claim_records import Verdict
from domain.policy import Policy
from domain.reasons import Because, Reason
from domain.rules.codes import Allowance, allowance
from domain.rules.evidence import stood_on
from domain.rules.stacking import SCOPED, addons, conflicts, same_period
from domain.rules.view import MonthView
from domain.state import Claim, Line
from domain.timing import local_day

# G-15: codes whose date of service is a day, so no period has to end first.
DAY_CODES = frozenset({Kind.SETUP, Kind.TCM, Kind.ASSESSMENT, Kind.EXCLUSION})


# A claim as it comes in, or as it was stored when accepted (re-judged under G-16).
ClaimFact = facts.ClaimSubmitted | records.ClaimSubmitted


class Judgement(NamedTuple):
    reasons: list[Because]  # empty: accept
    lines: list[Line]  # one per code, units summed, with their periods
    verdict: Verdict


def merged(claim: ClaimFact) -> dict[str, int]:
    """Units per code over every line of the claim, in the order codes first appear."""
    units: dict[str, int] = {}
    for line in claim.lines:
        units[line.code] = units.get(line.code, 0) + line.units
    return units


def claimed_lines(view: MonthView, leave_out: str | None = None) -> list[Line]:
    """Lines already claimed that matter to this month: the month's live claims and the
    patient's cross-month lines (one claim left out, when it is the one re-judged)."""
    month_lines = [
        Line(code, units, c.submitted.billing_provider_npi, view.month, None, c.submitted.claim_id)
        for c in view.live_claims()
        for code, units in merged(c.submitted).items()
        if (spec := catalog.lookup(code)) is None or spec.kind not in SCOPED
    ]
    lines = month_lines + view.patient.scoped_lines()
    return [x for x in lines if x.claim_id != leave_out] if leave_out else lines


def judge(claim: ClaimFact, view: MonthView, at: datetime) -> Judgement:
    """Every reason to refuse `claim` (none: accept), its lines and the verdict to record."""
    service_on = claim.service_on or view.first
    rules = view.rules_on(service_on)
    existing = claimed_lines(view)
    reasons: list[Because] = []
    new: list[Line] = []
    supported: dict[str, int] = {}
    for code, units in merged(claim).items():
        refusal = view.rulebook.refusal(code, service_on)
        spec = rules.spec(code)
        if refusal is not None or spec is None:
            # G-11, G-12, effective dates; a known code is still judged for conflicts (G-14).
            reasons.append(refusal or Because(Reason.CODE_UNKNOWN, f"{code} is not a code the ledger knows"))
            if catalog.lookup(code) is not None:
                new.append(Line(code, units, claim.billing_provider_npi, view.month, None, claim.claim_id))
            continue
        a = allowance(spec, view, claim.billing_provider_npi, claim.service_on)
        reasons += [_about(code, r) for r in a.reasons]
        line = Line(code, units, claim.billing_provider_npi, view.month, a.scope, claim.claim_id)
        reasons += _units(line, spec, a, existing, view) + _period_open(spec, a, view, at)
        supported[code] = a.supported
        new.append(line)
    reasons += conflicts(new, existing, view.policy, rules) + _after_death(claim, view)
    verdict = Verdict(rules.name, supported, stood_on(view, new, claim.billing_provider_npi))
    return Judgement(list(dict.fromkeys(reasons)), new, verdict)


def shortfall(claim: Claim, view: MonthView) -> list[Because]:
    """G-16: what the record no longer supports of an accepted claim, judged again under the
    rule year it was judged under, on the time entries it was accepted on (G-17): an entry
    recorded after the claim is a finding, not support. Conflicts were settled when it was
    accepted."""
    submitted = claim.submitted
    if claim.verdict is not None:  # time recorded after the claim never props it up again
        accepted_on = frozenset(r.ref for r in claim.verdict.stood_on if r.kind == "time_entry")
        view = dataclasses.replace(view, entry_ids=accepted_on)
    rules = view.rules_on(submitted.service_on or view.first)
    reasons: list[Because] = []
    lines: list[Line] = []
    for code, units in merged(submitted).items():
        spec = rules.spec(code)
        if spec is None:
            continue
        a = allowance(spec, view, submitted.billing_provider_npi, submitted.service_on)
        # A record grown past the code's band supports more, not less: under-coded, not unsupported.
        reasons += [_about(code, r) for r in a.reasons if r is not a.past_band]
        if not a.reasons and units > a.supported:
            reasons.append(_fewer(code, units, a))
        lines.append(Line(code, units, submitted.billing_provider_npi, view.month, a.scope, submitted.claim_id))
    # G-06: an add-on whose base was on another claim, since voided; G-18: a death before the
    # date of service, recorded after the claim.
    reasons += addons(lines, claimed_lines(view, leave_out=submitted.claim_id), view.policy, rules)
    reasons += _after_death(submitted, view)
    return list(dict.fromkeys(reasons))


def _after_death(claim: ClaimFact, view: MonthView) -> list[Because]:
    """G-18: no service dated after the patient's death (a month that begins after it is
    eligibility's to refuse)."""
    if claim.service_on is not None and view.after_death(claim.service_on):
        return [
            Because(Reason.PATIENT_DECEASED, f"the date of service {claim.service_on} is after the patient's death")
        ]
    return []


def _about(code: str, reason: Because) -> Because:
    """The reason, naming the code it is about (once)."""
    message = reason.message if reason.message.startswith(code) else f"{code}: {reason.message}"
    return Because(reason.code, message, reason.have, reason.need, reason.unit)


def _units(line: Line, spec: CodeSpec, a: Allowance, existing: list[Line], view: MonthView) -> list[Because]:
    """G-05, G-06: the units of a code on this claim and on the live claims of the same
    period, against what the record supports (the cap is stacking's ADDON_CAP_EXCEEDED)."""
    before = sum(x.units for x in existing if x.code == line.code and same_period(x, line))
    total = before + line.units
    cap = view.policy.cap(line.code, spec.cap)
    if not a.supported or min(total, cap or total) <= a.supported:
        return []
    return [_fewer(line.code, total, a, in_all=before > 0)]


def _fewer(code: str, units: int, a: Allowance, *, in_all: bool = False) -> Because:
    near = a.next_unit
    claimed = f"{code} x{units}{' over this and earlier claims' if in_all else ''}"
    detail = f" ({near.message})" if near is not None else ""
    message = f"{claimed}: the record supports {a.supported}{detail}"
    if near is not None:
        return Because(Reason.UNDER_THRESHOLD, message, near.have, near.need, near.unit)
    return Because(Reason.UNDER_THRESHOLD, message, a.supported, units, "units")


def _period_open(spec: CodeSpec, a: Allowance, view: MonthView, at: datetime) -> list[Because]:
    found = period_open(spec, view.last, a.service_on, view.policy, local_day(at, view.policy))
    return [] if found is None else [found]


def period_open(spec: CodeSpec, last: date, service_on: date | None, policy: Policy, today: date) -> Because | None:
    """G-15: a monthly code waits for the month's last day (`last`), a device code for its
    period's 30th (its date of service); codes whose date of service is a day do not wait.
    The gate and the worklist (domain.rules.open_periods) both ask here."""
    if spec.kind in DAY_CODES:
        return None
    end: date | None = last
    if spec.kind is Kind.DEVICE:
        end = service_on
    elif policy.bill_when_threshold_met:
        return None
    if end is None or today >= end:
        return None
    return Because(Reason.PERIOD_OPEN, f"{spec.code}: its period runs to {end}; claim it from then")
