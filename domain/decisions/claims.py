"""Decisions on claims: the gate (G-06..G-18 through domain.rules.gate), the payer's answers
and voids. A claim's month is its service month, or the month of its date of service."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain import facts, records
from domain.decisions.recheck import claim_gone
from domain.decisions.work import AlreadyRecorded, Context, Home, Work
from domain.keys import identity_key, patient_key, patient_month_key
from domain.month import Month
from domain.patient_month import PatientMonth
from domain.reasons import Reason, Refused
from domain.rules import gate
from domain.state import PAID
from domain.timing import month_of
from domain.vocab import ClaimOutcome


def claim_month(fact: facts.ClaimSubmitted, ctx: Context, at: datetime) -> str:
    return fact.service_month or month_of(fact.service_on or at, ctx.policy)


def submit_reads(fact: facts.ClaimSubmitted, ctx: Context, at: datetime) -> list[UUID]:
    month = claim_month(fact, ctx, at)
    return [
        patient_key(fact.patient_id),
        identity_key(facts.ClaimSubmitted.__name__, fact.claim_id),
        *(patient_month_key(fact.patient_id, m) for m in Month(month).window()),
    ]


def submit(w: Work, fact: facts.ClaimSubmitted, digest: str) -> Home:
    """The claim gate: accepted with its verdict (G-17), or refused with every reason (G-14)."""
    patient = w.patient(fact.patient_id)
    month = claim_month(fact, w.ctx, w.at)
    pm = w.patient_month(fact.patient_id, month)
    w.not_yet(fact, pm, digest)
    judged = gate.judge(fact, w.view(patient, month), w.at)
    if judged.reasons:
        raise Refused(*judged.reasons)
    version = pm.accept_claim(fact, digest, w.at, judged.verdict)
    patient.lodge(fact.claim_id, month, judged.lines, w.at)
    for program in dict.fromkeys(x.spec.program for x in judged.lines if x.spec.program is not None):
        patient.note_service(program, month, w.at)  # P-CCM-2: a claim is a service on record
    w.bind(fact, pm, version, digest)
    return pm.id, version


def answer_reads(fact: facts.ClaimAdjudicated | facts.ClaimVoided, ctx: Context, at: datetime) -> list[UUID]:
    return [identity_key(facts.ClaimSubmitted.__name__, fact.claim_id)]


def _home(w: Work, claim_id: str) -> PatientMonth:
    ident = w.identity_of(facts.ClaimSubmitted, claim_id)
    pm = None if ident is None else w.get(ident.home_id, PatientMonth)
    if pm is None:
        raise Refused.one(Reason.UNKNOWN_CLAIM, f"Claim {claim_id} is not on file")
    return pm


def adjudicate(w: Work, fact: facts.ClaimAdjudicated, digest: str) -> Home:
    """A payer's answer; the same answer again is recorded once. One exception: after a
    reversal, a payment equal to the one reversed (same amount, same day) that comes from
    another remittance (another `source`) is the corrected payment, and is recorded."""
    pm = _home(w, fact.claim_id)
    seen = pm.already(digest)
    if seen is not None:
        claim = pm.claims[fact.claim_id]
        reopened = claim.live and claim.outcome is ClaimOutcome.REVERSED and fact.outcome in PAID
        stored = _bare(records.stored(fact))
        same_source = any(_bare(a) == stored and a.source == fact.source for a in claim.adjudications)
        if not reopened or same_source:
            raise AlreadyRecorded(pm.id, seen)
    version = pm.adjudicate(fact, digest, w.at)
    claim = pm.claims[fact.claim_id]
    if not claim.live:  # the payer reversed it: its codes are free (G-08)
        claim_gone(w, pm, claim, fact)
    return pm.id, version


def _bare(answer: records.ClaimAdjudicated) -> records.ClaimAdjudicated:
    """The answer without who sent it (not part of what it says: domain.fact_ids)."""
    return msgspec.structs.replace(answer, source=None, recorded_by=None)


def void(w: Work, fact: facts.ClaimVoided, digest: str) -> Home:
    pm = _home(w, fact.claim_id)
    w.not_yet(fact, pm, digest)
    version, freed = pm.void_claim(fact, digest, w.at)
    if freed:
        claim_gone(w, pm, pm.claims[fact.claim_id], fact)
    return pm.id, version
