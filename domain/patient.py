"""The Patient aggregate: the slow-changing facts of one patient's record.

Consents, conditions, initiating visits, care plans, facility stays, discharges and device
setups change a few times a year, so one stream per patient stays short. Fast-moving facts
(time, device days, claims) live in PatientMonth.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from domain import facts
from domain.base import Created, LedgerAggregate, unknown
from domain.keys import patient_key
from domain.reasons import Reason
from domain.rules.stacking import Line


@dataclass
class ConditionEpisode:
    diagnosed: facts.ConditionDiagnosed
    resolved_on: date | None = None


@dataclass
class ConsentEpisode:
    recorded: facts.ConsentRecorded
    revoked_on: date | None = None


@dataclass
class CarePlan:
    established: facts.CarePlanEstablished
    revisions: list[facts.CarePlanRevised] = field(default_factory=list)


@dataclass
class Stay:
    started: facts.FacilityStayStarted
    ended_on: date | None = None


@dataclass
class DischargeEpisode:
    discharged: facts.Discharged
    contacts: list[facts.TransitionContactMade] = field(default_factory=list)
    visits: list[facts.FaceToFaceVisitRecorded] = field(default_factory=list)
    decisions: list[facts.MedicalDecisionMaking] = field(default_factory=list)


class Patient(LedgerAggregate):
    TOPIC = "carelane.Patient"

    def __init__(self) -> None:
        super().__init__()
        self.patient_id = ""
        self.birth_date: date | None = None
        self.medicare_id: str | None = None
        self.qmb: list[tuple[date | None, bool]] = []
        self.conditions: dict[str, list[ConditionEpisode]] = {}
        self.consents: dict[facts.Program, list[ConsentEpisode]] = {}
        self.initiating_visits: dict[str, facts.InitiatingVisitRecorded] = {}
        self.care_plans: dict[str, CarePlan] = {}
        self.stays: dict[str, Stay] = {}
        self.discharges: dict[str, DischargeEpisode] = {}
        self.visits: dict[str, facts.FaceToFaceVisitRecorded] = {}
        self.devices: dict[str, list[facts.DeviceSetup]] = {}
        self.rating_scales: list[facts.RatingScaleAdministered] = []
        # Claimed lines whose period is not a calendar month (device periods, setup
        # episodes, TCM windows, G0506 once per practitioner), by claim id.
        self.scoped_claims: dict[str, list[Line]] = {}

    class Event(LedgerAggregate.Event):
        pass

    class PatientRegistered(Event, Created):
        TOPIC = "carelane.Patient.PatientRegistered.v1"
        fact: facts.PatientRegistered
        digest: str

        def assign(self, p: Patient) -> None:
            p.patient_id = self.fact.patient_id
            p.birth_date = self.fact.birth_date
            p.medicare_id = self.fact.medicare_id
            p.qmb = [(None, self.fact.qmb)]

    class QmbStatusChanged(Event):
        TOPIC = "carelane.Patient.QmbStatusChanged.v1"
        fact: facts.QmbStatusChanged
        digest: str

        def assign(self, p: Patient) -> None:
            p.qmb.append((self.fact.effective_on, self.fact.qmb))

    class ConditionDiagnosed(Event):
        TOPIC = "carelane.Patient.ConditionDiagnosed.v1"
        fact: facts.ConditionDiagnosed
        digest: str

        def assign(self, p: Patient) -> None:
            p.conditions.setdefault(self.fact.condition_id, []).append(ConditionEpisode(self.fact))

    class ConditionResolved(Event):
        TOPIC = "carelane.Patient.ConditionResolved.v1"
        fact: facts.ConditionResolved
        digest: str

        def assign(self, p: Patient) -> None:
            p.conditions[self.fact.condition_id][-1].resolved_on = self.fact.resolved_on

    class ConsentRecorded(Event):
        TOPIC = "carelane.Patient.ConsentRecorded.v1"
        fact: facts.ConsentRecorded
        digest: str

        def assign(self, p: Patient) -> None:
            p.consents.setdefault(self.fact.program, []).append(ConsentEpisode(self.fact))

    class ConsentRevoked(Event):
        TOPIC = "carelane.Patient.ConsentRevoked.v1"
        fact: facts.ConsentRevoked
        digest: str

        def assign(self, p: Patient) -> None:
            p.consents[self.fact.program][-1].revoked_on = self.fact.revoked_on

    class InitiatingVisitRecorded(Event):
        TOPIC = "carelane.Patient.InitiatingVisitRecorded.v1"
        fact: facts.InitiatingVisitRecorded
        digest: str

        def assign(self, p: Patient) -> None:
            p.initiating_visits[self.fact.visit_id] = self.fact

    class CarePlanEstablished(Event):
        TOPIC = "carelane.Patient.CarePlanEstablished.v1"
        fact: facts.CarePlanEstablished
        digest: str

        def assign(self, p: Patient) -> None:
            p.care_plans[self.fact.plan_id] = CarePlan(self.fact)

    class CarePlanRevised(Event):
        TOPIC = "carelane.Patient.CarePlanRevised.v1"
        fact: facts.CarePlanRevised
        digest: str

        def assign(self, p: Patient) -> None:
            p.care_plans[self.fact.plan_id].revisions.append(self.fact)

    class DischargeDecisionMade(Event):
        """Medical decision making for a TCM discharge (MDM facts with a discharge_id)."""

        TOPIC = "carelane.Patient.DischargeDecisionMade.v1"
        fact: facts.MedicalDecisionMaking
        digest: str

        def assign(self, p: Patient) -> None:
            p.discharges[str(self.fact.discharge_id)].decisions.append(self.fact)

    class FacilityStayStarted(Event):
        TOPIC = "carelane.Patient.FacilityStayStarted.v1"
        fact: facts.FacilityStayStarted
        digest: str

        def assign(self, p: Patient) -> None:
            p.stays[self.fact.stay_id] = Stay(self.fact)

    class FacilityStayEnded(Event):
        TOPIC = "carelane.Patient.FacilityStayEnded.v1"
        fact: facts.FacilityStayEnded
        digest: str

        def assign(self, p: Patient) -> None:
            p.stays[self.fact.stay_id].ended_on = self.fact.ended_on

    class Discharged(Event):
        TOPIC = "carelane.Patient.Discharged.v1"
        fact: facts.Discharged
        digest: str

        def assign(self, p: Patient) -> None:
            p.discharges[self.fact.discharge_id] = DischargeEpisode(self.fact)

    class TransitionContactMade(Event):
        TOPIC = "carelane.Patient.TransitionContactMade.v1"
        fact: facts.TransitionContactMade
        digest: str

        def assign(self, p: Patient) -> None:
            p.discharges[self.fact.discharge_id].contacts.append(self.fact)

    class FaceToFaceVisitRecorded(Event):
        TOPIC = "carelane.Patient.FaceToFaceVisitRecorded.v1"
        fact: facts.FaceToFaceVisitRecorded
        digest: str

        def assign(self, p: Patient) -> None:
            p.visits[self.fact.visit_id] = self.fact
            if self.fact.discharge_id is not None:
                p.discharges[self.fact.discharge_id].visits.append(self.fact)

    class DeviceSetup(Event):
        TOPIC = "carelane.Patient.DeviceSetup.v1"
        fact: facts.DeviceSetup
        digest: str

        def assign(self, p: Patient) -> None:
            p.devices.setdefault(self.fact.device_id, []).append(self.fact)

    class RatingScaleAdministered(Event):
        TOPIC = "carelane.Patient.RatingScaleAdministered.v1"
        fact: facts.RatingScaleAdministered
        digest: str

        def assign(self, p: Patient) -> None:
            p.rating_scales.append(self.fact)

    class ScopedClaimLodged(Event):
        TOPIC = "carelane.Patient.ScopedClaimLodged.v1"
        claim_id: str
        lines: list[Line]

        def assign(self, p: Patient) -> None:
            p.scoped_claims[self.claim_id] = list(self.lines)

    class ScopedClaimReleased(Event):
        TOPIC = "carelane.Patient.ScopedClaimReleased.v1"
        claim_id: str

        def assign(self, p: Patient) -> None:
            p.scoped_claims.pop(self.claim_id, None)

    # Commands: decide (refuse with a reason), then record.

    def lodge(self, claim_id: str, lines: list[Line], at: datetime) -> None:
        """Hold an accepted claim's cross-month lines, so later claims see them (P-RPM-2, P-TCM-1)."""
        if lines:
            self.trigger_event(Patient.ScopedClaimLodged, claim_id=claim_id, lines=lines, timestamp=at)

    def release(self, claim_id: str, at: datetime) -> None:
        """A voided claim frees its cross-month lines (G-08)."""
        if claim_id in self.scoped_claims:
            self.trigger_event(Patient.ScopedClaimReleased, claim_id=claim_id, timestamp=at)

    def scoped_lines(self) -> list[Line]:
        return [line for lines in self.scoped_claims.values() for line in lines]

    @classmethod
    def register(cls, fact: facts.PatientRegistered, digest: str, at: datetime) -> Patient:
        return cls._create(
            cls.PatientRegistered,
            id=patient_key(fact.patient_id),
            fact=fact,
            digest=digest,
            timestamp=at,
        )

    def note(self, fact: facts.Fact, digest: str, at: datetime) -> int:
        """Record a patient-level fact after checking what it refers to is on file."""
        self._check_references(fact)
        return self.record(_EVENT_FOR[type(fact)], fact, digest, at)

    def _check_references(self, fact: Any) -> None:
        ref = _REFERENCES.get(type(fact))
        if ref is None:
            return
        field_name, collection, label = ref
        value = getattr(fact, field_name)
        if value is not None and value not in getattr(self, collection):
            raise unknown(Reason.UNKNOWN_REFERENCE, f"{label} {value}")


# What a patient-level fact refers to: (its field, the patient's collection, a name for it).
_REFERENCES: dict[type[facts.Fact], tuple[str, str, str]] = {
    facts.ConditionResolved: ("condition_id", "conditions", "Condition"),
    facts.ConsentRevoked: ("program", "consents", "A consent for"),
    facts.CarePlanRevised: ("plan_id", "care_plans", "Care plan"),
    facts.FacilityStayEnded: ("stay_id", "stays", "Facility stay"),
    facts.TransitionContactMade: ("discharge_id", "discharges", "Discharge"),
    facts.FaceToFaceVisitRecorded: ("discharge_id", "discharges", "Discharge"),
    facts.MedicalDecisionMaking: ("discharge_id", "discharges", "Discharge"),
}

_EVENT_FOR: dict[type[facts.Fact], type[Any]] = {
    facts.QmbStatusChanged: Patient.QmbStatusChanged,
    facts.ConditionDiagnosed: Patient.ConditionDiagnosed,
    facts.ConditionResolved: Patient.ConditionResolved,
    facts.ConsentRecorded: Patient.ConsentRecorded,
    facts.ConsentRevoked: Patient.ConsentRevoked,
    facts.InitiatingVisitRecorded: Patient.InitiatingVisitRecorded,
    facts.CarePlanEstablished: Patient.CarePlanEstablished,
    facts.CarePlanRevised: Patient.CarePlanRevised,
    facts.MedicalDecisionMaking: Patient.DischargeDecisionMade,
    facts.FacilityStayStarted: Patient.FacilityStayStarted,
    facts.FacilityStayEnded: Patient.FacilityStayEnded,
    facts.Discharged: Patient.Discharged,
    facts.TransitionContactMade: Patient.TransitionContactMade,
    facts.FaceToFaceVisitRecorded: Patient.FaceToFaceVisitRecorded,
    facts.DeviceSetup: Patient.DeviceSetup,
    facts.RatingScaleAdministered: Patient.RatingScaleAdministered,
}
PATIENT_FACTS = frozenset(_EVENT_FOR)
