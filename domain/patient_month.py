"""The PatientMonth aggregate: one patient's calendar month (G-01), keyed by a uuid5 of
patient and month. It owns what is counted and claimed in that month: time entries and
their voids, device days, the month's medical decision making, and the claims."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from domain import facts
from domain.base import Created, LedgerAggregate
from domain.keys import patient_month_key
from domain.reasons import Reason, Refused
from domain.rules import gate
from domain.rules.stacking import Line

if TYPE_CHECKING:
    from domain.rules.view import MonthView


@dataclass
class Entry:
    logged: facts.TimeLogged
    voided: facts.TimeEntryVoided | None = None


@dataclass
class Claim:
    submitted: facts.ClaimSubmitted
    adjudications: list[facts.ClaimAdjudicated] = field(default_factory=list)
    voided: facts.ClaimVoided | None = None

    @property
    def codes(self) -> list[str]:
        return [line.code for line in self.submitted.lines]


class PatientMonth(LedgerAggregate):
    TOPIC = "carelane.PatientMonth"

    def __init__(self, patient_id: str, month: str) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.month = month
        self.entries: dict[str, Entry] = {}
        self.device_days: dict[str, set[date]] = {}
        self.decisions: list[facts.MedicalDecisionMaking] = []
        self.claims: dict[str, Claim] = {}

    class Event(LedgerAggregate.Event):
        pass

    class Opened(Event, Created):
        TOPIC = "carelane.PatientMonth.Opened.v1"
        patient_id: str
        month: str

    class TimeLogged(Event):
        TOPIC = "carelane.PatientMonth.TimeLogged.v1"
        fact: facts.TimeLogged
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.entries[self.fact.entry_id] = Entry(self.fact)

    class TimeEntryVoided(Event):
        TOPIC = "carelane.PatientMonth.TimeEntryVoided.v1"
        fact: facts.TimeEntryVoided
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.entries[self.fact.entry_id].voided = self.fact

    class DataTransmitted(Event):
        TOPIC = "carelane.PatientMonth.DataTransmitted.v1"
        fact: facts.DataTransmitted
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.device_days.setdefault(self.fact.device_id, set()).add(self.fact.transmitted_on)

    class MonthDecisionMade(Event):
        """Medical decision making for the month (MDM facts with a month)."""

        TOPIC = "carelane.PatientMonth.MonthDecisionMade.v1"
        fact: facts.MedicalDecisionMaking
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.decisions.append(self.fact)

    class ClaimSubmitted(Event):
        """A claim the gate accepted. Refused claims never become this event."""

        TOPIC = "carelane.PatientMonth.ClaimSubmitted.v1"
        fact: facts.ClaimSubmitted
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.claims[self.fact.claim_id] = Claim(self.fact)

    class ClaimAdjudicated(Event):
        TOPIC = "carelane.PatientMonth.ClaimAdjudicated.v1"
        fact: facts.ClaimAdjudicated
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.claims[self.fact.claim_id].adjudications.append(self.fact)

    class ClaimVoided(Event):
        TOPIC = "carelane.PatientMonth.ClaimVoided.v1"
        fact: facts.ClaimVoided
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.claims[self.fact.claim_id].voided = self.fact

    @classmethod
    def open(cls, patient_id: str, month: str, at: datetime) -> PatientMonth:
        return cls._create(
            cls.Opened,
            id=patient_month_key(patient_id, month),
            patient_id=patient_id,
            month=month,
            timestamp=at,
        )

    # Commands

    def log_time(self, fact: facts.TimeLogged, digest: str, at: datetime) -> int:
        return self.record(PatientMonth.TimeLogged, fact, digest, at)

    def void_entry(self, fact: facts.TimeEntryVoided, digest: str, at: datetime) -> int:
        entry = self.entries[fact.entry_id]
        if entry.voided is not None:
            raise Refused.one(
                Reason.ALREADY_VOIDED,
                f"Time entry {fact.entry_id} was already voided ({entry.voided.reason})",
            )
        return self.record(PatientMonth.TimeEntryVoided, fact, digest, at)

    def transmit(self, fact: facts.DataTransmitted, digest: str, at: datetime) -> int:
        return self.record(PatientMonth.DataTransmitted, fact, digest, at)

    def decide(self, fact: facts.MedicalDecisionMaking, digest: str, at: datetime) -> int:
        return self.record(PatientMonth.MonthDecisionMade, fact, digest, at)

    def submit_claim(
        self, fact: facts.ClaimSubmitted, digest: str, at: datetime, view: MonthView
    ) -> tuple[int, list[Line]]:
        """The claim gate: refuse with every failing line's reasons, or record the claim.
        Returns the event's version and the claim's cross-month lines."""
        reasons, scoped = gate.judge(fact, view)
        if reasons:
            raise Refused(*reasons)
        return self.record(PatientMonth.ClaimSubmitted, fact, digest, at), scoped

    def adjudicate(self, fact: facts.ClaimAdjudicated, digest: str, at: datetime) -> int:
        return self.record(PatientMonth.ClaimAdjudicated, fact, digest, at)

    def void_claim(self, fact: facts.ClaimVoided, digest: str, at: datetime) -> int:
        claim = self.claims[fact.claim_id]
        if claim.voided is not None:
            raise Refused.one(Reason.ALREADY_VOIDED, f"Claim {fact.claim_id} was already voided")
        return self.record(PatientMonth.ClaimVoided, fact, digest, at)

    # Rules

    def live_claims(self) -> list[Claim]:
        """Claims not voided: what stands against Medicare for this month."""
        return [c for c in self.claims.values() if c.voided is None]
