"""G-16: what a late fact does to claims already accepted. A fact about the past is
recorded, never refused because a claim relied on it; the claims it reaches are judged
again, and lose (or regain) their support."""

from __future__ import annotations

from domain import fact_ids, facts
from domain.claim_records import Withdrawn
from domain.decisions.work import Work
from domain.keys import patient_month_key
from domain.patient import Patient
from domain.patient_month import PatientMonth
from domain.rules import gate
from domain.state import Claim, claim_programs
from domain.vocab import Program

# Fields that name a fact without its content (which may hold PHI), in order of preference.
_NAMING = ("entry_id", "stay_id", "discharge_id", "condition_id", "program")


def cause(fact: facts.Fact) -> str:
    """The withdrawing fact, named without its content."""
    key = fact_ids.id_field(fact) or next((f for f in _NAMING if hasattr(fact, f)), None)
    return type(fact).__name__ + (f" {getattr(fact, key)}" if key else "")


def recheck(w: Work, patient: Patient, months: list[str], fact: facts.Fact) -> None:
    """Each live claim of these months judged again: one the record no longer supports
    becomes unsupported, and an unsupported one whose support came back is restored (a stay
    recorded as started, then as ended)."""
    for month in sorted(set(months)):
        view = w.view(patient, month)
        pm = w.get(patient_month_key(patient.patient_id, month), PatientMonth)
        for claim in pm.live_claims() if pm is not None else ():
            assert pm is not None
            short, claim_id = gate.shortfall(claim, view), claim.submitted.claim_id
            if short and claim.withdrawn is None:
                pm.withdraw_support(claim_id, Withdrawn(short, w.at, cause(fact)))
            elif not short and claim.withdrawn is not None:
                pm.restore_support(claim_id, cause(fact), w.at)


def service_gone(w: Work, patient: Patient, pm: PatientMonth, programs: set[Program], fact: facts.Fact) -> None:
    """A void took a service away: if it was the month's last of a program, the month is
    no service on record (P-CCM-2), and when it was the first month, later claims of the
    program are judged again; the month's own claims are (an add-on may lose its base)."""
    months = [pm.month]
    for program in programs:
        if not pm.serves(program) and patient.withdraw_service(program, pm.month, w.at):
            months += [m for m in patient.claim_months() if m > pm.month]
    recheck(w, patient, months, fact)


def claim_gone(w: Work, pm: PatientMonth, claim: Claim, fact: facts.Fact) -> None:
    """A voided claim (by the biller, or a void the payer completed) frees its codes (G-08)
    and is no service on record."""
    patient = w.patient(pm.patient_id)
    patient.release(claim.submitted.claim_id, w.at)
    service_gone(w, patient, pm, claim_programs(claim), fact)
