"""A fact's identity: the digest of its content, and the field that names it when it
carries an id of its own (interface.md: ids make a line idempotent). Keyed by type name, so an
input fact and its stored record (domain.records) answer alike."""

from __future__ import annotations

import hashlib

import msgspec

from domain.contract import Fact

_ENCODER = msgspec.json.Encoder()

ID_FIELD: dict[str, str] = {
    "InitiatingVisitRecorded": "visit_id",
    "CarePlanEstablished": "plan_id",
    "FacilityStayStarted": "stay_id",
    "Discharged": "discharge_id",
    "FaceToFaceVisitRecorded": "visit_id",
    "TimeLogged": "entry_id",
    "ClaimSubmitted": "claim_id",
}


def id_field(fact: msgspec.Struct) -> str | None:
    """The field holding the fact's own id, or None when it has none."""
    return ID_FIELD.get(type(fact).__name__)


def digest(fact: Fact) -> str:
    """The identity of a fact's content. Who sent or keyed it is not part of what it says,
    so the same fact resent by another system is still the same fact."""
    if fact.source is not None or fact.recorded_by is not None:
        fact = msgspec.structs.replace(fact, source=None, recorded_by=None)
    return hashlib.sha256(_ENCODER.encode(fact)).hexdigest()[:32]
