"""Aggregate ids derived from natural keys: the store refuses a second aggregate with the
same key, which is how uniqueness is enforced without a read model."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from uuid import UUID, uuid5

NAMESPACE = UUID("6f1c7a4e-5b8e-4d2a-9f3e-0c2b1d4a7e90")
# A fact's keys are derived several times on its way (prefetch, decision); uuid5 costs a hash
# and a UUID object each time.
_cached = lru_cache(maxsize=1 << 16)


@_cached
def patient_key(patient_id: str) -> UUID:
    return uuid5(NAMESPACE, f"patient:{patient_id}")


@_cached
def patient_month_key(patient_id: str, month: str) -> UUID:
    return uuid5(NAMESPACE, f"patient-month:{patient_id}:{month}")


@_cached
def staff_day_key(staff_id: str, day: date) -> UUID:
    return uuid5(NAMESPACE, f"staff-day:{staff_id}:{day.isoformat()}")


@_cached
def identity_key(kind: str, external_id: str) -> UUID:
    return uuid5(NAMESPACE, f"id:{kind}:{external_id}")
