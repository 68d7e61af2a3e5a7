"""The refusal log's row: every refused claim, what was asked, when, by whom and why."""

from __future__ import annotations

import msgspec

from domain.ledger import Ledger
from domain.refusal import ClaimRefusal
from domain.timing import month_of


class RefusalRow(msgspec.Struct):
    claim_id: str
    patient_id: str
    billing_provider_npi: str
    service_month: str
    codes: list[str]
    reasons: list[dict[str, str]]
    recorded_at: str
    recorded_by: str | None
    source: str | None
    position: int


def refusal_row(event: ClaimRefusal.ClaimRefused, position: int, ledger: Ledger) -> RefusalRow:
    fact = event.fact
    return RefusalRow(
        claim_id=fact.claim_id,
        patient_id=fact.patient_id,
        billing_provider_npi=fact.billing_provider_npi,
        service_month=fact.service_month or month_of(fact.service_on or event.timestamp, ledger.policy),
        codes=[line.code for line in fact.lines],
        reasons=[{"code": r.code.value, "message": r.message} for r in event.reasons],
        recorded_at=event.timestamp.isoformat(),
        recorded_by=fact.recorded_by,
        source=fact.source,
        position=position,
    )
