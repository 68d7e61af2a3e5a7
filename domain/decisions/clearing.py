"""Commands of the revenue cycle that are not facts of the contract: recording an 837P
batch as sent, and the clearinghouse's answers (999, 277CA) to it. The payer's 835 answers
are ClaimAdjudicated facts and go through the decision table like any other fact."""

from __future__ import annotations

from collections.abc import Sequence

from domain import facts
from domain.decisions.recheck import claim_gone
from domain.decisions.work import Work
from domain.exports import (
    EXPORTS_KEY,
    ExportBatch,
    ExportedClaim,
    ExportRegister,
    Receipt,
    batch_key,
    frequency_due,
    receipt_key,
)
from domain.keys import patient_month_key
from domain.patient_month import PatientMonth
from domain.state import Claim

PRODUCTION = "P"  # ISA15: P production, T test


class Stale(Exception):
    """What the batch was built from changed before it was recorded: build it again."""


def claim_in(w: Work, patient_id: str, month: str, claim_id: str) -> tuple[PatientMonth, Claim] | None:
    pm = w.get(patient_month_key(patient_id, month), PatientMonth)
    claim = None if pm is None else pm.claims.get(claim_id)
    return None if pm is None or claim is None else (pm, claim)


def record_export(
    w: Work, batch_id: str, control: int, month: str, practice_id: str, usage: str, sha256: str,
    claims: Sequence[ExportedClaim], text: str,
) -> ExportBatch:  # fmt: skip
    """Record a batch as sent: each claim moves to `exported` (or its void to sent). A test
    batch (ISA15 T) is recorded too, but leaves its claims due: a test file never reaches
    the payer. Stale when another export took the control number or a claim meanwhile."""
    register = w.get(EXPORTS_KEY, ExportRegister) or w.add(ExportRegister.open(w.at))
    if control in register.batches or w.get(batch_key(batch_id), ExportBatch) is not None:
        raise Stale(f"control number {control} is taken")
    for item in claims:
        found = claim_in(w, item.patient_id, item.month, item.claim_id)
        if found is None or frequency_due(found[1]) != item.frequency:
            raise Stale(f"claim {item.claim_id} changed")
        if usage == PRODUCTION:
            found[0].export_claim(item.claim_id, batch_id, item.frequency, w.at)
    register.use(control, batch_id, w.at)
    return w.add(ExportBatch.create(batch_id, control, month, practice_id, usage, sha256, list(claims), text, w.at))


def acknowledge(w: Work, claim_id: str, batch_id: str | None, accepted: bool, codes: list[str], source: str) -> str:
    """The clearinghouse's answer for one claim: `recorded`, `unchanged` (received before,
    stale, or the payer has answered since) or `unknown` (no such claim on file). A claim
    rejected while its void waited is voided, and its codes are free (G-08)."""
    ident = w.identity_of(facts.ClaimSubmitted, claim_id)
    pm = None if ident is None else w.get(ident.home_id, PatientMonth)
    if pm is None or claim_id not in pm.claims:
        return "unknown"
    if not pm.acknowledge(claim_id, batch_id, accepted, codes, source, w.at):
        return "unchanged"
    claim = pm.claims[claim_id]
    if claim.voided is not None:
        void = claim.voided
        claim_gone(w, pm, claim, facts.ClaimVoided(claim_id=claim_id, reason=void.reason, by=void.by))
    return "recorded"


def answer_file(w: Work, group_control: int, accepted: bool, errors: list[str]) -> tuple[str | None, int]:
    """A 999 for a batch: its answer kept; when rejected, every claim in it whose latest
    batch it is is rejected (the payer never had them). Returns the batch id (None when
    unknown) and the claims changed."""
    batch = batch_of(w, group_control)
    if batch is None:
        return None, 0
    changed = 0
    if batch.acknowledge(accepted, errors, w.at) and not accepted:
        for item in batch.claims:
            changed += acknowledge(w, item.claim_id, batch.batch_id, False, ["999 R"], "999") == "recorded"
    return batch.batch_id, changed


def batch_of(w: Work, control: int) -> ExportBatch | None:
    register = w.get(EXPORTS_KEY, ExportRegister)
    batch_id = None if register is None else register.batches.get(control)
    return None if batch_id is None else w.get(batch_key(batch_id), ExportBatch)


def received(w: Work, sha256: str) -> Receipt | None:
    return w.get(receipt_key(sha256), Receipt)


def keep_receipt(w: Work, kind: str, sha256: str, control: str, claims: list[str], unknown: list[str]) -> Receipt:
    return received(w, sha256) or w.add(Receipt.create(kind, sha256, control, claims, unknown, w.at))
