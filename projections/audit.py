"""The auditor's record packet (interface.md section 5).

For a patient and a range of months: every fact in time order with its own date and when it
was recorded, by whom, from where, and flags (late, recorded after a claim it counts
toward, voided); and for each claim the evidence it stood on at the moment it was submitted,
rebuilt by replaying the patient's streams up to that moment. `as_of` replays what the
ledger knew at an instant: facts recorded later are absent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain import facts, records, timing
from domain.keys import patient_key, patient_month_key
from domain.ledger import Ledger
from domain.month import Month
from domain.patient_month import PatientMonth
from domain.rules import minutes
from domain.rules.view import MonthView
from domain.timing import is_late
from projections import after_close
from projections.evidence import Evidence, evidence
from projections.replay import Stream, months_at


class FactEntry(msgspec.Struct):
    type: str
    happened: str | None
    recorded_at: str
    recorded_by: str | None
    source: str | None
    flags: list[str]
    fact: dict[str, Any]


class MonthSection(msgspec.Struct):
    month: str
    facts: list[FactEntry]
    minutes: dict[str, dict[str, int]]
    claims: list[Evidence]


class Packet(msgspec.Struct):
    patient_id: str
    birth_date: str | None
    medicare_id: str | None
    months: list[str]
    as_of: str
    generated_at: str
    record: list[FactEntry]  # facts of the record that are not tied to one month
    sections: list[MonthSection]
    digest: str  # sha256 over the stored events the packet was built from
    events_read: int


class NotFound(Exception):
    """No such patient as of the instant asked."""


class FutureInstant(ValueError):
    """An --as-of after now: the ledger can say only what it has known up to now."""


def packet(ledger: Ledger, patient_id: str, first: str, last: str, as_of: datetime | None = None) -> Packet:
    instant = _instant(ledger, as_of)
    months = Month(first).through(last)
    span = Month(Month(first).window()[0]).through(Month(last).window()[-1])
    ids = [patient_key(patient_id)] + [patient_month_key(patient_id, m) for m in span]
    stored = {i: list(ledger.recorder.select_events(i)) for i in ids}
    streams = {i: Stream([ledger.mapper.to_domain_event(e) for e in stored[i]]) for i in ids}
    patient = streams[ids[0]].as_of(instant)
    if patient is None:
        raise NotFound(f"patient {patient_id} is not on record as of {instant.isoformat()}")
    later_voids = _voids(streams.values(), instant)
    closed = after_close.event_marks(ledger, [
        *((after_close.fact_month(e, ledger), e) for e in streams[ids[0]].events if _shown(e, instant)),
        *((m, e) for m in months for e in streams[patient_month_key(patient_id, m)].events if _shown(e, instant)),
    ])  # fmt: skip
    record = [_entry(e, ledger, instant, later_voids, closed) for e in streams[ids[0]].events if _shown(e, instant)]
    sections = []
    for month in months:
        stream = streams[patient_month_key(patient_id, month)]
        entries = [_entry(e, ledger, instant, later_voids, closed) for e in stream.events if _shown(e, instant)]
        pm = stream.as_of(instant)
        view = MonthView(patient, month, ledger.policy, months_at(streams, patient_id, month, instant), ledger.rulebook)
        claims = [
            evidence(ledger, streams, patient_id, month, claim, instant) for claim in (pm.claims.values() if pm else ())
        ]
        mins = {p.value: minutes.by_role(view, p) for p in facts.Program if view.entries(p)}
        sections.append(MonthSection(month, sorted(entries, key=_order), mins, claims))
    digest, count = _digest(stored, streams, instant)
    return Packet(
        patient_id=patient_id,
        birth_date=patient.birth_date.isoformat() if patient.birth_date else None,
        medicare_id=patient.medicare_id,
        months=months,
        as_of=instant.isoformat(),
        generated_at=ledger.clock().isoformat(),
        record=sorted(record, key=_order),
        sections=sections,
        digest=digest,
        events_read=count,
    )


def _instant(ledger: Ledger, as_of: datetime | None) -> datetime:
    now = ledger.clock()
    if as_of is not None and as_of > now:
        raise FutureInstant(f"{as_of.isoformat()} is in the future: a packet shows what the ledger knew up to now")
    return as_of or now


def _shown(event: Any, instant: datetime) -> bool:
    return event.timestamp <= instant and hasattr(event, "fact")


def _order(entry: FactEntry) -> tuple[str, str]:
    """Time order by when each fact happened: a fact dated by a month (a monthly claim) after
    every day of it, and a fact with no date of its own (a void, a payer's answer) on the day
    it was recorded, so that nothing reads as coming before what it billed or undid."""
    if entry.type == "PatientRegistered":
        return ("", entry.recorded_at)  # the record opens with the patient
    when = entry.happened or entry.recorded_at[:10]
    return (when + "-32" if len(when) == 7 else when, entry.recorded_at)


def _voids(streams: Iterable[Stream], instant: datetime) -> dict[str, str]:
    """Entries and claims voided (as of the instant), with when."""
    out = {}
    for stream in streams:
        for e in stream.events:
            if e.timestamp <= instant and isinstance(e, PatientMonth.TimeEntryVoided | PatientMonth.ClaimVoided):
                key = e.fact.entry_id if isinstance(e, PatientMonth.TimeEntryVoided) else e.fact.claim_id
                out[key] = e.timestamp.isoformat()
    return out


def _entry(event: Any, ledger: Ledger, instant: datetime, voids: dict[str, str],
           closed: dict[tuple[UUID, int], int]) -> FactEntry:  # fmt: skip
    fact = event.fact
    flags = []
    if is_late(fact, event.timestamp, ledger.policy):
        flags.append("late")
    if (event.originator_id, event.originator_version) in closed:
        flags.append(after_close.FLAG)
    key = getattr(fact, "entry_id", None) or (fact.claim_id if isinstance(fact, records.ClaimSubmitted) else None)
    if key in voids and isinstance(fact, records.TimeLogged | records.ClaimSubmitted):
        flags.append(f"voided {voids[key]}")
    when = timing.happened(fact)
    if isinstance(fact, records.ClaimSubmitted) and fact.service_month:
        said: str | None = fact.service_month  # a claim for a month happened in that month
    else:
        said = None if when is None else when.isoformat()
    body = msgspec.to_builtins(fact)
    return FactEntry(type(fact).__name__, said, event.timestamp.isoformat(), fact.recorded_by, fact.source,
                     flags, body)  # fmt: skip


def _digest(stored: dict[UUID, list[Any]], streams: dict[UUID, Stream], instant: datetime) -> tuple[str, int]:
    """sha256 over the stored events (id, version, topic, state) the packet was built from,
    up to the instant: the same bytes read once for the replay and for the digest."""
    h = hashlib.sha256()
    count = 0
    for aggregate_id, rows in stored.items():
        for row, event in zip(rows, streams[aggregate_id].events, strict=True):
            if event.timestamp > instant:
                break
            h.update(f"{aggregate_id}:{row.originator_version}:{row.topic}:".encode())
            h.update(row.state)
            count += 1
    return h.hexdigest(), count
