"""Decisions on the patient's slow-changing record: registration and the facts the Patient
aggregate holds (consents, conditions, visits, care plans, stays, discharges, devices)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from domain import fact_ids, facts
from domain.decisions.recheck import recheck
from domain.decisions.work import AlreadyRecorded, Context, Home, Work
from domain.identity import Identity
from domain.keys import identity_key, patient_key
from domain.month import shift_month
from domain.patient import Patient
from domain.reasons import Reason, Refused
from domain.timing import happened, month_of

MBI = "medicare_id"  # an Identity kind: one patient per Medicare beneficiary identifier


def mbi(medicare_id: str | None) -> str | None:
    """The MBI as one spelling: dashes and spaces are how it is printed, not part of it."""
    return None if medicare_id is None else "".join(medicare_id.split()).replace("-", "").upper()


def register_reads(fact: facts.PatientRegistered, ctx: Context, at: datetime) -> list[UUID]:
    number = mbi(fact.medicare_id)
    return [patient_key(fact.patient_id)] + ([] if number is None else [identity_key(MBI, number)])


def register(w: Work, fact: facts.PatientRegistered, digest: str) -> Home:
    existing = w.get(patient_key(fact.patient_id), Patient)
    if existing is not None:
        if existing.already(digest) is not None:
            raise AlreadyRecorded(existing.id, 1)
        raise Refused.one(Reason.ID_REUSED, f"Patient {fact.patient_id} is already registered with other details")
    number = mbi(fact.medicare_id)
    if number is not None and w.get(identity_key(MBI, number), Identity) is not None:
        # G-07: one beneficiary, one record; under two patient ids two practitioners could
        # each bill the same month. Naming that patient would tell whoever guesses a
        # Medicare id whose record it is.
        raise Refused.one(Reason.ID_REUSED, "That Medicare id is already registered to another patient")
    patient = w.add(Patient.register(fact, digest, w.at))
    if number is not None:
        w.add(Identity.bind(MBI, number, digest, patient.id, patient.version, w.at))
    return patient.id, patient.version


def patient_reads(fact: Any, ctx: Context, at: datetime) -> list[UUID]:
    keys = [patient_key(fact.patient_id)]
    field = fact_ids.id_field(fact)
    return keys if field is None else [*keys, identity_key(type(fact).__name__, getattr(fact, field))]


def note(w: Work, fact: Any, digest: str) -> Home:
    """A fact of the patient's record. The claims a dated fact can reach are of its month
    on; a death also reaches the TCM claim of the month before (dated by its visit, its 30
    days run on). A fact with no date of its own (a cancellation) reaches every claim."""
    patient = w.patient(fact.patient_id)
    w.not_yet(fact, patient, digest)
    version = patient.note(fact, digest, w.at)
    w.bind(fact, patient, version, digest)
    since = happened(fact)
    back = -1 if isinstance(fact, facts.PatientDied) else 0
    reach = None if since is None else shift_month(month_of(since, w.ctx.policy), back)
    recheck(w, patient, [m for m in patient.claim_months() if reach is None or m >= reach], fact)
    return patient.id, version
