"""What the aggregates hold, as plain data the rules read.

The aggregates (domain.patient, domain.patient_month) build these from their events; the
rules read them through a MonthView and never import an aggregate. Nothing here is stored:
the stored forms are in domain.records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Protocol
from uuid import UUID

import msgspec

from domain import records
from domain.catalog import CATALOG, CodeSpec
from domain.claim_records import AnyScope, Verdict, Withdrawn
from domain.vocab import ClaimOutcome, Program


class Line(msgspec.Struct, frozen=True):
    """One code on a claim (or proposed for one), with who bills it and its period."""

    code: str
    units: int
    npi: str
    month: str  # the claim's month
    scope: AnyScope | None = None  # the period when it is not the calendar month
    claim_id: str = ""

    @property
    def spec(self) -> CodeSpec:
        return CATALOG[self.code]


# Each episode keeps the version of the event that recorded it: a claim's verdict names
# the facts it stood on by stream and version (G-17).
@dataclass
class ConditionEpisode:
    diagnosed: records.ConditionDiagnosed
    version: int = 0
    resolved_on: date | None = None


@dataclass
class ConsentEpisode:
    recorded: records.ConsentRecorded
    version: int = 0
    revoked_on: date | None = None


@dataclass
class CarePlan:
    established: records.CarePlanEstablished
    version: int = 0
    revisions: list[records.CarePlanRevised] = field(default_factory=list)


@dataclass
class Lodged:
    """An accepted claim as the patient sees it: its month and lines (G-16 finds a patient's
    claims here; cross-month lines are judged against later claims)."""

    month: str | None  # None for claims lodged before every claim was (scoped lines only)
    lines: list[Line]


@dataclass
class Stay:
    started: records.FacilityStayStarted
    ended_on: date | None = None


@dataclass
class DischargeEpisode:
    discharged: records.Discharged
    contacts: list[records.TransitionContactMade] = field(default_factory=list)
    visits: list[records.FaceToFaceVisitRecorded] = field(default_factory=list)
    decisions: list[records.MedicalDecisionMaking] = field(default_factory=list)


@dataclass
class Entry:
    logged: records.TimeLogged
    version: int = 0  # of the event that recorded it (G-17)
    voided: records.TimeEntryVoided | None = None


@dataclass
class Claim:
    submitted: records.ClaimSubmitted
    verdict: Verdict | None = None
    adjudications: list[records.ClaimAdjudicated] = field(default_factory=list)
    voided: records.ClaimVoided | None = None
    void_requested: records.ClaimVoided | None = None  # of a paid claim: waits for the payer
    withdrawn: Withdrawn | None = None
    paid_at: datetime | None = None  # when the ledger recorded the payment standing now
    # Where the claim stands with the clearinghouse: exported, then acknowledged or rejected
    # (a rejected claim never reached the payer and goes out again as an original).
    clearing: str | None = None
    batches: list[str] = field(default_factory=list)  # the export batches that carried it
    void_sent: str | None = None  # the batch that carried its void (frequency 8)

    @property
    def codes(self) -> list[str]:
        return [line.code for line in self.submitted.lines]

    @property
    def outcome(self) -> ClaimOutcome | None:
        return self.adjudications[-1].outcome if self.adjudications else None

    @property
    def paid(self) -> bool:
        return self.outcome in PAID

    @property
    def live(self) -> bool:
        """Stands against Medicare: not voided. A payer's reversal alone takes the payment
        back but keeps the claim (a corrected payment usually follows in the same 835);
        with a void requested, the reversal completes the void."""
        return self.voided is None

    @property
    def status(self) -> str:
        """interface.md section 4's claim status."""
        if not self.live:
            return "voided"
        if self.withdrawn is not None:
            return "unsupported"
        if self.outcome is not None:
            return self.outcome.value
        return self.clearing or "accepted"

    @property
    def void_waits(self) -> bool:
        """A void must go to the payer (frequency 8) and wait for its answer: the claim is
        paid, or exported and not yet answered or rejected."""
        return self.paid or (self.outcome is None and self.clearing in ("exported", "acknowledged"))

    @property
    def payer_claim_number(self) -> str | None:
        return next((a.payer_claim_number for a in reversed(self.adjudications) if a.payer_claim_number), None)

    @property
    def paid_amount(self) -> Decimal:
        last = self.adjudications[-1] if self.adjudications else None
        return (last.paid_amount or Decimal(0)) if last is not None and self.paid else Decimal(0)

    @property
    def repay_by(self) -> date | None:
        """G-16: a paid claim left unsupported is a potential overpayment, to be returned
        within 60 days of being identified: when support was withdrawn, or when the payment
        was recorded, whichever came later."""
        if self.withdrawn is None or not self.paid or self.paid_at is None:
            return None
        return max(self.withdrawn.identified_at, self.paid_at).date() + timedelta(days=REPAY_DAYS)


PAID = frozenset({ClaimOutcome.PAID, ClaimOutcome.PARTIAL})
UNPAID = frozenset({ClaimOutcome.DENIED, ClaimOutcome.REVERSED})  # a void waiting on these is done
ORIGINAL, REPLACEMENT, VOID = "1", "7", "8"  # CLM05-3, the claim frequency code


def claim_programs(claim: Claim) -> set[Program]:
    return {spec.program for line in claim.submitted.lines if (spec := CATALOG.get(line.code)) and spec.program}


REPAY_DAYS = 60


# What a MonthView reads of the aggregates: read-only, and structural, so the rules never
# import an aggregate (the aggregates import the rules).


class PatientFile(Protocol):
    """A patient's slow-changing record (domain.patient.Patient)."""

    @property
    def id(self) -> UUID: ...
    @property
    def patient_id(self) -> str: ...
    @property
    def birth_date(self) -> date | None: ...
    @property
    def medicare_id(self) -> str | None: ...
    @property
    def qmb(self) -> list[tuple[date | None, bool]]: ...
    @property
    def conditions(self) -> dict[str, list[ConditionEpisode]]: ...
    @property
    def consents(self) -> dict[Program, list[ConsentEpisode]]: ...
    @property
    def revocations(self) -> dict[Program, list[date]]: ...
    @property
    def initiating_visits(self) -> dict[str, records.InitiatingVisitRecorded]: ...
    @property
    def visit_versions(self) -> dict[str, int]: ...
    @property
    def care_plans(self) -> dict[str, CarePlan]: ...
    @property
    def stays(self) -> dict[str, Stay]: ...
    @property
    def discharges(self) -> dict[str, DischargeEpisode]: ...
    @property
    def visits(self) -> dict[str, records.FaceToFaceVisitRecorded]: ...
    @property
    def devices(self) -> dict[str, list[records.DeviceSetup]]: ...
    @property
    def rating_scales(self) -> list[records.RatingScaleAdministered]: ...
    @property
    def died_on(self) -> date | None: ...
    def scoped_lines(self) -> list[Line]: ...
    def demographics_on(self, day: date) -> records.PatientDemographicsRecorded | None: ...
    def first_service(self, program: Program) -> str | None: ...


class MonthFile(Protocol):
    """One patient-month's counted facts and claims (domain.patient_month.PatientMonth)."""

    @property
    def id(self) -> UUID: ...
    @property
    def month(self) -> str: ...
    @property
    def entries(self) -> dict[str, Entry]: ...
    @property
    def device_days(self) -> dict[str, set[date]]: ...
    @property
    def readings(self) -> dict[tuple[str, date], int]: ...
    @property
    def manual_days(self) -> dict[str, set[date]]: ...
    @property
    def decisions(self) -> list[records.MedicalDecisionMaking]: ...
    @property
    def claims(self) -> dict[str, Claim]: ...
    def live_claims(self) -> list[Claim]: ...
