"""The facts a practice sends, exactly as interface.md section 1 names them.

Each fact is a msgspec Struct tagged by `type`, so one decoder validates a line against the
whole contract and names the failing field. The same structs are the payload of the stored
events: the contract is written once.
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

import msgspec
import msgspec.inspect

from domain.vocab import (
    AdjustmentGroup as AdjustmentGroup,
    ClaimOutcome as ClaimOutcome,
    ConsentMethod as ConsentMethod,
    ContactMethod as ContactMethod,
    DeviceCategory as DeviceCategory,
    DeviceProgram as DeviceProgram,
    MdmLevel as MdmLevel,
    Program as Program,
    Setting as Setting,
    StaffRole as StaffRole,
    VisitType as VisitType,
)

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
NPI_PATTERN = r"^\d{10}$"
Npi = Annotated[str, msgspec.Meta(pattern=NPI_PATTERN)]
MONTH_PATTERN = r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$"
Month = Annotated[str, msgspec.Meta(pattern=MONTH_PATTERN)]
YEARS = range(1900, 2200)  # dates outside are typing errors, and would break month arithmetic
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
ICD10_PATTERN = r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$"
Icd10 = Annotated[str, msgspec.Meta(pattern=ICD10_PATTERN)]
CODE_PATTERN = r"^[A-Z0-9]{5}$"
Code = Annotated[str, msgspec.Meta(pattern=CODE_PATTERN)]
POS_PATTERN = r"^\d{2}$"
CARC_PATTERN = r"^[A-Z0-9]{1,5}$"
RARC_PATTERN = r"^[A-Z0-9]{1,6}$"
# What each pattern asks for, in words: an error names the field and this, never the regex.
PATTERN_WORDS = {
    NPI_PATTERN: "a 10-digit NPI",
    MONTH_PATTERN: "a month as YYYY-MM",
    ICD10_PATTERN: "an ICD-10-CM code such as E11.9",
    CODE_PATTERN: "a 5-character CPT or HCPCS code",
    POS_PATTERN: "a 2-digit place of service",
    CARC_PATTERN: "a claim adjustment reason code",
    RARC_PATTERN: "a remittance advice remark code",
}


class Fact(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    """Fields every line may carry: who sent it and who keyed it."""

    source: Text | None = None
    recorded_by: Text | None = None

    def __post_init__(self) -> None:
        for name in _dated_fields(type(self)):
            value = getattr(self, name)
            if value is not None and value.year not in YEARS:
                raise ValueError(f"{name}: expected a year from {YEARS.start} to {YEARS.stop - 1}, got {value.year}")


_DATED: dict[type[Fact], tuple[str, ...]] = {}


def _dated_fields(cls: type[Fact]) -> tuple[str, ...]:
    """The fields of a fact type that hold a date or datetime (looked up once per type:
    checking every field of every fact cost a few percent of bulk ingest)."""
    try:
        return _DATED[cls]
    except KeyError:
        pass
    dated = (msgspec.inspect.DateType, msgspec.inspect.DateTimeType)

    def holds_date(t: msgspec.inspect.Type) -> bool:
        if isinstance(t, msgspec.inspect.UnionType):
            return any(holds_date(u) for u in t.types)
        return isinstance(t, dated)

    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    _DATED[cls] = names = tuple(f.name for f in info.fields if holds_date(f.type))
    return names


class PatientRegistered(Fact, tag=True, frozen=True):
    patient_id: Ident
    birth_date: date | None = None
    medicare_id: Text | None = None
    qmb: bool = False


class QmbStatusChanged(Fact, tag=True, frozen=True):
    patient_id: Ident
    qmb: bool
    effective_on: date


class ConditionDiagnosed(Fact, tag=True, frozen=True):
    patient_id: Ident
    condition_id: Icd10
    diagnosed_on: date
    expected_duration_months: Annotated[int, msgspec.Meta(ge=0, le=1200)]
    significant_risk: bool
    diagnosed_by: Npi
    description: Text | None = None
    behavioral: bool = False
    chronic_pain: bool = False


class ConditionResolved(Fact, tag=True, frozen=True):
    patient_id: Ident
    condition_id: Icd10
    resolved_on: date


class ConsentRecorded(Fact, tag=True, frozen=True):
    patient_id: Ident
    program: Program
    method: ConsentMethod
    obtained_by: Ident
    cost_sharing_explained: bool
    one_practitioner_explained: bool
    recorded_on: date


class ConsentRevoked(Fact, tag=True, frozen=True):
    patient_id: Ident
    program: Program
    revoked_on: date


class InitiatingVisitRecorded(Fact, tag=True, frozen=True):
    patient_id: Ident
    visit_id: Ident
    visit_type: VisitType
    visit_on: date
    provider_npi: Npi
    extended_assessment: bool = False


class CarePlanEstablished(Fact, tag=True, frozen=True):
    patient_id: Ident
    plan_id: Ident
    established_on: date
    by: Ident
    shared_with_patient: bool
    programs: Annotated[list[Program], msgspec.Meta(min_length=1, max_length=len(Program))]


class CarePlanRevised(Fact, tag=True, frozen=True):
    patient_id: Ident
    plan_id: Ident
    revised_on: date
    by: Ident
    substantial: bool


class MedicalDecisionMaking(Fact, tag=True, frozen=True):
    patient_id: Ident
    level: MdmLevel
    by: Ident
    decided_on: date
    month: Month | None = None
    discharge_id: Ident | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.month is None) == (self.discharge_id is None):
            raise ValueError("give exactly one of `month` or `discharge_id`")


class FacilityStayStarted(Fact, tag=True, frozen=True):
    patient_id: Ident
    stay_id: Ident
    setting: Setting
    started_on: date


class FacilityStayEnded(Fact, tag=True, frozen=True):
    patient_id: Ident
    stay_id: Ident
    ended_on: date


class Discharged(Fact, tag=True, frozen=True):
    patient_id: Ident
    discharge_id: Ident
    discharged_on: date
    from_setting: Text
    to_setting: Text


class TransitionContactMade(Fact, tag=True, frozen=True):
    patient_id: Ident
    discharge_id: Ident
    contacted_on: date
    method: ContactMethod
    by: Ident


class FaceToFaceVisitRecorded(Fact, tag=True, frozen=True):
    patient_id: Ident
    visit_id: Ident
    visit_on: date
    provider_npi: Npi
    in_person: bool
    minutes: Annotated[int, msgspec.Meta(ge=1, le=600)] | None = None
    discharge_id: Ident | None = None
    program: Program | None = None


class TimeLogged(Fact, tag=True, frozen=True):
    entry_id: Ident
    patient_id: Ident
    program: Program
    staff_id: Ident
    staff_role: StaffRole
    activity: Text
    started_at: Instant
    minutes: Annotated[int, msgspec.Meta(ge=1, le=600)]
    interactive: bool = False
    face_to_face: bool = False


class TimeEntryVoided(Fact, tag=True, frozen=True):
    entry_id: Ident
    patient_id: Ident
    reason: Text
    by: Ident


class DeviceSetup(Fact, tag=True, frozen=True):
    patient_id: Ident
    device_id: Ident
    program: DeviceProgram
    category: DeviceCategory
    setup_on: date


class DataTransmitted(Fact, tag=True, frozen=True):
    patient_id: Ident
    device_id: Ident
    transmitted_on: date
    reading_kind: Text | None = None
    manual: bool = False  # keyed by hand, not sent by the device: not a device day (P-RPM-1)


class RatingScaleAdministered(Fact, tag=True, frozen=True):
    patient_id: Ident
    scale: Text
    score: Decimal
    administered_on: date
    by: Ident


class ClaimLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: Code
    units: Annotated[int, msgspec.Meta(ge=1, le=99)] = 1


class ClaimSubmitted(Fact, tag=True, frozen=True):
    claim_id: Ident
    patient_id: Ident
    billing_provider_npi: Npi
    place_of_service: Annotated[str, msgspec.Meta(pattern=POS_PATTERN)]
    lines: Annotated[list[ClaimLine], msgspec.Meta(min_length=1, max_length=50)]
    service_month: Month | None = None
    service_on: date | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.service_month is None) == (self.service_on is None):
            raise ValueError("give exactly one of `service_month` or `service_on`")


MAX_AMOUNT = Decimal("10000000")  # no care-management claim comes near; larger is a typing error


def _amount(path: str, value: Decimal | None, *, signed: bool = False) -> str | None:
    if value is None or (value.is_finite() and abs(value) <= MAX_AMOUNT and (signed or value >= 0)):
        return None
    bound = f"from -{MAX_AMOUNT} to {MAX_AMOUNT}" if signed else f"from 0 to {MAX_AMOUNT}"
    return f"{path}: expected a finite amount {bound}"


def input_problem(fact: Fact) -> str | None:
    """What the input contract refuses beyond the types: checked where facts come in, never
    when stored events are read (a stored event stays readable when these bounds tighten)."""
    if isinstance(fact, RatingScaleAdministered) and (not fact.score.is_finite() or abs(fact.score) > 1000):
        return "$.score: expected a finite number from -1000 to 1000"
    if not isinstance(fact, ClaimAdjudicated):
        return None
    problems = [_amount("$.paid_amount", fact.paid_amount)]
    for i, line in enumerate(fact.lines or ()):
        problems += [_amount(f"$.lines[{i}].charged", line.charged), _amount(f"$.lines[{i}].paid", line.paid)]
        problems += [_amount(f"$.lines[{i}].adjustments[{j}].amount", a.amount, signed=True)
                     for j, a in enumerate(line.adjustments)]  # fmt: skip
    return next((p for p in problems if p), None)


class Adjustment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    group: AdjustmentGroup
    reason: Annotated[str, msgspec.Meta(pattern=CARC_PATTERN)]  # a CARC
    amount: Decimal


class AdjudicatedLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: Code
    units: Annotated[int, msgspec.Meta(ge=1, le=99)] = 1
    charged: Decimal | None = None
    paid: Decimal | None = None
    adjustments: Annotated[list[Adjustment], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    remarks: Annotated[list[Annotated[str, msgspec.Meta(pattern=RARC_PATTERN)]], msgspec.Meta(max_length=50)] = (
        msgspec.field(default_factory=list)
    )


class ClaimAdjudicated(Fact, tag=True, frozen=True):
    claim_id: Ident
    outcome: ClaimOutcome
    paid_amount: Decimal | None = None
    reason_codes: Annotated[list[Text], msgspec.Meta(max_length=50)] | None = None
    payer_claim_number: Ident | None = None
    paid_on: date | None = None
    lines: Annotated[list[AdjudicatedLine], msgspec.Meta(max_length=50)] | None = None


class ClaimVoided(Fact, tag=True, frozen=True):
    claim_id: Ident
    reason: Text
    by: Ident


class PatientDied(Fact, tag=True, frozen=True):
    patient_id: Ident
    died_on: date


class DischargeCancelled(Fact, tag=True, frozen=True):
    patient_id: Ident
    discharge_id: Ident
    reason: Text


class FacilityStayCancelled(Fact, tag=True, frozen=True):
    patient_id: Ident
    stay_id: Ident
    reason: Text


AnyFact = (
    PatientRegistered
    | QmbStatusChanged
    | ConditionDiagnosed
    | ConditionResolved
    | ConsentRecorded
    | ConsentRevoked
    | InitiatingVisitRecorded
    | CarePlanEstablished
    | CarePlanRevised
    | MedicalDecisionMaking
    | FacilityStayStarted
    | FacilityStayEnded
    | Discharged
    | TransitionContactMade
    | FaceToFaceVisitRecorded
    | TimeLogged
    | TimeEntryVoided
    | DeviceSetup
    | DataTransmitted
    | RatingScaleAdministered
    | ClaimSubmitted
    | ClaimAdjudicated
    | ClaimVoided
    | PatientDied
    | DischargeCancelled
    | FacilityStayCancelled
)

FACT_TYPES: tuple[type[Fact], ...] = AnyFact.__args__
FACT_TYPE_NAMES: frozenset[str] = frozenset(t.__name__ for t in FACT_TYPES)


# The field that says when each fact happened (G-13 compares it with recorded_at), by fact
# type name: an input fact and its stored record (domain.records) answer alike.
WHEN_FIELD: dict[str, str] = {
    "QmbStatusChanged": "effective_on",
    "ConditionDiagnosed": "diagnosed_on",
    "ConditionResolved": "resolved_on",
    "ConsentRecorded": "recorded_on",
    "ConsentRevoked": "revoked_on",
    "InitiatingVisitRecorded": "visit_on",
    "CarePlanEstablished": "established_on",
    "CarePlanRevised": "revised_on",
    "MedicalDecisionMaking": "decided_on",
    "FacilityStayStarted": "started_on",
    "FacilityStayEnded": "ended_on",
    "Discharged": "discharged_on",
    "TransitionContactMade": "contacted_on",
    "FaceToFaceVisitRecorded": "visit_on",
    "TimeLogged": "started_at",
    "DeviceSetup": "setup_on",
    "DataTransmitted": "transmitted_on",
    "RatingScaleAdministered": "administered_on",
    "ClaimSubmitted": "service_on",
    "ClaimAdjudicated": "paid_on",
    "PatientDied": "died_on",
}


def happened(fact: msgspec.Struct) -> date | datetime | None:
    """When the fact itself happened, or None for facts with no date of their own."""
    field = WHEN_FIELD.get(type(fact).__name__)
    return None if field is None else getattr(fact, field)


def digest(fact: Fact) -> str:
    """The identity of a fact's content. Who sent or keyed it is not part of what it says,
    so the same fact resent by another system is still the same fact."""
    if fact.source is not None or fact.recorded_by is not None:
        fact = msgspec.structs.replace(fact, source=None, recorded_by=None)
    return hashlib.sha256(_ENCODER.encode(fact)).hexdigest()[:32]


_ENCODER = msgspec.json.Encoder()


# Facts that carry their own id (interface.md: ids make a line idempotent).
ID_FIELD: dict[type[Fact], str] = {
    InitiatingVisitRecorded: "visit_id",
    CarePlanEstablished: "plan_id",
    FacilityStayStarted: "stay_id",
    Discharged: "discharge_id",
    FaceToFaceVisitRecorded: "visit_id",
    TimeLogged: "entry_id",
    ClaimSubmitted: "claim_id",
}
