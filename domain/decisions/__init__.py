"""The decision table: for each fact type of the contract, the aggregates its decision reads
(so a batch loads them in one query) and the decision itself. The runner (domain.ledger)
and bulk ingest (adapters.batch) both look decisions up here, and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from domain import facts
from domain.answered import RefusalMemory, Sent, memory_key
from domain.decisions import claims, month_facts, patient_facts, practices
from domain.decisions.work import Context, Home, Work
from domain.patient import PATIENT_FACTS
from domain.reasons import Refused
from domain.refusal import ClaimRefusal


class Decision(NamedTuple):
    reads: Callable[[Any, Context, datetime], list[UUID]]  # the keys it is likely to read
    decide: Callable[[Work, Any, str], Home]  # refuses (Refused) or changes the Work


def _mdm(w: Work, fact: facts.MedicalDecisionMaking, digest: str) -> Home:
    """A month's MDM is counted by the month; a discharge's belongs to the discharge."""
    if fact.discharge_id is None:
        return month_facts.decide_month(w, fact, digest)
    return patient_facts.note(w, fact, digest)


TABLE: dict[type[facts.Fact], Decision] = {
    **dict.fromkeys(PATIENT_FACTS, Decision(patient_facts.patient_reads, patient_facts.note)),
    facts.PatientRegistered: Decision(patient_facts.register_reads, patient_facts.register),
    facts.MedicalDecisionMaking: Decision(patient_facts.patient_reads, _mdm),
    facts.TimeLogged: Decision(month_facts.time_reads, month_facts.log_time),
    facts.TimeEntryVoided: Decision(month_facts.void_reads, month_facts.void_time_entry),
    facts.DataTransmitted: Decision(month_facts.transmit_reads, month_facts.transmit),
    facts.ClaimSubmitted: Decision(claims.submit_reads, claims.submit),
    facts.ClaimAdjudicated: Decision(claims.answer_reads, claims.adjudicate),
    facts.ClaimVoided: Decision(claims.answer_reads, claims.void),
    facts.PracticeRegistered: Decision(practices.register_reads, practices.register),
}


def decision_for(fact: facts.Fact) -> Decision:
    return TABLE[type(fact)]


class Remembered(Refused):
    """A line refused before in the same submission: refused again, for the same reasons."""


def recall(w: Work, sent: Sent | None) -> RefusalMemory | None:
    """The line's refusal memory, if any; raise Remembered when it stands and the line is not
    to be judged afresh (the resend policy: domain.answered)."""
    if sent is None:
        return None
    memory = w.get(memory_key(sent.submission, sent.line), RefusalMemory)
    if memory is not None and memory.reasons is not None and not sent.reconsider:
        raise Remembered(*memory.reasons)
    return memory


def settle(w: Work, memory: RefusalMemory | None) -> None:
    """A line judged afresh and accepted: its refusal no longer stands."""
    if memory is not None:
        memory.lift(w.at)


def remember(w: Work, sent: Sent | None, fact: facts.Fact, digest: str, refusal: Refused) -> None:
    """Keep a fresh refusal in the Work, to be saved with it: in the submission's memory, for
    resends (domain.answered), and a claim's in the refusal log, once per claim id and
    content. Saved with the rest of the Work (a batch's with its batch), so a judgement
    never written leaves no refusal that no client was given."""
    # A line refused before keeps its first answer's memory.
    if sent is not None and w.get(memory_key(sent.submission, sent.line), RefusalMemory) is None:
        w.add(RefusalMemory.remember(sent, digest, type(fact).__name__, list(refusal.reasons), w.at))
    if isinstance(fact, facts.ClaimSubmitted):
        entry = ClaimRefusal.log(fact, digest, list(refusal.reasons), w.at)
        if w.get(entry.id, ClaimRefusal) is None:
            w.add(entry)
