"""A decision's unit of work: the aggregates one fact's decision reads and changes, saved
together or not at all. Aggregates come from a loader the runner passes in; a batch passes
the aggregates it already holds (`known`) and the keys it knows are absent."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TypeVar
from uuid import UUID

from domain import fact_ids, facts
from domain.base import LedgerAggregate
from domain.identity import Identity
from domain.keys import identity_key, patient_key, patient_month_key, staff_day_key
from domain.month import Month
from domain.patient import Patient
from domain.patient_month import PatientMonth
from domain.policy import Policy
from domain.reasons import Reason, Refused
from domain.rulebook import Rulebook
from domain.rules.view import MonthView
from domain.staff_day import StaffDay

A = TypeVar("A", bound=LedgerAggregate)
Load = Callable[[UUID], LedgerAggregate | None]  # one aggregate by id, or None
Home = tuple[UUID, int]  # the aggregate and version that hold a recorded fact


@dataclass(frozen=True)
class Context:
    """What every decision is judged under: the practice's policy and the rule years."""

    policy: Policy
    rulebook: Rulebook


class AlreadyRecorded(Exception):
    """The fact was recorded before: not an error, the answer names where."""

    def __init__(self, originator_id: UUID, version: int) -> None:
        super().__init__(f"already recorded at {originator_id} v{version}")
        self.originator_id = originator_id
        self.version = version


class Work:
    """The aggregates one decision reads and changes."""

    def __init__(
        self,
        load: Load,
        ctx: Context,
        at: datetime,
        known: Mapping[UUID, LedgerAggregate] | None = None,
        absent: set[UUID] | None = None,
    ) -> None:
        self.load = load
        self.ctx = ctx
        self.at = at
        self.known = known or {}
        self.absent = absent or set()  # known not to exist
        self.touched: dict[UUID, LedgerAggregate] = {}
        self.versions: dict[UUID, int] | None = None  # of `known` aggregates read, when tracked

    def get(self, key: UUID, kind: type[A]) -> A | None:
        # Probed in this order, each once: bulk ingest makes millions of these lookups, and
        # each probe hashes the UUID in Python.
        agg = self.touched.get(key)
        if agg is None:
            agg = self.known.get(key)
            if agg is not None:
                if self.versions is not None:
                    self.versions[key] = agg.version
            elif key in self.absent or (agg := self.load(key)) is None:
                return None
            self.touched[key] = agg
        assert isinstance(agg, kind)
        return agg

    def add(self, agg: A) -> A:
        self.touched[agg.id] = agg
        return agg

    def patient(self, patient_id: str) -> Patient:
        patient = self.get(patient_key(patient_id), Patient)
        if patient is None:
            raise Refused.one(
                Reason.UNKNOWN_PATIENT,
                f"Patient {patient_id} is not registered; send PatientRegistered first",
            )
        return patient

    def patient_month(self, patient_id: str, month: str) -> PatientMonth:
        pm = self.get(patient_month_key(patient_id, month), PatientMonth)
        return pm or self.add(PatientMonth.open(patient_id, month, self.at))

    def staff_day(self, staff_id: str, day: date) -> StaffDay:
        sd = self.get(staff_day_key(staff_id, day), StaffDay)
        return sd or self.add(StaffDay.open(staff_id, day, self.at))

    def view(self, patient: Patient, month: str) -> MonthView:
        """What the rules read for a patient-month: the months around it (VIEW_MONTHS)."""
        months: dict[str, PatientMonth] = {}
        for m in Month(month).window():
            pm = self.get(patient_month_key(patient.patient_id, m), PatientMonth)
            if pm is not None:
                months[m] = pm
        return MonthView(patient, month, self.ctx.policy, months, self.ctx.rulebook)

    def identity_of(self, fact_type: type[facts.Fact], external_id: str) -> Identity | None:
        return self.get(identity_key(fact_type.__name__, external_id), Identity)

    def not_yet(self, fact: facts.Fact, home: LedgerAggregate, digest: str) -> None:
        """Raise AlreadyRecorded for a fact sent again; ID_REUSED for an id with other content."""
        field = fact_ids.id_field(fact)
        if field is None:
            version = home.already(digest)
            if version is not None:
                raise AlreadyRecorded(home.id, version)
            return
        ident = self.identity_of(type(fact), getattr(fact, field))
        if ident is not None and ident.same_fact(digest):
            raise AlreadyRecorded(ident.home_id, ident.home_version)

    def bind(self, fact: facts.Fact, home: LedgerAggregate, version: int, digest: str) -> None:
        field = fact_ids.id_field(fact)
        if field is not None:
            external_id = getattr(fact, field)
            self.add(Identity.bind(type(fact).__name__, external_id, digest, home.id, version, self.at))
