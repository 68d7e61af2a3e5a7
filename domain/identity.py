"""The Identity aggregate: one per external id (entry_id, claim_id, visit_id, plan_id,
stay_id, discharge_id). Its uuid5 key makes an id claimable once; it remembers the digest
of the fact that used it and where that fact was recorded, so a resend is recognised and a
reuse with other content is refused (ID_REUSED)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.base import Created, LedgerAggregate
from domain.keys import identity_key
from domain.reasons import Reason, Refused


class Identity(LedgerAggregate):
    TOPIC = "carelane.Identity"

    def __init__(self, kind: str, external_id: str, digest: str, home_id: UUID, home_version: int) -> None:
        super().__init__()
        self.kind = kind
        self.external_id = external_id
        self.digest = digest
        self.home_id = home_id
        self.home_version = home_version

    class Event(LedgerAggregate.Event):
        pass

    class IdBound(Event, Created):
        TOPIC = "carelane.Identity.IdBound.v1"
        kind: str
        external_id: str
        digest: str
        home_id: UUID
        home_version: int

    @classmethod
    def bind(cls, kind: str, external_id: str, digest: str, home_id: UUID, home_version: int, at: datetime) -> Identity:
        return cls._create(
            cls.IdBound,
            id=identity_key(kind, external_id),
            kind=kind,
            external_id=external_id,
            digest=digest,
            home_id=home_id,
            home_version=home_version,
            timestamp=at,
        )

    def same_fact(self, digest: str) -> bool:
        """True when `digest` is the fact already bound here; refuses other content."""
        if digest == self.digest:
            return True
        raise Refused.one(
            Reason.ID_REUSED,
            f"{self.kind} {self.external_id} was already used for a different fact; send a new id, or void and re-send",
        )
