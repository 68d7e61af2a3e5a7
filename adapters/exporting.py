"""Exporting a month's claims as an 837P batch: the practice and patients checked complete,
the file built and validated with pyx12, and the batch recorded (domain.decisions.clearing)
before a byte is written, so a claim goes out once and every batch can be sent again."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from adapters import x837
from adapters.x12 import ClaimToSend, claims_for, validate
from domain import records
from domain.catalog import FeeSchedule
from domain.decisions.clearing import Stale, record_export
from domain.exports import EXPORTS_KEY, ExportBatch, ExportedClaim, ExportRegister, batch_key
from domain.ledger import Ledger
from domain.practice import PRACTICES_KEY, Practices

ATTEMPTS = 5
CLAIM_NUMBER = re.compile(r"[A-Za-z0-9-]{1,20}")
DEMOGRAPHICS = "last_name, first_name, sex, address, city, state, zip (send PatientDemographicsRecorded)"


class ExportRefused(Exception):
    """The export cannot be made; `problems` names every missing or wrong field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Exported:
    batch_id: str
    control: int
    claims: int
    voids: int
    sha256: str
    text: str


def practice_for(ledger: Ledger, practice_id: str | None) -> records.PracticeRegistered:
    """The practice the batch bills for: the one registered, or the one named."""
    found = ledger.load(PRACTICES_KEY)
    known = found.practices if isinstance(found, Practices) else {}
    if practice_id is not None:
        if practice_id not in known:
            raise ExportRefused([f"practice {practice_id} is not registered (send PracticeRegistered)"])
        return known[practice_id]
    if not known:
        raise ExportRefused(["no practice is registered: send a PracticeRegistered fact first"])
    if len(known) > 1:
        raise ExportRefused([f"several practices are registered ({', '.join(sorted(known))}): name one"])
    return next(iter(known.values()))


def missing(practice: records.PracticeRegistered, claims: list[ClaimToSend]) -> list[str]:
    """Every field the 837P needs that the ledger does not have, named once each."""
    out = []
    who = f"practice {practice.practice_id}"
    if practice.contact_phone is None:
        out.append(f"{who}: contact_phone (the submitter's contact, 1000A PER)")
    if len(practice.zip) != 9:
        out.append(f"{who}: zip (the billing provider's ZIP+4, 9 digits)")
    named = {p.npi for p in practice.practitioners} | {practice.billing_npi}
    for npi in sorted({c.claim.submitted.billing_provider_npi for c in claims} - named):
        out.append(f"{who}: practitioners (no name for rendering NPI {npi})")
    seen: set[str] = set()
    for item in claims:
        patient = item.patient
        claim_id = item.claim.submitted.claim_id
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


def export(
    ledger: Ledger, patients: list[str], month: str, fees: FeeSchedule, *, practice_id: str | None = None,
    production: bool = False, first_control: int = 1, now: datetime | None = None,
) -> Exported | None:  # fmt: skip
    """Export the month's due claims as one recorded batch; None when nothing is due."""
    practice = practice_for(ledger, practice_id)
    for _ in range(ATTEMPTS):
        claims = sorted(claims_for(ledger, patients, month),
                        key=lambda c: (c.patient.patient_id, c.claim.submitted.claim_id))  # fmt: skip
        if not claims:
            return None
        problems = missing(practice, claims)
        if problems:
            raise ExportRefused(problems)
        register = ledger.load(EXPORTS_KEY)
        control = max(first_control, register.last_control + 1 if isinstance(register, ExportRegister) else 1)
        usage = "P" if production else "T"
        text = _file(claims, fees, practice, control, now or datetime.now().astimezone(), usage)
        batch_id = f"B{control:09d}"
        sha256 = hashlib.sha256(text.encode()).hexdigest()
        sent = [ExportedClaim(c.claim.submitted.claim_id, c.patient.patient_id, month, c.frequency) for c in claims]
        try:
            ledger.run(
                partial(
                    record_export,
                    batch_id=batch_id,
                    control=control,
                    month=month,
                    practice_id=practice.practice_id,
                    usage=usage,
                    sha256=sha256,
                    claims=sent,
                    text=text,
                )
            )
        except Stale:
            continue  # another export took the number or a claim: build again from what is recorded now
        voids = sum(1 for c in claims if c.frequency != "1")
        return Exported(batch_id, control, len(claims) - voids, voids, sha256, text)
    raise ExportRefused(["other exports kept changing the same claims; try again"])


def _file(claims: list[ClaimToSend], fees: FeeSchedule, practice: records.PracticeRegistered, control: int,
          at: datetime, usage: str) -> str:  # fmt: skip
    text = x837.build(claims, fees, practice, control, at, usage)
    problems = validate(text)
    if problems:
        raise ExportRefused([f"the 837P failed X12 validation: {p}" for p in problems[:20]])
    return text


def batch(ledger: Ledger, batch_id: str) -> ExportBatch:
    """A recorded batch, to be sent again exactly as it was."""
    found = ledger.load(batch_key(batch_id.strip().upper()))
    if not isinstance(found, ExportBatch):
        raise ExportRefused([f"no export batch {batch_id} is on record"])
    return found
