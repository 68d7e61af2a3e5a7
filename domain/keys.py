"""Aggregate ids derived from natural keys: the store refuses a second aggregate with the
same key, which is how uniqueness is enforced without a read model."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from hashlib import sha1
from uuid import UUID, SafeUUID

NAMESPACE = UUID("6f1c7a4e-5b8e-4d2a-9f3e-0c2b1d4a7e90")
# A fact's keys are derived several times on its way (prefetch, decision); uuid5 costs a hash
# and a UUID object each time.
_cached = lru_cache(maxsize=1 << 16)
_NS = NAMESPACE.bytes
_KEEP = ~((0xC000 << 48) | (0xF000 << 64))  # the variant and version bits, cleared...
_SET = (0x8000 << 48) | (5 << 76)  # ...and set to RFC 4122, version 5


def uuid5(name: str) -> UUID:
    """uuid.uuid5(NAMESPACE, name), the same value, built without UUID.__init__'s argument
    checks (half the cost; most bulk-ingest keys are new, so the cache above misses)."""
    key = object.__new__(UUID)
    object.__setattr__(key, "int", (int.from_bytes(sha1(_NS + name.encode()).digest()[:16]) & _KEEP) | _SET)
    object.__setattr__(key, "is_safe", SafeUUID.unknown)
    return key


@_cached
def patient_key(patient_id: str) -> UUID:
    return uuid5(f"patient:{patient_id}")


@_cached
def patient_month_key(patient_id: str, month: str) -> UUID:
    return uuid5(f"patient-month:{patient_id}:{month}")


@_cached
def staff_day_key(staff_id: str, day: date) -> UUID:
    return uuid5(f"staff-day:{staff_id}:{day.isoformat()}")


@_cached
def identity_key(kind: str, external_id: str) -> UUID:
    return uuid5(f"id:{kind}:{external_id}")
