"""The Practices aggregate: the practices this ledger bills for, in one short stream (a
practice registers, and changes its address, a few times a year). The 837P's billing
provider, submitter, receiver and payer come from here."""

from __future__ import annotations

from datetime import datetime

from domain import facts, records
from domain.base import Created, LedgerAggregate
from domain.keys import uuid5

PRACTICES_KEY = uuid5("practices")


class Practices(LedgerAggregate):
    TOPIC = "carelane.Practices"

    def __init__(self) -> None:
        super().__init__()
        self.practices: dict[str, records.PracticeRegistered] = {}  # the latest details of each
        self.standing: dict[str, tuple[str, int]] = {}  # practice id -> its details' digest, version

    class Event(LedgerAggregate.Event):
        pass

    class Opened(Event, Created):
        TOPIC = "carelane.Practices.Opened.v1"

    class PracticeRegistered(Event):
        """A practice's details; registered again, the new details replace the old."""

        TOPIC = "carelane.Practices.PracticeRegistered.v1"
        fact: records.PracticeRegistered
        digest: str

        def assign(self, p: Practices) -> None:
            p.practices[self.fact.practice_id] = self.fact
            p.standing[self.fact.practice_id] = (self.digest, self.originator_version)

    @classmethod
    def open(cls, at: datetime) -> Practices:
        return cls._create(cls.Opened, id=PRACTICES_KEY, timestamp=at)

    def register(self, fact: facts.PracticeRegistered, digest: str, at: datetime) -> int:
        return self.record(Practices.PracticeRegistered, fact, digest, at)
