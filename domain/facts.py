"""The facts a practice sends, exactly as interface.md section 1 names them.

Each fact is a msgspec Struct tagged by `type`, so one decoder validates a line against the
whole contract and names the failing field. Field types and the base are in domain.contract,
the claim facts in domain.claim_facts (re-exported here). Stored events carry structs of
their own (domain.records), so these limits bind input only.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec
import msgspec.inspect

from domain.claim_facts import (
    AdjudicatedLine as AdjudicatedLine,
    Adjustment as Adjustment,
    ClaimAdjudicated as ClaimAdjudicated,
    ClaimLine as ClaimLine,
    ClaimSubmitted as ClaimSubmitted,
    ClaimVoided as ClaimVoided,
    amount_problem,
)
from domain.contract import (
    MONTH_PATTERN as MONTH_PATTERN,
    PATTERN_WORDS as PATTERN_WORDS,
    Fact as Fact,
    Icd10,
    Ident,
    Instant,
    Month,
    Npi,
    Text,
)
from domain.identity_facts import (
    PatientDemographicsRecorded as PatientDemographicsRecorded,
    PracticeRegistered as PracticeRegistered,
    Practitioner as Practitioner,
    identity_problem,
)
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
    Sex as Sex,
    StaffRole as StaffRole,
    VisitType as VisitType,
)


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
    | PatientDemographicsRecorded
    | PracticeRegistered
)

FACT_TYPES: tuple[type[Fact], ...] = AnyFact.__args__
FACT_TYPE_NAMES: frozenset[str] = frozenset(t.__name__ for t in FACT_TYPES)


def input_problem(fact: Fact) -> str | None:
    """What the input contract refuses beyond the types: checked where facts come in, never
    when stored events are read (a stored event stays readable when these bounds tighten)."""
    if isinstance(fact, RatingScaleAdministered) and (not fact.score.is_finite() or abs(fact.score) > 1000):
        return "$.score: expected a finite number from -1000 to 1000"
    mbi = (fact.medicare_id or "").replace("-", "").replace(" ", "") if isinstance(fact, PatientRegistered) else ""
    if mbi and not (mbi.isascii() and mbi.isalnum()):  # G-07 matches on it: no look-alikes
        return "$.medicare_id: expected letters A-Z, digits 0-9, dashes and spaces only"
    if not isinstance(fact, ClaimAdjudicated):
        return identity_problem(fact)
    problems = [amount_problem("$.paid_amount", fact.paid_amount)]
    for i, line in enumerate(fact.lines or ()):
        problems += [amount_problem(f"$.lines[{i}].{k}", getattr(line, k)) for k in ("charged", "paid")]
        problems += [amount_problem(f"$.lines[{i}].adjustments[{j}].amount", a.amount, signed=True)
                     for j, a in enumerate(line.adjustments)]  # fmt: skip
    return next((p for p in problems if p), None)
