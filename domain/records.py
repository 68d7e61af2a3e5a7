"""What stored events carry: the recorded facts, as lenient structs of their own.

The input contract (`domain.facts`) checks lengths, patterns, ranges and field pairs where a
fact comes in. A stored event is read for ever, so none of that applies here: these structs
enforce types only and ignore fields they do not know. An input limit can tighten, or an
input field go, and every stored event still reads. Their JSON is the facts' JSON (the same
`type` tag, fields and order), so a fact is stored as it was sent.

Changing a struct here changes a stored format: add a field with a default, never rename or
retype one; a reshape is a new event class_version with an upcast (CHANGELOG.md).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import msgspec

from domain.reasons import Because
from domain.vocab import (
    AdjustmentGroup,
    ClaimOutcome,
    ConsentMethod,
    ContactMethod,
    DeviceCategory,
    DeviceProgram,
    MdmLevel,
    Program,
    Setting,
    StaffRole,
    VisitType,
)


class Record(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    """A recorded fact. Who sent it and who keyed it travel with it."""

    source: str | None = None
    recorded_by: str | None = None


R = TypeVar("R", bound=Record)
_TYPES: dict[str, type[Record]] = {}


def stored(fact: msgspec.Struct) -> Any:
    """The record of an input fact: same fields, no input checks (a few microseconds)."""
    cls = _TYPES.get(type(fact).__name__)
    if cls is None:
        raise TypeError(f"no stored form for {type(fact).__name__}")
    return msgspec.convert(fact, cls, from_attributes=True)


class PatientRegistered(Record, tag=True, frozen=True):
    patient_id: str
    birth_date: date | None = None
    medicare_id: str | None = None
    qmb: bool = False


class QmbStatusChanged(Record, tag=True, frozen=True):
    patient_id: str
    qmb: bool
    effective_on: date


class ConditionDiagnosed(Record, tag=True, frozen=True):
    patient_id: str
    condition_id: str
    diagnosed_on: date
    expected_duration_months: int
    significant_risk: bool
    diagnosed_by: str
    description: str | None = None
    behavioral: bool = False
    chronic_pain: bool = False


class ConditionResolved(Record, tag=True, frozen=True):
    patient_id: str
    condition_id: str
    resolved_on: date


class ConsentRecorded(Record, tag=True, frozen=True):
    patient_id: str
    program: Program
    method: ConsentMethod
    obtained_by: str
    cost_sharing_explained: bool
    one_practitioner_explained: bool
    recorded_on: date


class ConsentRevoked(Record, tag=True, frozen=True):
    patient_id: str
    program: Program
    revoked_on: date


class InitiatingVisitRecorded(Record, tag=True, frozen=True):
    patient_id: str
    visit_id: str
    visit_type: VisitType
    visit_on: date
    provider_npi: str
    extended_assessment: bool = False


class CarePlanEstablished(Record, tag=True, frozen=True):
    patient_id: str
    plan_id: str
    established_on: date
    by: str
    shared_with_patient: bool
    programs: list[Program]


class CarePlanRevised(Record, tag=True, frozen=True):
    patient_id: str
    plan_id: str
    revised_on: date
    by: str
    substantial: bool


class MedicalDecisionMaking(Record, tag=True, frozen=True):
    patient_id: str
    level: MdmLevel
    by: str
    decided_on: date
    month: str | None = None
    discharge_id: str | None = None


class FacilityStayStarted(Record, tag=True, frozen=True):
    patient_id: str
    stay_id: str
    setting: Setting
    started_on: date


class FacilityStayEnded(Record, tag=True, frozen=True):
    patient_id: str
    stay_id: str
    ended_on: date


class Discharged(Record, tag=True, frozen=True):
    patient_id: str
    discharge_id: str
    discharged_on: date
    from_setting: str
    to_setting: str


class TransitionContactMade(Record, tag=True, frozen=True):
    patient_id: str
    discharge_id: str
    contacted_on: date
    method: ContactMethod
    by: str


class FaceToFaceVisitRecorded(Record, tag=True, frozen=True):
    patient_id: str
    visit_id: str
    visit_on: date
    provider_npi: str
    in_person: bool
    minutes: int | None = None
    discharge_id: str | None = None
    program: Program | None = None


class TimeLogged(Record, tag=True, frozen=True):
    entry_id: str
    patient_id: str
    program: Program
    staff_id: str
    staff_role: StaffRole
    activity: str
    started_at: datetime
    minutes: int
    interactive: bool = False
    face_to_face: bool = False


class TimeEntryVoided(Record, tag=True, frozen=True):
    entry_id: str
    patient_id: str
    reason: str
    by: str


class DeviceSetup(Record, tag=True, frozen=True):
    patient_id: str
    device_id: str
    program: DeviceProgram
    category: DeviceCategory
    setup_on: date


class DataTransmitted(Record, tag=True, frozen=True):
    patient_id: str
    device_id: str
    transmitted_on: date
    reading_kind: str | None = None
    manual: bool = False


class RatingScaleAdministered(Record, tag=True, frozen=True):
    patient_id: str
    scale: str
    score: Decimal
    administered_on: date
    by: str


class ClaimLine(msgspec.Struct, frozen=True):
    code: str
    units: int = 1


class ClaimSubmitted(Record, tag=True, frozen=True):
    claim_id: str
    patient_id: str
    billing_provider_npi: str
    place_of_service: str
    lines: list[ClaimLine]
    service_month: str | None = None
    service_on: date | None = None


class Adjustment(msgspec.Struct, frozen=True):
    group: AdjustmentGroup
    reason: str
    amount: Decimal


class AdjudicatedLine(msgspec.Struct, frozen=True):
    code: str
    units: int = 1
    charged: Decimal | None = None
    paid: Decimal | None = None
    adjustments: list[Adjustment] = msgspec.field(default_factory=list)
    remarks: list[str] = msgspec.field(default_factory=list)


class ClaimAdjudicated(Record, tag=True, frozen=True):
    claim_id: str
    outcome: ClaimOutcome
    paid_amount: Decimal | None = None
    reason_codes: list[str] | None = None
    payer_claim_number: str | None = None
    paid_on: date | None = None
    lines: list[AdjudicatedLine] | None = None


class ClaimVoided(Record, tag=True, frozen=True):
    claim_id: str
    reason: str
    by: str


class PatientDied(Record, tag=True, frozen=True):
    patient_id: str
    died_on: date


class DischargeCancelled(Record, tag=True, frozen=True):
    patient_id: str
    discharge_id: str
    reason: str


class FacilityStayCancelled(Record, tag=True, frozen=True):
    patient_id: str
    stay_id: str
    reason: str


# The period a claim line covers when it is not the claim's calendar month. A tagged struct,
# stored inside Patient.ClaimLodged (before class_version 2 it was a string such as
# "tcm:2026-03-04", which the upcast parses).


class Scope(msgspec.Struct, frozen=True, tag_field="kind"):
    """A period other than the calendar month."""


class DevicePeriod(Scope, tag="device", frozen=True):
    """A 30-day device period from its first day (G-01, P-RPM-1)."""

    program: Program
    start: date


class SetupEpisode(Scope, tag="setup", frozen=True):
    """A device episode of care, from its first setup (P-RPM-2)."""

    program: Program
    start: date


class TcmWindow(Scope, tag="tcm", frozen=True):
    """The discharge day and the 29 after it (P-TCM-1)."""

    discharged_on: date


class OncePerPractitioner(Scope, tag="once", frozen=True):
    """A code billable once by a practitioner (P-CCM-7: G0506)."""

    code: str
    npi: str


AnyScope = DevicePeriod | SetupEpisode | TcmWindow | OncePerPractitioner


def parse_scope(text: str) -> dict[str, Any]:
    """A class_version 1 scope string as its tagged struct's fields (for upcasts only)."""
    kind, _, rest = text.partition(":")
    if kind in ("device", "setup"):
        program, _, start = rest.partition(":")
        return {"kind": kind, "program": program, "start": start}
    if kind == "tcm":
        return {"kind": kind, "discharged_on": rest}
    if kind == "once":
        code, _, npi = rest.partition(":")
        return {"kind": kind, "code": code, "npi": npi}
    raise ValueError(f"unknown claim scope {kind!r}")


class LodgedLine(msgspec.Struct, frozen=True):
    """A line of an accepted claim, as the patient's record holds it (G-08, G-16)."""

    code: str
    units: int
    npi: str
    month: str  # the claim's month
    scope: AnyScope | None = None
    claim_id: str = ""


def upcast_lodged_lines(state: dict[str, Any]) -> None:
    """Patient.ClaimLodged and ScopedClaimLodged v1 to v2: scope strings to tagged structs."""
    for line in state.get("lines", ()):
        if isinstance(line.get("scope"), str):
            line["scope"] = parse_scope(line["scope"])


# What a claim's verdict and its later re-judgments store (G-16, G-17).


class FactRef(msgspec.Struct, frozen=True):
    """A fact a claim stood on: what it is, its id, and where it is stored (stream, version)."""

    kind: str
    ref: str
    stream: UUID
    version: int


class Verdict(msgspec.Struct, frozen=True):
    """G-17: what the gate decided, as it decided it."""

    rule_year: str
    allowed: dict[str, int]  # units the record supported, per code claimed
    stood_on: list[FactRef]


class Withdrawn(msgspec.Struct, frozen=True):
    """G-16: support a claim lost after it was accepted, and when the ledger saw it."""

    reasons: list[Because]
    identified_at: datetime
    cause: str  # the fact that withdrew it


_TYPES.update({cls.__name__: cls for cls in Record.__subclasses__()})
