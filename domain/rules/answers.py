"""Which payer answers can stand against the claim on file: a final answer stands until the
payer reverses it, and a reversal takes back the whole payment, never part of it."""

from __future__ import annotations

from domain import facts
from domain.reasons import Reason, Refused
from domain.state import Claim


def refusal(claim: Claim, fact: facts.ClaimAdjudicated) -> Refused | None:
    """Why this answer cannot be recorded against the claim, or None when it can."""
    claim_id = fact.claim_id
    if not claim.live:
        return Refused.one(Reason.ALREADY_VOIDED, f"Claim {claim_id} was voided; the payer's answer has no claim")
    reversal = fact.outcome is facts.ClaimOutcome.REVERSED
    if reversal and not claim.paid:
        return Refused.one(Reason.ADJUDICATION_CONFLICT, f"Claim {claim_id} has no payment to reverse")
    if reversal and fact.paid_amount and fact.paid_amount != claim.paid_amount:
        return Refused.one(
            Reason.ADJUDICATION_CONFLICT,
            f"Claim {claim_id}: a reversal of {fact.paid_amount} does not match the payment of {claim.paid_amount}",
        )
    last = claim.adjudications[-1] if claim.adjudications else None
    same = last is not None and (last.outcome, last.paid_amount) == (fact.outcome, fact.paid_amount)
    if claim.paid and not reversal and not same and last is not None:
        # A denial may be reprocessed; a payment stands until the payer reverses it.
        return Refused.one(
            Reason.ADJUDICATION_CONFLICT,
            f"Claim {claim_id} was already {last.outcome} {last.paid_amount or ''}".rstrip()
            + "; another answer needs the payer's reversal first",
        )
    return None
