"""The refusal log's row: every refused claim, what was asked, when, by whom and why."""

from __future__ import annotations

import msgspec

from domain.ledger import Ledger
from domain.patient_month import PatientMonth
from domain.reasons import Reason
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


def withdrawn_row(event: PatientMonth.ClaimSupportWithdrawn, position: int, ledger: Ledger) -> RefusalRow:
    """G-16: a claim left unsupported is listed beside the refused ones (reason
    SUPPORT_WITHDRAWN first, then what is now missing), so one compliance query finds both."""
    pm: PatientMonth = ledger.repository.get(event.originator_id, version=event.originator_version)
    claim = pm.claims[event.claim_id]
    fact, gone = claim.submitted, event.withdrawn
    owed = f"; paid {claim.paid_amount}: a potential overpayment, return by {claim.repay_by}" if claim.repay_by else ""
    lead = {"code": Reason.SUPPORT_WITHDRAWN.value, "message": f"unsupported since {gone.cause}{owed}"}
    return RefusalRow(
        claim_id=fact.claim_id,
        patient_id=fact.patient_id,
        billing_provider_npi=fact.billing_provider_npi,
        service_month=pm.month,
        codes=[line.code for line in fact.lines],
        reasons=[lead] + [{"code": r.code.value, "message": r.message} for r in gone.reasons],
        recorded_at=gone.identified_at.isoformat(),
        recorded_by=None,
        source=None,
        position=position,
    )


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
