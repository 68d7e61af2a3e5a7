"""Stored forms of the identity facts (domain.identity_facts): lenient, as every record is
(domain.records)."""

from __future__ import annotations

from datetime import date

import msgspec

from domain.record_base import Record
from domain.vocab import Sex


class Practitioner(msgspec.Struct, frozen=True):
    npi: str
    last_name: str
    first_name: str | None = None


class PracticeRegistered(Record, tag=True, frozen=True):
    practice_id: str
    name: str
    billing_npi: str
    tax_id: str
    address: str
    city: str
    state: str
    zip: str
    submitter_id: str
    receiver_id: str
    payer_id: str
    time_zone: str | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    payer_name: str | None = None
    receiver_name: str | None = None
    practitioners: list[Practitioner] = msgspec.field(default_factory=list)


class PatientDemographicsRecorded(Record, tag=True, frozen=True):
    patient_id: str
    last_name: str
    first_name: str
    sex: Sex
    address: str
    city: str
    state: str
    zip: str
    effective_on: date
