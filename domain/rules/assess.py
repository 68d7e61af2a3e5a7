"""The worklist's judgement of one patient-month (interface.md section 4).

Each program's codes form components (the monthly tier, device days, setup, management,
G0506, TCM); a component bills one option (a base code and its add-ons). The best compliant
set is the combination of options that pays most and that the stacking rules accept beside
what is already claimed. Everything held back is listed with its reason.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import msgspec

from domain import facts
from domain.catalog import LANE, CodeSpec, FeeSchedule, Kind
from domain.reasons import Because, Reason
from domain.rules import minutes
from domain.rules.chronic import COUNTED_PROGRAMS, chronic_warning
from domain.rules.codes import Allowance, allowance
from domain.rules.components import Component, active_components, component_of
from domain.rules.gate import claimed_lines
from domain.rules.stacking import conflicts
from domain.rules.view import MonthView
from domain.state import Claim, Line

P = facts.Program
CENT = Decimal("0.01")
CHRONIC_LANES = frozenset(str(p) for p in COUNTED_PROGRAMS)  # lanes whose conditions must be chronic


class Billable(msgspec.Struct, omit_defaults=True):
    code: str
    units: int
    amount: str
    service_on: str | None = None  # the date of service, for codes whose period is not the month


class Blocked(msgspec.Struct, omit_defaults=True):
    code: str
    reason: str
    detail: str
    have: int | None = None  # for a count short of its threshold: what the record has,
    need: int | None = None  # what the next unit needs,
    unit: str | None = None  # and in what ("minutes" or "days")

    @classmethod
    def of(cls, code: str, reason: Because) -> Blocked:
        return cls(code, reason.code.value, reason.message, reason.have, reason.need, reason.unit)


class Claimed(msgspec.Struct, omit_defaults=True):
    claim_id: str
    codes: list[str]
    status: str  # interface.md section 4: always given
    missing: list[str] | None = None  # G-16: what an unsupported claim no longer stands on
    overpayment: str | None = None  # paid on a claim now unsupported: to be returned
    repay_by: str | None = None  # 60 days from when the ledger identified it


class WorklistRow(msgspec.Struct):
    patient_id: str
    month: str
    lane: str | None
    billing_provider_npi: str | None
    minutes: dict[str, dict[str, int]]
    device_days: dict[str, int]
    billable: list[Billable]
    blocked: list[Blocked]
    claimed: list[Claimed]
    estimated_total: str
    fee_schedule: str
    # Counted conditions the CMS CCW table does not hold chronic (the 2026 audit's focus).
    warnings: list[str] = msgspec.field(default_factory=list)


@dataclass
class Option:
    """A base code and its add-ons, as they could be billed now."""

    component: Component
    base: CodeSpec
    lines: list[Line]
    allowances: dict[str, Allowance]
    amount: Decimal


def billing_npi(view: MonthView) -> str | None:
    """The month's billing practitioner: who claimed, else the latest initiating visit's."""
    for claim in view.live_claims():
        return claim.submitted.billing_provider_npi
    visits = [v for v in view.patient.initiating_visits.values() if v.visit_on <= view.last]
    return max(visits, key=lambda v: v.visit_on).provider_npi if visits else None


def _options(
    view: MonthView, npi: str, fees: FeeSchedule, existing: list[Line], wanted: set[Component]
) -> dict[Component, list[Option]]:
    found: dict[Component, list[Option]] = {}
    for program in P:
        specs = [s for s in view.rules.codes_of(program) if s.kind not in (Kind.APCM_ADDON, Kind.EXCLUSION)]
        for base in (s for s in specs if not s.base and component_of(s) in wanted):
            addons = [s for s in specs if base.code in s.base]
            allowed = {s.code: allowance(s, view, npi) for s in [base, *addons]}
            lines = []
            for spec in [base, *addons]:
                a = allowed[spec.code]
                taken = sum(x.units for x in existing if x.code == spec.code and _same(x, a, view))
                if a.units > taken:
                    lines.append(Line(spec.code, a.units - taken, npi, view.month, a.scope))
            if allowed[base.code].units and lines:
                amount = sum((fees.fee(x.code) * x.units for x in lines), Decimal(0))
                found.setdefault(component_of(base), []).append(
                    Option(component_of(base), base, lines, allowed, amount)
                )
    return found


def _same(line: Line, a: Allowance, view: MonthView) -> bool:
    return line.scope == a.scope if a.scope is not None else line.month == view.month and line.scope is None


def _best(options: dict[Component, list[Option]], existing: list[Line], view: MonthView) -> list[Option]:
    """The combination (one option or none per component) that pays most and stacks cleanly."""
    best: list[Option] = []
    best_amount = Decimal(-1)
    choices = [[None, *opts] for opts in options.values()]
    for combo in itertools.product(*choices):
        chosen = [o for o in combo if o is not None]
        amount = sum((o.amount for o in chosen), Decimal(0))
        if amount <= best_amount:
            continue
        if not conflicts([x for o in chosen for x in o.lines], existing, view.policy, view.rules):
            best, best_amount = chosen, amount
    return best


def assess(view: MonthView, fees: FeeSchedule) -> WorklistRow:
    npi = billing_npi(view) or ""
    existing = claimed_lines(view)
    wanted = active_components(view)
    options = _options(view, npi, fees, existing, wanted)
    chosen = _best(options, existing, view)
    taken = [x for o in chosen for x in o.lines]
    blocked: list[Blocked] = []
    for opts in options.values():
        for option in opts:
            if option in chosen:
                blocked += _near_misses(option)
                continue
            why = conflicts(option.lines, existing + taken, view.policy, view.rules)
            reason = why[0] if why else Because(Reason.HIGHER_PAYING_OPTION, f"{option.base.code}: another pays more")
            blocked.append(Blocked.of(option.base.code, reason))
    for option in chosen:
        blocked += _better_but_blocked(view, option, npi, fees)
    done = {o.component for o in chosen} | set(options)
    for component in sorted(wanted - done):
        blocked += _why_not(view, component, npi)
    dates = {code: a.service_on for o in chosen for code, a in o.allowances.items() if a.service_on}
    billable = [Billable(x.code, x.units, _money(fees.fee(x.code) * x.units), _iso(dates.get(x.code))) for x in taken]
    total = sum((fees.fee(x.code) * x.units for x in taken), Decimal(0))
    lane = _lane(taken + existing, view.month)
    warning = chronic_warning(view) if lane in CHRONIC_LANES else None
    return WorklistRow(
        patient_id=view.patient.patient_id,
        month=view.month,
        lane=lane,
        billing_provider_npi=npi or None,
        minutes={p.value: minutes.by_role(view, p) for p in P if view.entries(p)},
        device_days=view.device_days_by_device(),
        billable=billable,
        blocked=blocked,
        claimed=[_claimed(c) for c in (view.current.claims.values() if view.current else ())],
        estimated_total=_money(total),
        fee_schedule=fees.name,
        warnings=[warning] if warning else [],
    )


def _claimed(claim: Claim) -> Claimed:
    gone = claim.withdrawn
    return Claimed(
        claim.submitted.claim_id,
        [x.code for x in claim.submitted.lines],
        claim.status,
        missing=[f"{r.code.value}: {r.message}" for r in gone.reasons] if gone else None,
        overpayment=_money(claim.paid_amount) if claim.repay_by else None,
        repay_by=claim.repay_by.isoformat() if claim.repay_by else None,
    )


def reprice(row: WorklistRow, fees: FeeSchedule) -> WorklistRow:
    """The same row priced by another schedule (a practice's own)."""
    billable = [Billable(b.code, b.units, _money(fees.fee(b.code) * b.units), b.service_on) for b in row.billable]
    total = sum((fees.fee(b.code) * b.units for b in row.billable), Decimal(0))
    return msgspec.structs.replace(row, billable=billable, estimated_total=_money(total), fee_schedule=fees.name)


def _near_misses(option: Option) -> list[Blocked]:
    """For a chosen option, how close the next add-on unit is (G-05)."""
    out = []
    for code, a in option.allowances.items():
        if code == option.base.code:
            continue
        near = a.next_unit or next((r for r in a.reasons if r.code is Reason.UNDER_THRESHOLD), None)
        if near is not None:
            out.append(Blocked.of(code, near))
    return out


def _better_but_blocked(view: MonthView, chosen: Option, npi: str, fees: FeeSchedule) -> list[Blocked]:
    """Codes of the chosen option's component that would pay at least as much and are held
    back only by a requirement (threshold met: a missing MDM, QMB status, ...) or only by a
    count short of its threshold (99454 at 15 of 16 days, 99457 at 19 of 20 minutes)."""
    out = []
    for spec in view.rules.codes_of(chosen.base.program or P.CCM):
        if spec.base or component_of(spec) != chosen.component or spec.code == chosen.base.code:
            continue
        a = allowance(spec, view, npi or None)
        if a.units or fees.fee(spec.code) < chosen.amount:
            continue
        if a.progress >= 1.0 and fees.fee(spec.code) > chosen.amount:
            out += [Blocked.of(spec.code, r) for r in a.reasons[:2]]
        elif a.reasons and all(r.need is not None for r in a.reasons):
            out += [Blocked.of(spec.code, r) for r in a.reasons]
    return out


def _why_not(view: MonthView, component: Component, npi: str) -> list[Blocked]:
    """A wanted component with nothing billable: the reasons of its closest option."""
    bases = [s for s in view.rules.codes_of(component.program) if not s.base and component_of(s) == component]
    judged = [(s, allowance(s, view, npi or None)) for s in bases]
    if not judged:
        return []
    spec, a = max(judged, key=lambda sa: _closeness(sa[1]))
    return [Blocked.of(spec.code, r) for r in a.reasons[:3]]


def _closeness(a: Allowance) -> tuple[float, int]:
    """The option nearest its threshold, then the one with fewest reasons."""
    return (a.progress, -len(a.reasons))


def _lane(lines: list[Line], month: str) -> str | None:
    for x in lines:
        if x.month == month and x.spec.program in LANE and x.spec.kind is not Kind.ASSESSMENT:
            return str(x.spec.program)
    return None


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()


def _money(amount: Decimal) -> str:
    return str(amount.quantize(CENT))
