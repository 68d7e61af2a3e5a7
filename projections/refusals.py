"""The refusal log as rows: every refused claim, what was asked, when, by whom and why.
(Read from the notification log; the projections issue turns it into a tracked view.)"""

from __future__ import annotations

import msgspec

from domain.ledger import Ledger
from domain.refusal import ClaimRefusal
from domain.timing import month_of

PAGE = 1000


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


def refusals(ledger: Ledger, month: str | None = None, reason: str | None = None) -> list[RefusalRow]:
    rows = []
    start = 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=PAGE, topics=[ClaimRefusal.ClaimRefused.TOPIC])
        for notification in page:
            event = ledger.mapper.to_domain_event(notification)
            assert isinstance(event, ClaimRefusal.ClaimRefused)
            fact = event.fact
            service_month = fact.service_month or month_of(fact.service_on or event.timestamp, ledger.policy)
            codes = [r.code.value for r in event.reasons]
            if (month and service_month != month) or (reason and reason not in codes):
                continue
            rows.append(
                RefusalRow(
                    claim_id=fact.claim_id,
                    patient_id=fact.patient_id,
                    billing_provider_npi=fact.billing_provider_npi,
                    service_month=service_month,
                    codes=[line.code for line in fact.lines],
                    reasons=[{"code": r.code.value, "message": r.message} for r in event.reasons],
                    recorded_at=event.timestamp.isoformat(),
                    recorded_by=fact.recorded_by,
                    source=fact.source,
                    position=notification.id,
                )
            )
        if len(page) < PAGE:
            return rows
        start = page[-1].id + 1
