"""The PatientMonth aggregate: one patient's calendar month (G-01), keyed by a uuid5 of
patient and month. It owns what is counted and claimed in that month: time entries and
their voids, device days, the month's medical decision making, and the claims."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from domain import facts, records
from domain.base import Created, LedgerAggregate
from domain.claim_records import Verdict, Withdrawn
from domain.keys import patient_month_key
from domain.reasons import Reason, Refused
from domain.rules import answers
from domain.state import PAID, UNPAID, VOID, Claim, Entry, claim_programs


class PatientMonth(LedgerAggregate):
    TOPIC = "carelane.PatientMonth"

    def __init__(self, patient_id: str, month: str) -> None:
        super().__init__()
        self.patient_id = patient_id
        self.month = month
        self.entries: dict[str, Entry] = {}
        self.device_days: dict[str, set[date]] = {}
        self.readings: dict[tuple[str, date], int] = {}  # a device day's first reading's version
        self.manual_days: dict[str, set[date]] = {}  # days with only readings keyed by hand
        self.decisions: list[records.MedicalDecisionMaking] = []
        self.claims: dict[str, Claim] = {}

    class Event(LedgerAggregate.Event):
        pass

    class Opened(Event, Created):
        TOPIC = "carelane.PatientMonth.Opened.v1"
        patient_id: str
        month: str

    class TimeLogged(Event):
        TOPIC = "carelane.PatientMonth.TimeLogged.v1"
        fact: records.TimeLogged
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.entries[self.fact.entry_id] = Entry(self.fact, self.originator_version)

    class TimeEntryVoided(Event):
        TOPIC = "carelane.PatientMonth.TimeEntryVoided.v1"
        fact: records.TimeEntryVoided
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.entries[self.fact.entry_id].voided = self.fact

    class DataTransmitted(Event):
        TOPIC = "carelane.PatientMonth.DataTransmitted.v1"
        fact: records.DataTransmitted
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            if self.fact.manual:  # P-RPM-1: data keyed by hand is not a device day (a policy may count it)
                pm.manual_days.setdefault(self.fact.device_id, set()).add(self.fact.transmitted_on)
                return
            pm.device_days.setdefault(self.fact.device_id, set()).add(self.fact.transmitted_on)
            pm.readings.setdefault((self.fact.device_id, self.fact.transmitted_on), self.originator_version)

    class MonthDecisionMade(Event):
        """Medical decision making for the month (MDM facts with a month)."""

        TOPIC = "carelane.PatientMonth.MonthDecisionMade.v1"
        fact: records.MedicalDecisionMaking
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.decisions.append(self.fact)

    class ClaimSubmitted(Event):
        """A claim the gate accepted, with its verdict (G-17). Refused claims never become
        this event. v2 added `verdict`; v1 events read with none (CHANGELOG.md)."""

        TOPIC = "carelane.PatientMonth.ClaimSubmitted.v1"
        class_version = 2
        fact: records.ClaimSubmitted
        digest: str
        verdict: Verdict | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["verdict"] = None

        def assign(self, pm: PatientMonth) -> None:
            pm.claims[self.fact.claim_id] = Claim(self.fact, self.verdict)

    class ClaimAdjudicated(Event):
        TOPIC = "carelane.PatientMonth.ClaimAdjudicated.v1"
        fact: records.ClaimAdjudicated
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            claim = pm.claims[self.fact.claim_id]
            if self.fact.outcome in PAID and not claim.paid:
                claim.paid_at = self.timestamp
            claim.adjudications.append(self.fact)
            if self.fact.outcome in UNPAID and claim.void_requested is not None:
                claim.voided = claim.void_requested  # the payer's answer completes the void

    class ClaimExported(Event):
        """The claim went out in an 837P batch: as an original (frequency 1) or its void (8)."""

        TOPIC = "carelane.PatientMonth.ClaimExported.v1"
        claim_id: str
        batch_id: str
        frequency: str

        def assign(self, pm: PatientMonth) -> None:
            claim = pm.claims[self.claim_id]
            claim.batches.append(self.batch_id)
            if self.frequency == VOID:
                claim.void_sent = self.batch_id
            else:
                claim.clearing = "exported"

    class ClaimAcknowledged(Event):
        """The clearinghouse's answer about the claim's latest batch (a 277CA, or a 999
        rejecting the file): accepted or rejected. A rejected void goes out again; a claim
        rejected while its void waited never reached the payer, so the void is done."""

        TOPIC = "carelane.PatientMonth.ClaimAcknowledged.v1"
        claim_id: str
        accepted: bool
        codes: list[str]
        source: str
        batch_id: str = ""  # the batch the answer is about (stores of early v4 have none)

        def assign(self, pm: PatientMonth) -> None:
            claim = pm.claims[self.claim_id]
            if claim.void_sent is not None and claim.void_sent == self.batch_id:
                claim.void_sent = None  # only a rejection is recorded about a void: send it again
                return
            claim.clearing = "acknowledged" if self.accepted else "rejected"
            if not self.accepted and claim.void_requested is not None and not claim.paid:
                claim.voided = claim.void_requested

    class ClaimVoided(Event):
        TOPIC = "carelane.PatientMonth.ClaimVoided.v1"
        fact: records.ClaimVoided
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.claims[self.fact.claim_id].voided = self.fact

    class ClaimVoidRequested(Event):
        """A void of a paid claim: a void or replacement claim goes to the payer, and the
        codes stay claimed until the payer reverses the payment."""

        TOPIC = "carelane.PatientMonth.ClaimVoidRequested.v1"
        fact: records.ClaimVoided
        digest: str

        def assign(self, pm: PatientMonth) -> None:
            pm.claims[self.fact.claim_id].void_requested = self.fact

    class ClaimSupportRestored(Event):
        """G-16: a later fact gave an unsupported claim back the support it was accepted on."""

        TOPIC = "carelane.PatientMonth.ClaimSupportRestored.v1"
        claim_id: str
        cause: str

        def assign(self, pm: PatientMonth) -> None:
            pm.claims[self.claim_id].withdrawn = None

    class ClaimSupportWithdrawn(Event):
        """G-16: a fact recorded after the claim left it without the support it was accepted on."""

        TOPIC = "carelane.PatientMonth.ClaimSupportWithdrawn.v1"
        claim_id: str
        withdrawn: Withdrawn

        def assign(self, pm: PatientMonth) -> None:
            pm.claims[self.claim_id].withdrawn = self.withdrawn

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

    def accept_claim(self, fact: facts.ClaimSubmitted, digest: str, at: datetime, verdict: Verdict) -> int:
        """Record a claim the gate (domain.rules.gate) accepted, with its verdict (G-17)."""
        self.trigger_event(
            PatientMonth.ClaimSubmitted, fact=records.stored(fact), digest=digest, verdict=verdict, timestamp=at
        )
        return self.version

    def adjudicate(self, fact: facts.ClaimAdjudicated, digest: str, at: datetime) -> int:
        """A payer's answer, unless it cannot stand (domain.rules.answers)."""
        refusal = answers.refusal(self.claims[fact.claim_id], fact)
        if refusal is not None:
            raise refusal
        return self.record(PatientMonth.ClaimAdjudicated, fact, digest, at)

    def void_claim(self, fact: facts.ClaimVoided, digest: str, at: datetime) -> tuple[int, bool]:
        """Void a claim; returns the version and whether its codes are freed now. A paid
        claim's void is a request to the payer, freed when the payer reverses it."""
        claim = self.claims[fact.claim_id]
        if not claim.live:
            raise Refused.one(Reason.ALREADY_VOIDED, f"Claim {fact.claim_id} was already voided")
        if claim.void_waits:
            if claim.void_requested is not None:
                raise Refused.one(Reason.ALREADY_VOIDED, f"A void of claim {fact.claim_id} is already with the payer")
            return self.record(PatientMonth.ClaimVoidRequested, fact, digest, at), False
        return self.record(PatientMonth.ClaimVoided, fact, digest, at), True

    def export_claim(self, claim_id: str, batch_id: str, frequency: str, at: datetime) -> None:
        self.trigger_event(
            PatientMonth.ClaimExported, claim_id=claim_id, batch_id=batch_id, frequency=frequency, timestamp=at
        )

    def acknowledge(self, claim_id: str, batch_id: str | None, accepted: bool, codes: list[str], source: str,
                    at: datetime) -> bool:  # fmt: skip
        """Record the clearinghouse's answer; False when it changes nothing. An answer about
        an earlier batch than the claim's latest is stale, and so is a 999 rejecting a file
        after the 277CA accepted its claims; the payer's answer stands over both. A batch
        number that is none of ours (a clearinghouse that batched the claims again quotes its
        own) answers the claim while its latest batch has no answer yet: later, it may be a
        re-delivered answer about an earlier sending."""
        claim = self.claims[claim_id]
        latest = claim.batches[-1] if claim.batches else None
        if batch_id is None or batch_id in claim.batches:
            stale = batch_id not in (None, latest)
        else:
            stale = claim.clearing != "exported"
        if latest is None or stale or not claim.live:
            return False
        if claim.void_sent == latest:
            changed = not accepted
        else:
            wanted = "acknowledged" if accepted else "rejected"
            changed = claim.outcome is None and claim.clearing != wanted
            changed = changed and (source != "999" or claim.clearing == "exported")
        if changed:
            self.trigger_event(
                PatientMonth.ClaimAcknowledged, claim_id=claim_id, batch_id=latest, accepted=accepted, codes=codes,
                source=source, timestamp=at,
            )  # fmt: skip
        return changed

    def withdraw_support(self, claim_id: str, withdrawn: Withdrawn) -> None:
        """G-16: mark a claim unsupported (once: the first withdrawal is when it was identified)."""
        if self.claims[claim_id].withdrawn is None:
            self.trigger_event(
                PatientMonth.ClaimSupportWithdrawn,
                claim_id=claim_id,
                withdrawn=withdrawn,
                timestamp=withdrawn.identified_at,
            )

    def restore_support(self, claim_id: str, cause: str, at: datetime) -> None:
        if self.claims[claim_id].withdrawn is not None:
            self.trigger_event(PatientMonth.ClaimSupportRestored, claim_id=claim_id, cause=cause, timestamp=at)

    # Rules

    def serves(self, program: facts.Program) -> bool:
        """A live time entry or claim of the program in this month (P-CCM-2)."""
        if any(e.voided is None and e.logged.program is program for e in self.entries.values()):
            return True
        return any(program in claim_programs(c) for c in self.live_claims())

    def live_claims(self) -> list[Claim]:
        """Claims not voided: what stands against Medicare for this month."""
        return [c for c in self.claims.values() if c.live]
