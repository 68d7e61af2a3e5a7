"""G-17: the facts a claim stood on, named by stream and version when the gate accepted it:
consent, initiating visit, care plan, qualifying conditions, the time entries that count,
and the device days of its periods. The audit packet shows them as they were."""

from __future__ import annotations

from domain import facts
from domain.catalog import Kind
from domain.claim_records import DevicePeriod, FactRef, SetupEpisode
from domain.rules import eligibility, minutes
from domain.rules.view import MonthView, Period
from domain.state import Line

P = facts.Program


def stood_on(view: MonthView, lines: list[Line], npi: str) -> list[FactRef]:
    refs: list[FactRef] = []
    programs = {x.spec.program for x in lines if x.spec.program is not None and x.spec.kind is not Kind.TCM}
    for program in sorted(programs):
        refs += _patient_facts(view, program, npi)
        refs += _time(view, program)
    for line in lines:
        if isinstance(line.scope, DevicePeriod | SetupEpisode):  # the period, or the first one
            refs += _device_days(view, Period(line.scope.program, line.scope.start))
    return list(dict.fromkeys(refs))


def _patient_facts(view: MonthView, program: facts.Program, npi: str) -> list[FactRef]:
    patient, pid = view.patient, view.patient.id
    refs = []
    consent = eligibility.consent_in_force(view, program, view.last)
    if consent is not None:
        refs.append(FactRef("consent", str(program), pid, consent.version))
    visits = eligibility.qualifying_visits(view, program, npi)
    if visits:
        latest = max(visits, key=lambda v: v.visit_on)
        refs.append(FactRef("initiating_visit", latest.visit_id, pid, patient.visit_versions.get(latest.visit_id, 0)))
    refs += [FactRef("care_plan", p.established.plan_id, pid, p.version) for p in eligibility.plans(view, program)]
    rule = eligibility.QUALIFYING.get(program)
    if rule is None and program is not P.APCM:
        return refs  # conditions are not what this program stands on
    for episodes in patient.conditions.values():
        for ep in episodes:
            if eligibility.active(ep, view) and (rule is None or rule[0](ep.diagnosed)):
                refs.append(FactRef("condition", ep.diagnosed.condition_id, pid, ep.version))
    return refs


def _time(view: MonthView, program: facts.Program) -> list[FactRef]:
    pm = view.current
    if pm is None:
        return []
    return [
        FactRef("time_entry", entry_id, pm.id, e.version)
        for entry_id, e in pm.entries.items()
        if e.voided is None and e.logged.program is program and minutes.exclusion(view, e.logged) is None
    ]


def _device_days(view: MonthView, period: Period) -> list[FactRef]:
    devices = set(view.device_ids(period.program))
    return [
        FactRef("device_day", f"{device_id}:{day}", pm.id, version)
        for pm in view.months.values()
        for (device_id, day), version in sorted(pm.readings.items())
        if device_id in devices and period.start <= day <= period.end and not view.after_death(day)
    ]
