"""Replays of an aggregate's recorded events up to an instant, for the audit packet."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.keys import patient_month_key
from domain.month import Month


@dataclass
class Stream:
    """One aggregate's events as recorded, for replays up to an instant."""

    events: list[Any]

    def as_of(self, instant: datetime, *, leave_out: Callable[[Any], bool] | None = None) -> Any:
        """The aggregate as of the instant, up to the first event `leave_out` names (a claim is
        judged on the state it found, not the state its own recording made; skipping only
        that event would replay the next one onto the wrong version)."""
        aggregate = None
        for event in self.events:
            if event.timestamp > instant:
                break
            if leave_out is not None and leave_out(event):
                break  # what follows it in the stream came with it or after it: never half a stream
            aggregate = event.mutate(aggregate)
        return aggregate


def months_at(streams: dict[UUID, Stream], patient_id: str, month: str, instant: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in Month(month).window():
        pm = streams[patient_month_key(patient_id, m)].as_of(instant)
        if pm is not None:
            out[m] = pm
    return out
