"""Program-level requirements: consent, qualifying conditions, initiating visit, care plan.

Each function returns the reasons a program cannot be billed for the view's month (empty
when it can). Which program needs which requirement is the table REQUIREMENTS below.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from domain import facts, records
from domain.month import add_months, month_bounds, month_of_day
from domain.reasons import Because, Reason
from domain.rules.view import MonthView
from domain.state import CarePlan, ConditionEpisode, ConsentEpisode

P = facts.Program

# G-09: consent must record that cost-sharing and the one-practitioner rule were explained.
COMPLETE_CONSENT = frozenset({P.CCM, P.PCM, P.APCM, P.BHI})


def consent_in_force(view: MonthView, program: facts.Program, on: date) -> ConsentEpisode | None:
    """G-09: the consent of the program with the latest date on or before `on`."""
    episodes = [e for e in view.patient.consents.get(program, []) if e.recorded.recorded_on <= on]
    return max(episodes, key=lambda e: e.recorded.recorded_on) if episodes else None


def consent(view: MonthView, program: facts.Program, service_on: date) -> list[Because]:
    """G-09: consent on file by the date of service and not revoked (a revocation dated on or
    after the consent takes effect at the end of its calendar month, whenever either was
    recorded); complete for CCM, PCM, APCM and BHI."""
    if program in (P.RPM, P.RTM) and not view.policy.device_consent_required:
        return []
    latest = consent_in_force(view, program, service_on)
    if latest is None:
        return [Because(Reason.CONSENT_MISSING, f"No {program} consent on file by {service_on}")]
    since = [r for r in view.patient.revocations.get(program, []) if r >= latest.recorded.recorded_on]
    if since and month_bounds(_month(min(since)))[1] < view.first:
        return [Because(Reason.CONSENT_REVOKED, f"{program} consent was revoked on {min(since)}")]
    got = latest.recorded
    if program in COMPLETE_CONSENT and not (got.cost_sharing_explained and got.one_practitioner_explained):
        missing = [
            name
            for name, done in (
                ("cost-sharing", got.cost_sharing_explained),
                ("one-practitioner rule", got.one_practitioner_explained),
            )
            if not done
        ]
        return [
            Because(
                Reason.CONSENT_INCOMPLETE,
                f"{program} consent of {got.recorded_on} does not record that the "
                f"{' and '.join(missing)} was explained",
            )
        ]
    return []


def active_conditions(view: MonthView) -> list[records.ConditionDiagnosed]:
    """Conditions diagnosed by the month's end and not resolved before it began."""
    return [ep.diagnosed for eps in view.patient.conditions.values() for ep in eps if active(ep, view)]


def active(ep: ConditionEpisode, view: MonthView) -> bool:
    return ep.diagnosed.diagnosed_on <= view.last and (ep.resolved_on is None or ep.resolved_on >= view.first)


def chronic_count(view: MonthView) -> int:
    """P-APCM-1: chronic conditions (expected to last 12 months or more) active in the month."""
    return len({c.condition_id for c in active_conditions(view) if c.expected_duration_months >= 12})


# Per program: which active conditions qualify, how many are needed, and what to call them.
QUALIFYING: dict[facts.Program, tuple[Callable[[records.ConditionDiagnosed], bool], int, str]] = {
    # P-CCM-1: two or more, each expected to last 12 months and placing the patient at risk.
    P.CCM: (lambda c: c.expected_duration_months >= 12 and c.significant_risk, 2,
            "chronic conditions expected to last 12 months and placing the patient at significant risk"),
    # P-PCM-1: one high-risk condition expected to last at least 3 months.
    P.PCM: (lambda c: c.expected_duration_months >= 3 and c.significant_risk, 1,
            "high-risk condition expected to last at least 3 months"),
    # P-BHI-1: a behavioral diagnosis.
    P.BHI: (lambda c: c.behavioral, 1, "behavioral health diagnosis"),
    # P-CPM-1: chronic pain lasting longer than 3 months.
    P.CPM: (lambda c: c.chronic_pain and c.expected_duration_months > 3, 1,
            "chronic pain condition lasting longer than 3 months"),
}  # fmt: skip


def conditions(view: MonthView, program: facts.Program) -> list[Because]:
    """P-CCM-1, P-PCM-1, P-BHI-1, P-CPM-1: enough qualifying conditions active in the month."""
    rule = QUALIFYING.get(program)
    if rule is None:
        return []
    qualifies, needed, what = rule
    found = {c.condition_id for c in active_conditions(view) if qualifies(c)}
    if len(found) >= needed:
        return []
    return [
        Because(
            Reason.CONDITIONS_INSUFFICIENT,
            f"{program} needs {needed} {what}; {len(found)} active in {view.month}",
        )
    ]


def first_month(view: MonthView, program: facts.Program) -> str:
    """P-CCM-2: a program's first month is the first calendar month with a service of it on
    record (a time entry or a claim), not the month of consent; with none before, this one."""
    first = view.patient.first_service(program)
    return view.month if first is None or first > view.month else first


def qualifying_visits(
    view: MonthView, program: facts.Program, npi: str | None
) -> list[records.InitiatingVisitRecorded]:
    """P-CCM-2, P-APCM-1: the initiating visits by the billing practitioner within the rule
    year's look-back (12 months; APCM 3 years) before the program's first month."""
    lookback = view.rules.year.visit_lookback_months.get(program)
    if lookback is None:
        return []
    earliest = add_months(month_bounds(first_month(view, program))[0], -lookback)
    return [v for v in _visits(view, program, npi) if v.visit_on >= earliest]


def _visits(view: MonthView, program: facts.Program, npi: str | None) -> list[records.InitiatingVisitRecorded]:
    """The billing practitioner's visits by the end of the program's first month: a visit
    after the program began does not initiate it (P-CCM-2)."""
    by = month_bounds(first_month(view, program))[1]
    visits = view.patient.initiating_visits.values()
    return [v for v in visits if (npi is None or v.provider_npi == npi) and v.visit_on <= by]


def initiating_visit(view: MonthView, program: facts.Program, npi: str | None) -> list[Because]:
    """P-CCM-2, P-APCM-1: an E/M, AWV or IPPE by the billing practitioner within 12 months
    (APCM: 3 years) before the program's first month."""
    lookback = view.rules.year.visit_lookback_months.get(program)
    if lookback is None:
        return []
    visits = _visits(view, program, npi)
    who = f"by {npi}" if npi else "on file"
    if not visits:
        first = first_month(view, program)
        return [
            Because(
                Reason.INITIATING_VISIT_MISSING, f"No initiating visit {who} for {program} by {first}, its first month"
            )
        ]
    earliest = add_months(month_bounds(first_month(view, program))[0], -lookback)
    if not qualifying_visits(view, program, npi):
        latest = max(v.visit_on for v in visits)
        return [
            Because(
                Reason.INITIATING_VISIT_STALE,
                f"Last initiating visit {who} was {latest}; {program} needs one since {earliest}",
            )
        ]
    return []


def plans(view: MonthView, program: facts.Program) -> list[CarePlan]:
    """P-CCM-3, P-PCM-1: the care plans covering the program established on or before the
    month's last day (policy: before the month began)."""
    if program not in (P.CCM, P.PCM):
        return []
    before = view.policy.care_plan_before_month
    found = view.patient.care_plans.values()
    return [
        p for p in found
        if program in p.established.programs
        and (p.established.established_on < view.first if before else p.established.established_on <= view.last)
    ]  # fmt: skip


def care_plan(view: MonthView, program: facts.Program) -> list[Because]:
    """P-CCM-3, P-PCM-1: a care plan covering the program, established by the month's end."""
    if program not in (P.CCM, P.PCM) or plans(view, program):
        return []
    when = "before" if view.policy.care_plan_before_month else "by the end of"
    return [Because(Reason.CARE_PLAN_MISSING, f"No {program} care plan established {when} {view.month}")]


def deceased(view: MonthView) -> list[Because]:
    """G-18: no month that begins after the patient's death is billed."""
    died = view.patient.died_on
    if died is not None and view.first > died:
        return [Because(Reason.PATIENT_DECEASED, f"the patient died on {died}, before {view.month}")]
    return []


def program_reasons(
    view: MonthView, program: facts.Program, npi: str | None, service_on: date | None = None
) -> list[Because]:
    """Every program-level reason the program cannot be billed this month (G-14: each
    requirement judged on its own)."""
    on = service_on or view.last
    if program is P.TCM:
        return []  # G-09: TCM needs no recorded consent; its requirements are its own (P-TCM-1)
    reasons = deceased(view)
    reasons += consent(view, program, on)
    reasons += conditions(view, program)
    reasons += initiating_visit(view, program, npi)
    reasons += care_plan(view, program)
    return reasons


def _month(day: date) -> str:
    return month_of_day(day)
