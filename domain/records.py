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

import msgspec

from domain.identity_records import (
    PatientDemographicsRecorded as PatientDemographicsRecorded,
    PracticeRegistered as PracticeRegistered,
    Practitioner as Practitioner,
)
from domain.record_base import Record as Record
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

R = TypeVar("R", bound=Record)
_TYPES: dict[str, type[Record]] = {}


def stored(fact: msgspec.Struct) -> Any:
    """The record of an input fact: same fields, no input checks. Facts with nested structs
    are converted whole; the rest field by field (a third of the cost, on bulk ingest's path)."""
    cls = _TYPES.get(type(fact).__name__)
    if cls is None:
        raise TypeError(f"no stored form for {type(fact).__name__}")
    if cls in _NESTED:
        return msgspec.convert(fact, cls, from_attributes=True)
    return cls(**msgspec.structs.asdict(fact))


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


_TYPES.update({cls.__name__: cls for cls in Record.__subclasses__()})
_NESTED = frozenset({ClaimSubmitted, ClaimAdjudicated, PracticeRegistered})  # with structs inside
