"""The Patient aggregate: the slow-changing facts of one patient's record.

Consents, conditions, initiating visits, care plans, facility stays, discharges and device
setups change a few times a year, so one stream per patient stays short. Fast-moving facts
(time, device days, claims) live in PatientMonth.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain import claim_records, facts, records
from domain.base import Created, LedgerAggregate, unknown
from domain.keys import patient_key
from domain.reasons import Reason, Refused
from domain.state import CarePlan, ConditionEpisode, ConsentEpisode, DischargeEpisode, Line, Lodged, Stay


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
        self.initiating_visits: dict[str, records.InitiatingVisitRecorded] = {}
        self.care_plans: dict[str, CarePlan] = {}
        self.stays: dict[str, Stay] = {}
        self.discharges: dict[str, DischargeEpisode] = {}
        self.visits: dict[str, records.FaceToFaceVisitRecorded] = {}
        self.devices: dict[str, list[records.DeviceSetup]] = {}
        self.rating_scales: list[records.RatingScaleAdministered] = []
        self.visit_versions: dict[str, int] = {}  # initiating visit id -> its event's version
        self.revocations: dict[facts.Program, list[date]] = {}  # G-09: each revocation's date
        self.died_on: date | None = None
        self.demographics: list[records.PatientDemographicsRecorded] = []  # by effective_on
        # P-CCM-2: the months with a service of each program on record (a live time entry
        # or claim); a program's first month is the earliest.
        self.service_months: dict[facts.Program, set[str]] = {}
        # Accepted claims not voided, by claim id.
        self.claims: dict[str, Lodged] = {}

    class Event(LedgerAggregate.Event):
        pass

    class PatientRegistered(Event, Created):
        TOPIC = "carelane.Patient.PatientRegistered.v1"
        fact: records.PatientRegistered
        digest: str

        def assign(self, p: Patient) -> None:
            p.patient_id = self.fact.patient_id
            p.birth_date = self.fact.birth_date
            p.medicare_id = self.fact.medicare_id
            p.qmb = [(None, self.fact.qmb)]

    class QmbStatusChanged(Event):
        TOPIC = "carelane.Patient.QmbStatusChanged.v1"
        fact: records.QmbStatusChanged
        digest: str

        def assign(self, p: Patient) -> None:
            p.qmb.append((self.fact.effective_on, self.fact.qmb))

    class ConditionDiagnosed(Event):
        TOPIC = "carelane.Patient.ConditionDiagnosed.v1"
        fact: records.ConditionDiagnosed
        digest: str

        def assign(self, p: Patient) -> None:
            episode = ConditionEpisode(self.fact, self.originator_version)
            p.conditions.setdefault(self.fact.condition_id, []).append(episode)

    class ConditionResolved(Event):
        TOPIC = "carelane.Patient.ConditionResolved.v1"
        fact: records.ConditionResolved
        digest: str

        def assign(self, p: Patient) -> None:
            p.conditions[self.fact.condition_id][-1].resolved_on = self.fact.resolved_on

    class ConsentRecorded(Event):
        TOPIC = "carelane.Patient.ConsentRecorded.v1"
        fact: records.ConsentRecorded
        digest: str

        def assign(self, p: Patient) -> None:
            p.consents.setdefault(self.fact.program, []).append(ConsentEpisode(self.fact, self.originator_version))

    class ConsentRevoked(Event):
        TOPIC = "carelane.Patient.ConsentRevoked.v1"
        fact: records.ConsentRevoked
        digest: str

        def assign(self, p: Patient) -> None:
            p.consents[self.fact.program][-1].revoked_on = self.fact.revoked_on
            p.revocations.setdefault(self.fact.program, []).append(self.fact.revoked_on)

    class InitiatingVisitRecorded(Event):
        TOPIC = "carelane.Patient.InitiatingVisitRecorded.v1"
        fact: records.InitiatingVisitRecorded
        digest: str

        def assign(self, p: Patient) -> None:
            p.initiating_visits[self.fact.visit_id] = self.fact
            p.visit_versions[self.fact.visit_id] = self.originator_version

    class CarePlanEstablished(Event):
        TOPIC = "carelane.Patient.CarePlanEstablished.v1"
        fact: records.CarePlanEstablished
        digest: str

        def assign(self, p: Patient) -> None:
            p.care_plans[self.fact.plan_id] = CarePlan(self.fact, self.originator_version)

    class CarePlanRevised(Event):
        TOPIC = "carelane.Patient.CarePlanRevised.v1"
        fact: records.CarePlanRevised
        digest: str

        def assign(self, p: Patient) -> None:
            p.care_plans[self.fact.plan_id].revisions.append(self.fact)

    class DischargeDecisionMade(Event):
        """Medical decision making for a TCM discharge (MDM facts with a discharge_id)."""

        TOPIC = "carelane.Patient.DischargeDecisionMade.v1"
        fact: records.MedicalDecisionMaking
        digest: str

        def assign(self, p: Patient) -> None:
            p.discharges[str(self.fact.discharge_id)].decisions.append(self.fact)

    class FacilityStayStarted(Event):
        TOPIC = "carelane.Patient.FacilityStayStarted.v1"
        fact: records.FacilityStayStarted
        digest: str

        def assign(self, p: Patient) -> None:
            p.stays[self.fact.stay_id] = Stay(self.fact)

    class FacilityStayEnded(Event):
        TOPIC = "carelane.Patient.FacilityStayEnded.v1"
        fact: records.FacilityStayEnded
        digest: str

        def assign(self, p: Patient) -> None:
            p.stays[self.fact.stay_id].ended_on = self.fact.ended_on

    class Discharged(Event):
        TOPIC = "carelane.Patient.Discharged.v1"
        fact: records.Discharged
        digest: str

        def assign(self, p: Patient) -> None:
            p.discharges[self.fact.discharge_id] = DischargeEpisode(self.fact)

    class TransitionContactMade(Event):
        TOPIC = "carelane.Patient.TransitionContactMade.v1"
        fact: records.TransitionContactMade
        digest: str

        def assign(self, p: Patient) -> None:
            p.discharges[self.fact.discharge_id].contacts.append(self.fact)

    class FaceToFaceVisitRecorded(Event):
        TOPIC = "carelane.Patient.FaceToFaceVisitRecorded.v1"
        fact: records.FaceToFaceVisitRecorded
        digest: str

        def assign(self, p: Patient) -> None:
            p.visits[self.fact.visit_id] = self.fact
            if self.fact.discharge_id is not None:
                p.discharges[self.fact.discharge_id].visits.append(self.fact)

    class DeviceSetup(Event):
        TOPIC = "carelane.Patient.DeviceSetup.v1"
        fact: records.DeviceSetup
        digest: str

        def assign(self, p: Patient) -> None:
            p.devices.setdefault(self.fact.device_id, []).append(self.fact)

    class RatingScaleAdministered(Event):
        TOPIC = "carelane.Patient.RatingScaleAdministered.v1"
        fact: records.RatingScaleAdministered
        digest: str

        def assign(self, p: Patient) -> None:
            p.rating_scales.append(self.fact)

    class PatientDied(Event):
        TOPIC = "carelane.Patient.PatientDied.v1"
        fact: records.PatientDied
        digest: str

        def assign(self, p: Patient) -> None:
            p.died_on = self.fact.died_on

    class DemographicsRecorded(Event):
        TOPIC = "carelane.Patient.DemographicsRecorded.v1"
        fact: records.PatientDemographicsRecorded
        digest: str

        def assign(self, p: Patient) -> None:
            p.demographics.append(self.fact)
            p.demographics.sort(key=lambda d: d.effective_on)

    class DischargeCancelled(Event):
        TOPIC = "carelane.Patient.DischargeCancelled.v1"
        fact: records.DischargeCancelled
        digest: str

        def assign(self, p: Patient) -> None:
            p.discharges.pop(self.fact.discharge_id, None)

    class FacilityStayCancelled(Event):
        TOPIC = "carelane.Patient.FacilityStayCancelled.v1"
        fact: records.FacilityStayCancelled
        digest: str

        def assign(self, p: Patient) -> None:
            p.stays.pop(self.fact.stay_id, None)

    class ScopedClaimLodged(Event):
        """Before G-16 only a claim's cross-month lines were lodged; read, never written now."""

        TOPIC = "carelane.Patient.ScopedClaimLodged.v1"
        class_version = 2
        upcast_v1_v2 = staticmethod(claim_records.upcast_lodged_lines)
        claim_id: str
        lines: list[claim_records.LodgedLine]

        def assign(self, p: Patient) -> None:
            p.claims[self.claim_id] = Lodged(None, [_line(x) for x in self.lines])

    class ClaimLodged(Event):
        TOPIC = "carelane.Patient.ClaimLodged.v1"
        class_version = 2  # v2: each line's scope a tagged struct, not a string
        upcast_v1_v2 = staticmethod(claim_records.upcast_lodged_lines)
        claim_id: str
        month: str
        lines: list[claim_records.LodgedLine]

        def assign(self, p: Patient) -> None:
            p.claims[self.claim_id] = Lodged(self.month, [_line(x) for x in self.lines])

    class ScopedClaimReleased(Event):
        TOPIC = "carelane.Patient.ScopedClaimReleased.v1"
        claim_id: str

        def assign(self, p: Patient) -> None:
            p.claims.pop(self.claim_id, None)

    class ServiceNoted(Event):
        """A month has a first service of the program on record (P-CCM-2)."""

        TOPIC = "carelane.Patient.ServiceNoted.v1"
        program: facts.Program
        month: str

        def assign(self, p: Patient) -> None:
            p.service_months.setdefault(self.program, set()).add(self.month)

    class ServiceWithdrawn(Event):
        """A month's last service of the program was voided: it is no service on record."""

        TOPIC = "carelane.Patient.ServiceWithdrawn.v1"
        program: facts.Program
        month: str

        def assign(self, p: Patient) -> None:
            p.service_months.get(self.program, set()).discard(self.month)

    # Commands: decide (refuse with a reason), then record.

    def lodge(self, claim_id: str, month: str, lines: list[Line], at: datetime) -> None:
        """Hold an accepted claim: its cross-month lines are judged against later claims
        (P-RPM-2, P-TCM-1), and its month is re-checked when support is withdrawn (G-16)."""
        stored = [claim_records.LodgedLine(x.code, x.units, x.npi, x.month, x.scope, x.claim_id) for x in lines]
        self.trigger_event(Patient.ClaimLodged, claim_id=claim_id, month=month, lines=stored, timestamp=at)

    def release(self, claim_id: str, at: datetime) -> None:
        """A voided claim frees its lines (G-08)."""
        if claim_id in self.claims:
            self.trigger_event(Patient.ScopedClaimReleased, claim_id=claim_id, timestamp=at)

    def demographics_on(self, day: date) -> records.PatientDemographicsRecorded | None:
        """The demographics in effect on a day (the earliest record when none was yet)."""
        current = [d for d in self.demographics if d.effective_on <= day]
        return current[-1] if current else (self.demographics[0] if self.demographics else None)

    def scoped_lines(self) -> list[Line]:
        return [line for lodged in self.claims.values() for line in lodged.lines if line.scope is not None]

    def claim_months(self) -> set[str]:
        return {lodged.month for lodged in self.claims.values() if lodged.month is not None}

    def first_service(self, program: facts.Program) -> str | None:
        """P-CCM-2: the first month with a service of the program on record."""
        months = self.service_months.get(program)
        return min(months) if months else None

    def note_service(self, program: facts.Program, month: str, at: datetime) -> bool:
        """Remember a month with a service of the program; True when it is now the first."""
        first = self.first_service(program)
        if month not in self.service_months.get(program, ()):
            self.trigger_event(Patient.ServiceNoted, program=program, month=month, timestamp=at)
        return first is not None and month < first

    def withdraw_service(self, program: facts.Program, month: str, at: datetime) -> bool:
        """The month has no live service of the program left; True when it was the first."""
        if month not in self.service_months.get(program, ()):
            return False
        first = self.first_service(program)
        self.trigger_event(Patient.ServiceWithdrawn, program=program, month=month, timestamp=at)
        return month == first

    @classmethod
    def register(cls, fact: facts.PatientRegistered, digest: str, at: datetime) -> Patient:
        return cls._create(
            cls.PatientRegistered,
            id=patient_key(fact.patient_id),
            fact=records.stored(fact),
            digest=digest,
            timestamp=at,
        )

    def note(self, fact: facts.Fact, digest: str, at: datetime) -> int:
        """Record a patient-level fact after checking what it refers to is on file."""
        self._check_references(fact)
        return self.record(_EVENT_FOR[type(fact)], fact, digest, at)

    @staticmethod
    def _check_stay_end(fact: facts.FacilityStayEnded, stay: Stay) -> None:
        problem = _stay_end_problem(fact, stay)
        if problem is not None:
            raise Refused.one(Reason.STAY_DATES_CONFLICT, problem)

    def _check_references(self, fact: Any) -> None:
        if isinstance(fact, facts.FacilityStayEnded) and fact.stay_id in self.stays:
            self._check_stay_end(fact, self.stays[fact.stay_id])
        ref = _REFERENCES.get(type(fact))
        if ref is None:
            return
        field_name, collection, label = ref
        value = getattr(fact, field_name)
        if value is not None and value not in getattr(self, collection):
            raise unknown(Reason.UNKNOWN_REFERENCE, f"{label} {value}")


def _stay_end_problem(fact: facts.FacilityStayEnded, stay: Stay) -> str | None:
    if fact.ended_on < stay.started.started_on:
        return f"Facility stay {fact.stay_id} would end before it began"
    if stay.ended_on is not None and stay.ended_on != fact.ended_on:
        return f"Facility stay {fact.stay_id} already ended on another day; cancel the stay to correct it"
    return None


def _line(stored: claim_records.LodgedLine) -> Line:
    return Line(stored.code, stored.units, stored.npi, stored.month, stored.scope, stored.claim_id)


# What a patient-level fact refers to: (its field, the patient's collection, a name for it).
_REFERENCES: dict[type[facts.Fact], tuple[str, str, str]] = {
    facts.ConditionResolved: ("condition_id", "conditions", "Condition"),
    facts.ConsentRevoked: ("program", "consents", "A consent for"),
    facts.CarePlanRevised: ("plan_id", "care_plans", "Care plan"),
    facts.FacilityStayEnded: ("stay_id", "stays", "Facility stay"),
    facts.TransitionContactMade: ("discharge_id", "discharges", "Discharge"),
    facts.FaceToFaceVisitRecorded: ("discharge_id", "discharges", "Discharge"),
    facts.MedicalDecisionMaking: ("discharge_id", "discharges", "Discharge"),
    facts.DischargeCancelled: ("discharge_id", "discharges", "Discharge"),
    facts.FacilityStayCancelled: ("stay_id", "stays", "Facility stay"),
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
    facts.PatientDied: Patient.PatientDied,
    facts.DischargeCancelled: Patient.DischargeCancelled,
    facts.FacilityStayCancelled: Patient.FacilityStayCancelled,
    facts.PatientDemographicsRecorded: Patient.DemographicsRecorded,
}
PATIENT_FACTS = frozenset(_EVENT_FOR)
