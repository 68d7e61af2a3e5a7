"""Exporting a month's claims as an 837P batch: the practice and patients checked complete,
the file built and validated with pyx12, and the batch recorded (domain.decisions.clearing)
before a byte is written, so a claim goes out once and every batch can be sent again."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from adapters import x837
from adapters.export_checks import (
    ExportRefused as ExportRefused,
    control_number,
    missing,
    resend_problems,
    theirs,
    without_values,
)
from adapters.x12 import ClaimToSend, claims_for, validate
from domain import records
from domain.catalog import FeeSchedule
from domain.decisions.clearing import Stale, record_export
from domain.exports import EXPORTS_KEY, ExportBatch, ExportedClaim, ExportRegister, batch_key
from domain.ledger import Ledger
from domain.practice import PRACTICES_KEY, Practices
from domain.state import VOID

ATTEMPTS = 5


@dataclass(frozen=True)
class Exported:
    batch_id: str
    control: int
    claims: int
    voids: int
    sha256: str
    text: str


def practices(ledger: Ledger) -> dict[str, records.PracticeRegistered]:
    found = ledger.load(PRACTICES_KEY)
    return dict(found.practices) if isinstance(found, Practices) else {}


def practice_for(ledger: Ledger, practice_id: str | None) -> records.PracticeRegistered:
    """The practice the batch bills for: the one registered, or the one named."""
    known = practices(ledger)
    if practice_id is not None:
        if practice_id not in known:
            raise ExportRefused([f"practice {practice_id[:64]} is not registered (send PracticeRegistered)"])
        return known[practice_id]
    if not known:
        raise ExportRefused(["no practice is registered: send a PracticeRegistered fact first"])
    if len(known) > 1:
        raise ExportRefused([f"several practices are registered ({', '.join(sorted(known))}): name one"])
    return next(iter(known.values()))


def export(
    ledger: Ledger, patients: list[str], month: str, fees: FeeSchedule, *, practice_id: str | None = None,
    production: bool = False, control: int | None = None, now: datetime | None = None,
) -> Exported | None:  # fmt: skip
    """Export the month's due claims of the practice as one recorded batch; None when
    nothing is due."""
    practice = practice_for(ledger, practice_id)
    usage = "P" if production else "T"
    for _ in range(ATTEMPTS):
        due = theirs(claims_for(ledger, patients, month), practice, list(practices(ledger).values()))
        claims = sorted(due, key=lambda c: (c.patient.patient_id, c.claim.submitted.claim_id))
        if not claims:
            return None
        problems = missing(practice, claims)
        if problems:
            raise ExportRefused(problems)
        register = ledger.load(EXPORTS_KEY)
        number = control_number(register if isinstance(register, ExportRegister) else None, control)
        text = _file(claims, fees, practice, number, now or datetime.now().astimezone(), usage)
        sent = [ExportedClaim(c.claim.submitted.claim_id, c.patient.patient_id, month, c.frequency) for c in claims]
        sha256 = hashlib.sha256(text.encode()).hexdigest()
        try:
            ledger.run(
                partial(
                    record_export,
                    batch_id=f"B{number:09d}",
                    control=number,
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
        voids = sum(1 for c in claims if c.frequency == VOID)
        return Exported(f"B{number:09d}", number, len(claims) - voids, voids, sha256, text)
    raise ExportRefused(["other exports kept changing the same claims; try again"])


def _file(claims: list[ClaimToSend], fees: FeeSchedule, practice: records.PracticeRegistered, control: int,
          at: datetime, usage: str) -> str:  # fmt: skip
    text = x837.build(claims, fees, practice, control, at, usage)
    problems = validate(text)
    if problems:
        raise ExportRefused([f"the 837P failed X12 validation: {without_values(p, text)}" for p in problems[:20]])
    return text


def batch(ledger: Ledger, batch_id: str) -> ExportBatch:
    """A recorded batch, to be sent again exactly as it was, while every claim in it still
    stands as that batch left it."""
    found = ledger.load(batch_key(batch_id.strip().upper()))
    if not isinstance(found, ExportBatch):
        raise ExportRefused([f"no export batch {batch_id.strip()[:20]} is on record"])
    problems = resend_problems(ledger, found)
    if problems:
        raise ExportRefused(problems)
    return found
