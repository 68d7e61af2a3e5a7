"""What an 837P export checks before anything is recorded or written: the practice and its
roster, every field the file needs, pyx12's findings (named without the values they quote),
the interchange control number, and whether a recorded batch may be sent again."""

from __future__ import annotations

import re
from collections.abc import Sequence

from adapters.x12 import ClaimToSend as ClaimToSend, without_values as without_values
from domain import records
from domain.exports import ExportBatch, ExportRegister, still_as_sent
from domain.keys import patient_month_key
from domain.ledger import Ledger
from domain.patient_month import PatientMonth

MAX_CONTROL = 999_999_999  # ISA13 is nine digits
CLAIM_NUMBER = re.compile(r"[A-Za-z0-9-]{1,20}")
DEMOGRAPHICS = "last_name, first_name, sex, address, city, state, zip (send PatientDemographicsRecorded)"


class ExportRefused(Exception):
    """The export cannot be made; `problems` names every missing or wrong field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


def roster(practice: records.PracticeRegistered) -> set[str]:
    return {practice.billing_npi} | {p.npi for p in practice.practitioners}


def theirs(claims: list[ClaimToSend], practice: records.PracticeRegistered,
           others: Sequence[records.PracticeRegistered]) -> list[ClaimToSend]:  # fmt: skip
    """The claims this practice bills: by its roster; a claim no practice's roster names
    stays, to be named as missing."""
    elsewhere = set().union(*(roster(p) for p in others if p.practice_id != practice.practice_id)) - roster(practice)
    return [c for c in claims if c.claim.submitted.billing_provider_npi not in elsewhere]


PO_BOX = re.compile(r"\b(P\.?\s*O\.?\s*BOX|POST\s+OFFICE\s+BOX|LOCK\s*BOX|LOCKBOX)\b", re.IGNORECASE)


def missing(practice: records.PracticeRegistered, claims: list[ClaimToSend]) -> list[str]:
    """Every field the 837P needs that the ledger does not have, named once each."""
    out = []
    who = f"practice {practice.practice_id}"
    if practice.contact_phone is None:
        out.append(f"{who}: contact_phone (the submitter's contact, 1000A PER)")
    if len(practice.zip) != 9:
        out.append(f"{who}: zip (the billing provider's ZIP+4, 9 digits)")
    if PO_BOX.search(practice.address):  # 005010X222A1 2010AA N3: a street address; a box is the pay-to loop's
        out.append(f"{who}: address (the billing provider's street address, not a post office box)")
    for npi in sorted({c.claim.submitted.billing_provider_npi for c in claims} - roster(practice)):
        out.append(f"{who}: practitioners (no name for rendering NPI {npi})")
    seen: set[str] = set()
    for item in claims:
        patient, claim_id = item.patient, item.claim.submitted.claim_id
        if not CLAIM_NUMBER.fullmatch(claim_id):
            out.append(f"claim {claim_id[:24]}: claim_id (CLM01 takes 1-20 letters, digits or dashes)")
        if patient.patient_id in seen:
            continue
        seen.add(patient.patient_id)
        lacks = [name for name, value in (("birth_date", patient.birth_date), ("medicare_id", patient.medicare_id))
                 if value is None]  # fmt: skip
        if patient.demographics_on(item.view.last) is None:
            lacks.append(DEMOGRAPHICS)
        if lacks:
            out.append(f"patient {patient.patient_id}: {', '.join(lacks)}")
    return out


def control_number(register: ExportRegister | None, requested: int | None) -> int:
    """The next interchange control number after the last batch's, never one in use (after
    999,999,999 it starts again from 1); or the one asked for, if it is free."""
    used = register.batches if register is not None else {}
    if requested is not None:
        if requested in used:
            raise ExportRefused([f"interchange control number {requested} was used by batch {used[requested]}"])
        return requested
    n = (register.last_control if register is not None else 0) % MAX_CONTROL + 1
    while n in used:
        n = n % MAX_CONTROL + 1
    return n


def resend_problems(ledger: Ledger, batch: ExportBatch) -> list[str]:
    """Why a recorded batch may not go out again: the clearinghouse rejected it, or a claim
    in it has changed since (voided, unsupported, answered, or sent in a later batch)."""
    if batch.usage != "P":
        return []  # a test file left its claims as they were: sending it again changes nothing
    if batch.answer is False:
        return [f"the clearinghouse rejected batch {batch.batch_id}; its claims go out in the next export"]
    if batch.answer is True:
        return [f"the clearinghouse accepted batch {batch.batch_id} (999): sent again, its claims would go twice"]
    out = []
    for item in batch.claims:
        pm = ledger.load(patient_month_key(item.patient_id, item.month))
        claim = pm.claims.get(item.claim_id) if isinstance(pm, PatientMonth) else None
        if claim is None or not still_as_sent(claim, batch.batch_id, item.frequency):
            now = "sent in a later batch" if claim is None or claim.batches[-1:] != [batch.batch_id] else claim.status
            void = "; a void was requested" if claim is not None and claim.void_requested is not None else ""
            out.append(f"claim {item.claim_id}: {now}{void} since this batch; export instead of sending it again")
    return out
