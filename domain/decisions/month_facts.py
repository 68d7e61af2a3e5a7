"""Decisions on what a patient-month counts: time, its voids, device data and a month's
medical decision making (G-01, G-03, G-13)."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from domain import facts
from domain.decisions.recheck import recheck, service_gone
from domain.decisions.work import Context, Home, Work
from domain.keys import identity_key, patient_key, patient_month_key, staff_day_key
from domain.patient_month import PatientMonth
from domain.reasons import Reason, Refused
from domain.timing import local_days, month_of


def time_reads(fact: facts.TimeLogged, ctx: Context, at: datetime) -> list[UUID]:
    end = fact.started_at + timedelta(minutes=fact.minutes)
    days = local_days(fact.started_at, end, ctx.policy)
    return [
        patient_key(fact.patient_id),
        identity_key(facts.TimeLogged.__name__, fact.entry_id),
        patient_month_key(fact.patient_id, month_of(fact.started_at, ctx.policy)),
        *(staff_day_key(fact.staff_id, d) for d in days),
    ]


def log_time(w: Work, fact: facts.TimeLogged, digest: str) -> Home:
    """G-03: every local day the entry covers is checked for overlaps before any is booked.
    G-16: a late entry may restore a claim's support; a new first month changes the
    program's later months (P-CCM-2, P-COCM-1)."""
    patient = w.patient(fact.patient_id)
    pm = w.patient_month(fact.patient_id, month_of(fact.started_at, w.ctx.policy))
    w.not_yet(fact, pm, digest)
    start, end = fact.started_at, fact.started_at + timedelta(minutes=fact.minutes)
    days = [w.staff_day(fact.staff_id, day) for day in local_days(start, end, w.ctx.policy)]
    for staff_day in days:
        staff_day.check(fact.entry_id, start, end)
    for staff_day in days:
        staff_day.book(fact.entry_id, start, end, w.at)
    first = patient.note_service(fact.program, pm.month, w.at)
    version = pm.log_time(fact, digest, w.at)
    w.bind(fact, pm, version, digest)
    later = [m for m in patient.claim_months() if m > pm.month] if first else []
    months = ([pm.month] if pm.live_claims() else []) + later
    if months:
        recheck(w, patient, months, fact)
    return pm.id, version


def void_reads(fact: facts.TimeEntryVoided, ctx: Context, at: datetime) -> list[UUID]:
    return [patient_key(fact.patient_id), identity_key(facts.TimeLogged.__name__, fact.entry_id)]


def void_time_entry(w: Work, fact: facts.TimeEntryVoided, digest: str) -> Home:
    ident = w.identity_of(facts.TimeLogged, fact.entry_id)
    pm = None if ident is None else w.get(ident.home_id, PatientMonth)
    if pm is None or pm.patient_id != fact.patient_id:
        raise Refused.one(
            Reason.UNKNOWN_ENTRY,
            f"Time entry {fact.entry_id} is not on file for patient {fact.patient_id}",
        )
    w.not_yet(fact, pm, digest)
    version = pm.void_entry(fact, digest, w.at)
    logged = pm.entries[fact.entry_id].logged
    start, end = logged.started_at, logged.started_at + timedelta(minutes=logged.minutes)
    for day in local_days(start, end, w.ctx.policy):
        w.staff_day(logged.staff_id, day).release(fact.entry_id, w.at)
    service_gone(w, w.patient(pm.patient_id), pm, {logged.program}, fact)
    return pm.id, version


def transmit_reads(fact: facts.DataTransmitted, ctx: Context, at: datetime) -> list[UUID]:
    month = month_of(fact.transmitted_on, ctx.policy)
    return [patient_key(fact.patient_id), patient_month_key(fact.patient_id, month)]


def transmit(w: Work, fact: facts.DataTransmitted, digest: str) -> Home:
    patient = w.patient(fact.patient_id)
    if fact.device_id not in patient.devices:
        raise Refused.one(
            Reason.UNKNOWN_REFERENCE,
            f"Device {fact.device_id} has no DeviceSetup on file for this patient",
        )
    pm = w.patient_month(fact.patient_id, month_of(fact.transmitted_on, w.ctx.policy))
    w.not_yet(fact, pm, digest)
    return pm.id, pm.transmit(fact, digest, w.at)


def decide_month(w: Work, fact: facts.MedicalDecisionMaking, digest: str) -> Home:
    """Medical decision making for a month (complex CCM); a discharge's goes to the patient."""
    w.patient(fact.patient_id)
    pm = w.patient_month(fact.patient_id, str(fact.month))
    w.not_yet(fact, pm, digest)
    return pm.id, pm.decide(fact, digest, w.at)
