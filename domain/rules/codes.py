"""How many units of one code the record supports for a patient-month, and why not more.

`allowance` is the single place a code's own requirements are judged: thresholds, unit steps
and caps from the catalog (G-05, G-06), performers (P-CCM-5), device days (P-RPM-1), APCM
levels (P-APCM-1), TCM clocks (P-TCM-1) and G0506 (P-CCM-7), after the program-level
requirements of domain.rules.eligibility. The worklist and the claim gate both call it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from domain import facts
from domain.catalog import ANYONE, STAFF, CodeSpec, Kind, Need
from domain.claim_records import OncePerPractitioner
from domain.month import month_bounds, shift_month
from domain.reasons import Because, Reason
from domain.rules import chronic, eligibility, minutes
from domain.rules.allowance import Allowance as Allowance, allowed
from domain.rules.devices import device, setup
from domain.rules.tcm import tcm
from domain.rules.view import MonthView

P = facts.Program
MODERATE = facts.MdmLevel.MODERATE


def allowance(spec: CodeSpec, view: MonthView, npi: str | None, service_on: date | None = None) -> Allowance:
    """G-14: the program's prerequisites and the code's own requirements, each judged."""
    blocked: list[Because] = []
    if spec.kind in (Kind.TIME, Kind.DEVICE, Kind.SETUP, Kind.APCM, Kind.APCM_ADDON):
        assert spec.program is not None
        blocked = eligibility.program_reasons(view, spec.program, npi, service_on)
        blocked += _not_chronic(spec, view, blocked)
    judge = _JUDGES.get(spec.kind)
    own = judge(spec, view, npi, service_on) if judge else allowed(1)
    if not blocked:
        return own
    said = {r.code for r in blocked}  # a missing consent is said once, not again per entry
    return replace(own, units=0, reasons=blocked + [r for r in own.reasons if r.code not in said], next_unit=None)


def _not_chronic(spec: CodeSpec, view: MonthView, blocked: list[Because]) -> list[Because]:
    """Policy `refuse_non_chronic`: conditions counted for CCM, PCM or APCM must be chronic
    by the CMS CCW table too (by default the worklist only warns: chronic.chronic_warning)."""
    program = spec.program
    if not view.policy.refuse_non_chronic or program not in chronic.COUNTED_PROGRAMS:
        return []
    if any(r.code is Reason.CONDITIONS_INSUFFICIENT for r in blocked):
        return []
    needed = spec.minimum if program is P.APCM else eligibility.QUALIFYING[program][1]
    have = chronic.counted_if_chronic(view, program)
    if not needed or have >= needed:
        return []
    said = f"{program} needs {needed} chronic conditions by the CMS CCW table; {have} in {view.month}"
    return [Because(Reason.CONDITIONS_INSUFFICIENT, said)]


def minimum_for(spec: CodeSpec, view: MonthView) -> int:
    """P-COCM-1: 99494 starts at 86 minutes in the first month, 76 later."""
    assert spec.minimum is not None
    if spec.later_minimum is not None and not _is_first_month(view, spec):
        return spec.later_minimum
    return spec.minimum


def _is_first_month(view: MonthView, spec: CodeSpec) -> bool:
    assert spec.program is not None
    return eligibility.first_month(view, spec.program) == view.month


def _time(spec: CodeSpec, view: MonthView, npi: str | None, service_on: date | None) -> Allowance:
    assert spec.program is not None
    logged = minutes.counted(view, spec.program, spec.roles)
    minimum = minimum_for(spec, view)
    progress = min(logged / minimum, 1.0) if minimum else 1.0
    reasons = _requirements(spec, view)
    if logged < minimum:
        reasons += [*_not_counted(spec, view), _short(spec, view, logged, minimum)]
        return Allowance(reasons=reasons, progress=progress)
    if spec.maximum is not None and logged > spec.maximum:
        band = Because(
            Reason.BAND_EXCEEDED,
            f"{spec.code} is for {minimum}-{spec.maximum} minutes; {logged} logged: bill the next code",
        )
        return Allowance(reasons=[*reasons, band], past_band=band)
    supported, near = 1, None
    if spec.step is not None:
        cap = view.policy.cap(spec.code, spec.cap)
        supported = (logged - minimum) // spec.step + 1
        if cap is not None and supported >= cap:
            supported = cap
        else:
            need = minimum + supported * spec.step
            near = Because(
                Reason.UNDER_THRESHOLD, f"unit {supported + 1} needs {need} minutes; {logged} logged",
                have=logged, need=need, unit="minutes",
            )  # fmt: skip
    return Allowance(0 if reasons else supported, reasons, near, progress=progress, supported=supported)


def _not_counted(spec: CodeSpec, view: MonthView) -> list[Because]:
    """G-04, G-10, P-CCM-7: when minutes fall short, say which logged minutes did not count."""
    assert spec.program is not None
    lost: dict[Reason, list[str]] = {}
    for entry, why in minutes.excluded(view, spec.program):
        if entry.staff_role in spec.roles:
            lost.setdefault(why.code, []).append(f"{entry.minutes} min ({why.message})")
    return [Because(code, "not counted: " + "; ".join(items)) for code, items in lost.items()]


def _short(spec: CodeSpec, view: MonthView, logged: int, minimum: int) -> Because:
    """G-05 UNDER_THRESHOLD with the near miss; P-CCM-5 WRONG_PERFORMER when others' minutes would do."""
    assert spec.program is not None
    if spec.roles != ANYONE and minutes.counted(view, spec.program, ANYONE) >= minimum:
        who = "clinical staff" if spec.roles == STAFF else "the practitioner's own"
        code, message = Reason.WRONG_PERFORMER, f"{spec.code} needs {minimum} minutes of {who} time; {logged} logged"
    elif spec.step is not None:
        code, message = Reason.UNDER_THRESHOLD, f"unit 1 needs {minimum} minutes; {logged} logged"
    else:
        code, message = Reason.UNDER_THRESHOLD, f"{logged} of {minimum} minutes"
    return Because(code, message, have=logged, need=minimum, unit="minutes")


def _requirements(spec: CodeSpec, view: MonthView) -> list[Because]:
    """Requirements of particular codes beyond minutes."""
    reasons: list[Because] = []
    if Need.INTERACTION in spec.needs and not any(e.interactive for e in view.entries(spec.program or P.RPM)):
        # P-RPM-3, P-RTM-1: management needs an interactive communication in the month.
        reasons.append(Because(Reason.INTERACTION_MISSING, f"no interactive communication logged in {view.month}"))
    if Need.MONTHLY_MDM in spec.needs:
        reasons += _complex_ccm(view)
    if spec.first_month is not None and spec.first_month != _is_first_month(view, spec):
        # P-COCM-1: 99492 is the first month of CoCM, 99493 the months after.
        which = "first" if spec.first_month else "a later"
        reasons.append(Because(Reason.CODE_CONFLICT, f"{spec.code} is for {which} month of CoCM"))
    if Need.IN_PERSON_START in spec.needs and _is_first_month(view, spec) and not _cpm_visit(view):
        # P-CPM-1: the first month needs an in-person visit of at least 30 minutes.
        reasons.append(Because(
            Reason.INITIATING_VISIT_MISSING, f"first CPM month {view.month} has no in-person visit of 30 minutes"
        ))  # fmt: skip
    if Need.RATING_SCALE in spec.needs and not _rating_scale(view):
        # P-BHI-1: a rating scale administered in the month or the month before.
        reasons.append(Because(
            Reason.RATING_SCALE_MISSING, f"no rating scale administered in {view.month} or the month before"
        ))  # fmt: skip
    return reasons


def _complex_ccm(view: MonthView) -> list[Because]:
    """P-CCM-6: moderate or high MDM in the month and a plan established or substantially revised."""
    reasons = []
    if not any(d.level.rank >= MODERATE.rank for d in view.decisions()):
        reasons.append(Because(Reason.MDM_INSUFFICIENT, f"no moderate or high medical decision making in {view.month}"))
    in_month = [
        p for p in view.patient.care_plans.values()
        if facts.Program.CCM in p.established.programs and (
            view.first <= p.established.established_on <= view.last
            or any(r.substantial and view.first <= r.revised_on <= view.last for r in p.revisions)
        )
    ]  # fmt: skip
    if not in_month:
        reasons.append(Because(
            Reason.CARE_PLAN_MISSING, f"care plan not established or substantially revised in {view.month}"
        ))  # fmt: skip
    return reasons


def _cpm_visit(view: MonthView) -> bool:
    return any(
        v.in_person and (v.minutes or 0) >= 30 and view.first <= v.visit_on <= view.last
        and v.program in (None, P.CPM)
        for v in view.patient.visits.values()
    )  # fmt: skip


def _rating_scale(view: MonthView) -> bool:
    start = month_bounds(shift_month(view.month, -1))[0]
    return any(start <= s.administered_on <= view.last for s in view.patient.rating_scales)


def _apcm(spec: CodeSpec, view: MonthView, npi: str | None, service_on: date | None) -> Allowance:
    """P-APCM-1: G0556 for 0-1 chronic conditions, G0557 for 2+, G0558 for 2+ and QMB."""
    assert spec.minimum is not None
    count = eligibility.chronic_count(view)
    if count < spec.minimum:
        return Allowance(reasons=[Because(
            Reason.CONDITIONS_INSUFFICIENT, f"{spec.code} needs {spec.minimum}+ chronic conditions; {count} active"
        )])  # fmt: skip
    if spec.maximum is not None and count > spec.maximum:
        return Allowance(reasons=[Because(
            Reason.BAND_EXCEEDED, f"{count} chronic conditions: {spec.code} is for {spec.maximum} or fewer"
        )])  # fmt: skip
    if Need.QMB in spec.needs and not qmb_all_month(view):
        return Allowance(reasons=[Because(Reason.QMB_REQUIRED, f"patient is not a QMB for all of {view.month}")])
    return allowed(1)


def qmb_all_month(view: MonthView) -> bool:
    changes = sorted(view.patient.qmb, key=lambda c: c[0] or date.min)
    days = [view.first] + [d for d, _ in changes if d is not None and view.first < d <= view.last]
    return all(qmb_on(changes, d) for d in days)


def qmb_on(changes: list[tuple[date | None, bool]], day: date) -> bool:
    """The QMB status on a day, after every change effective by then (in recorded order)."""
    status = False
    for effective, qmb in changes:
        if effective is None or effective <= day:
            status = qmb
    return status


def _assessment(spec: CodeSpec, view: MonthView, npi: str | None, service_on: date | None) -> Allowance:
    """P-CCM-7: G0506 with an initiating visit on the same date that recorded extended assessment."""
    for visit in view.patient.initiating_visits.values():
        on_day = service_on == visit.visit_on or (service_on is None and view.first <= visit.visit_on <= view.last)
        if visit.extended_assessment and on_day and npi in (None, visit.provider_npi):
            return allowed(1, scope=OncePerPractitioner(spec.code, visit.provider_npi), service_on=visit.visit_on)
    return Allowance(reasons=[Because(
        Reason.INITIATING_VISIT_MISSING, f"{spec.code} needs an initiating visit that date with extended assessment"
    )])  # fmt: skip


_JUDGES = {
    Kind.TIME: _time,
    Kind.DEVICE: device,
    Kind.SETUP: setup,
    Kind.APCM: _apcm,
    Kind.TCM: tcm,
    Kind.ASSESSMENT: _assessment,
}
