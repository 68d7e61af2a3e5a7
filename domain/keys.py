"""Aggregate ids derived from natural keys: the store refuses a second aggregate with the
same key, which is how uniqueness is enforced without a read model."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c7a4e-5b8e-4d2a-9f3e-0c2b1d4a7e90")


def patient_key(patient_id: str) -> UUID:
    return uuid5(NAMESPACE, f"patient:{patient_id}")


def patient_month_key(patient_id: str, month: str) -> UUID:
    return uuid5(NAMESPACE, f"patient-month:{patient_id}:{month}")


def staff_day_key(staff_id: str, day: date) -> UUID:
    return uuid5(NAMESPACE, f"staff-day:{staff_id}:{day.isoformat()}")


def identity_key(kind: str, external_id: str) -> UUID:
    return uuid5(NAMESPACE, f"id:{kind}:{external_id}")
