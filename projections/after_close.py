"""Facts recorded after their month was closed: accepted like any other, and flagged.

A close signs the hash chain's position when it was taken; a fact of that month at a later
position, and before the month was re-opened, came after the close. A fact's month is its
patient-month's (time, device days, claims and their voids), or the month of its own date
for the patient's record (a condition diagnosed, a consent recorded). The payer's answers to
what was billed come after the close by nature and are not flagged."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import msgspec

from domain.ledger import Ledger
from domain.month import Month
from domain.month_close import MonthClose, month_close_key
from domain.timing import happened, local_day
from projections.runner import ViewDB

FLAG = "after close"
EXPECTED_AFTER_CLOSE = frozenset({"ClaimAdjudicated"})  # fact types never flagged
CHUNK = 500  # positions per query

_MONTH = "COALESCE(m.month, substr(e.happened, 1, 7))"
_ROWS = (
    f"SELECT e.position, e.type, e.patient_id, {_MONTH}, e.happened, e.recorded_at FROM view_events e "
    "LEFT JOIN view_months m ON m.aggregate_id = e.aggregate_id"
)


class Window(NamedTuple):
    """Positions during which a month stood closed: after `start`, before `end` (None: still closed)."""

    sequence: int
    start: int
    end: int | None
    closed_at: str


class AfterClose(msgspec.Struct):
    position: int
    type: str
    patient_id: str
    month: str
    happened: str | None
    recorded_at: str
    close: int  # the sequence of the close it came after
    closed_at: str


def windows(ledger: Ledger, months: Iterable[str]) -> dict[str, list[Window]]:
    """The closed windows of each month that was ever closed (one query for the closes, one
    for the positions of their re-opens)."""
    keys = [month_close_key(m) for m in dict.fromkeys(months)]
    found, _ = ledger.load_many(keys)
    closes = [mc for mc in found.values() if isinstance(mc, MonthClose) and mc.closes]
    ends = ledger.locate([(mc.id, r.version) for mc in closes for r in mc.reopenings])
    out: dict[str, list[Window]] = {}
    for mc in closes:
        out[mc.month] = [
            Window(
                c.content.sequence,
                c.content.chain_position,
                ends.get((mc.id, mc.reopenings[i].version)) if i < len(mc.reopenings) else None,
                c.content.closed_at,
            )
            for i, c in enumerate(mc.closes)
        ]
    return out


def within(found: Sequence[Window], position: int) -> Window | None:
    """The close a fact at this position came after, if the month stood closed then."""
    return next((w for w in found if w.start < position and (w.end is None or position < w.end)), None)


def after_close(ledger: Ledger, db: ViewDB, month: str | None = None) -> list[AfterClose]:
    """Facts recorded after their month was closed (one month, or every closed month), in
    the order recorded. Reads the event index as it stands: catch it up first."""
    with db.reading() as cur:
        if month is None:
            cur.execute(f"SELECT DISTINCT {_MONTH} FROM view_events e LEFT JOIN view_months m "
                        "ON m.aggregate_id = e.aggregate_id")  # fmt: skip
            months = [str(r[0]) for r in cur.fetchall() if r[0]]
        else:
            months = [month]
        closed = windows(ledger, months)
        if not closed:
            return []
        first = min(w.start for found in closed.values() for w in found)
        cur.execute(f"{_ROWS} WHERE e.position > %s ORDER BY e.position", (first,))
        rows = cur.fetchall()
    out = []
    for position, type_, patient_id, month_of, day, recorded_at in rows:
        window = within(closed.get(month_of, ()), position) if type_ not in EXPECTED_AFTER_CLOSE else None
        if window is not None:
            out.append(AfterClose(position, type_, patient_id, month_of, day, recorded_at, window.sequence,
                                  window.closed_at))  # fmt: skip
    return out


def marks(ledger: Ledger, db: ViewDB, positions: Sequence[int]) -> dict[int, int]:
    """For rows of the event index (`carelane events`): position -> the close it came after,
    for the facts recorded after their month was closed."""
    rows: list[Any] = []
    wanted = sorted(set(positions))
    with db.reading() as cur:
        for start in range(0, len(wanted), CHUNK):
            part = wanted[start : start + CHUNK]
            cur.execute(f"{_ROWS} WHERE e.position IN ({', '.join(['%s'] * len(part))})", part)
            rows += cur.fetchall()
    closed = windows(ledger, {r[3] for r in rows if r[3]})
    out = {}
    for position, type_, _, month_of, *_ in rows:
        window = within(closed.get(month_of, ()), int(position)) if type_ not in EXPECTED_AFTER_CLOSE else None
        if window is not None:
            out[int(position)] = window.sequence
    return out


def fact_month(event: Any, ledger: Ledger) -> str | None:
    """The month a patient-record fact belongs to: its own date's (None without a date)."""
    when = happened(event.fact)
    if isinstance(when, datetime):
        when = local_day(when, ledger.policy)
    return None if when is None else str(Month.of(when))


def event_marks(ledger: Ledger, events: Sequence[tuple[str | None, Any]]) -> dict[tuple[UUID, int], int]:
    """For an audit packet: (month, stored fact event) pairs -> the close each came after,
    keyed by (aggregate id, version), for those recorded after their month was closed."""
    wanted = [(m, e) for m, e in events if m is not None and type(e.fact).__name__ not in EXPECTED_AFTER_CLOSE]
    closed = windows(ledger, {m for m, _ in wanted if m is not None})
    if not closed:
        return {}
    keys = [(e.originator_id, e.originator_version) for m, e in wanted if m in closed]
    positions = ledger.locate(keys)
    out = {}
    for m, e in wanted:
        key = (e.originator_id, e.originator_version)
        window = within(closed.get(m or "", ()), positions[key]) if key in positions else None
        if window is not None:
            out[key] = window.sequence
    return out
