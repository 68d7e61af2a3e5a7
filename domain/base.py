"""What every Carelane aggregate shares: fact events that remember their digest, so a fact
sent twice is recognised by the aggregate that holds it."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.domain import AggregateCreated, AggregateEvent, BaseAggregate

from domain import facts, records
from domain.reasons import Reason, Refused


class LedgerAggregate(BaseAggregate[UUID]):
    """Base aggregate. `seen` maps a fact digest to the version of the event recording it."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    class Event(AggregateEvent):
        def apply(self, aggregate: Any) -> None:
            digest = getattr(self, "digest", None)
            if digest:
                aggregate.seen[digest] = self.originator_version
            self.assign(aggregate)

        def assign(self, aggregate: Any) -> None:
            """Set the aggregate's state from this event. Never a rule: see style.md."""

    def already(self, digest: str) -> int | None:
        """The version that recorded this fact before, if any."""
        return self.seen.get(digest)

    def record(self, event_class: type[Any], fact: facts.Fact, digest: str, at: datetime) -> int:
        """Trigger the event carrying `fact`; returns its version."""
        self.trigger_event(event_class, fact=records.stored(fact), digest=digest, timestamp=at)
        return self.version


Created = AggregateCreated


def unknown(code: Reason, what: str) -> Refused:
    return Refused.one(code, f"{what} is not on file; record it first")
