"""The ClaimRefusal aggregate: the refusal log. A refused claim records nothing on the
patient, but compliance officers must see attempted double billing, so each refused claim
(one per claim id and content) is kept with what was asked, when, by whom and why."""

from __future__ import annotations

from datetime import datetime

from domain import facts, records
from domain.base import Created, LedgerAggregate
from domain.keys import identity_key
from domain.reasons import Because


class ClaimRefusal(LedgerAggregate):
    TOPIC = "carelane.ClaimRefusal"

    def __init__(self, fact: records.ClaimSubmitted, reasons: list[Because]) -> None:
        super().__init__()
        self.fact = fact
        self.reasons = reasons

    class Event(LedgerAggregate.Event):
        pass

    class ClaimRefused(Event, Created):
        TOPIC = "carelane.ClaimRefusal.ClaimRefused.v1"
        fact: records.ClaimSubmitted
        digest: str
        reasons: list[Because]

    @classmethod
    def log(cls, fact: facts.ClaimSubmitted, digest: str, reasons: list[Because], at: datetime) -> ClaimRefusal:
        return cls._create(
            cls.ClaimRefused,
            id=identity_key("ClaimRefused", f"{fact.claim_id}:{digest}"),
            fact=records.stored(fact),
            digest=digest,
            reasons=reasons,
            timestamp=at,
        )
