"""Queries over the event index for compliance officers: matching facts as they were recorded."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from domain.ledger import Ledger
from projections import after_close
from projections.runner import ViewDB


class EventRow(msgspec.Struct):
    position: int
    type: str
    patient_id: str
    happened: str | None
    recorded_at: str
    late: bool
    after_claim: bool
    fact: dict[str, Any]
    after_close: bool = False  # recorded after its month was closed (carelane close)


@dataclass(frozen=True)
class Query:
    patient: str | None = None
    types: Sequence[str] = ()
    happened_from: str | None = None  # YYYY-MM-DD, inclusive
    happened_to: str | None = None  # YYYY-MM-DD, inclusive
    recorded_after: str | None = None  # ISO instant in UTC
    late: bool = False  # late (G-13) or recorded after a claim it counts toward

    def sql(self) -> tuple[str, list[Any]]:
        where, params = ["1 = 1"], []
        if self.patient:
            where.append("patient_id = %s")
            params.append(self.patient)
        if self.types:
            where.append("type IN (" + ", ".join(["%s"] * len(self.types)) + ")")
            params += list(self.types)
        if self.happened_from:
            where.append("happened >= %s")
            params.append(self.happened_from)
        if self.happened_to:
            where.append("happened <= %s")
            params.append(self.happened_to + "\uffff")  # instants of that day sort after the bare date
        if self.recorded_after:
            where.append("recorded_at > %s")
            params.append(self.recorded_after)
        if self.late:
            where.append("(late OR after_claim)")
        query = "SELECT position, type, patient_id, happened, recorded_at, late, after_claim FROM view_events"
        return f"{query} WHERE {' AND '.join(where)} ORDER BY position", params


def events(ledger: Ledger, db: ViewDB, query: Query) -> Iterator[EventRow]:
    text, params = query.sql()
    with db.reading() as cur:
        cur.execute(text, params)
        rows = cur.fetchall()
    flagged = after_close.marks(ledger, db, [r[0] for r in rows])
    for position, type_, patient_id, happened, recorded_at, late, after_claim in rows:
        (notification,) = ledger.recorder.select_notifications(start=position, limit=1)
        event = ledger.mapper.to_domain_event(notification)
        fact = msgspec.to_builtins(getattr(event, "fact"))  # noqa: B009 (indexed events all carry a fact)
        yield EventRow(position, type_, patient_id, happened, recorded_at, bool(late), bool(after_claim), fact,
                       position in flagged)  # fmt: skip
