"""The auditor's record packet (interface.md section 5).

For a patient and a range of months: every fact in time order with its own date and when it
was recorded, by whom, from where, and flags (late, recorded after a claim it counts
toward, voided); and for each claim the evidence it stood on at the moment it was submitted,
rebuilt by replaying the patient's streams up to that moment. `as_of` replays what the
ledger knew at an instant: facts recorded later are absent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain import catalog, facts, records
from domain.keys import patient_key, patient_month_key
from domain.ledger import Ledger
from domain.patient import Patient
from domain.patient_month import PatientMonth
from domain.rules import eligibility, minutes
from domain.rules.gate import ClaimFact, judge
from domain.rules.view import VIEW_MONTHS, MonthView, shift_month
from domain.state import Claim
from domain.timing import is_late


class FactEntry(msgspec.Struct):
    type: str
    happened: str | None
    recorded_at: str
    recorded_by: str | None
    source: str | None
    flags: list[str]
    fact: dict[str, Any]


class Evidence(msgspec.Struct):
    claim_id: str
    submitted_at: str
    billing_provider_npi: str
    service: str
    codes: list[str]
    status: str
    gate_at_submission: list[str]
    verdict: dict[str, Any] | None  # G-17: as the gate recorded it (None before verdicts were kept)
    unsupported: dict[str, Any] | None  # G-16: support withdrawn after the claim, and any repayment due
    consents: list[dict[str, Any]]
    initiating_visits: list[dict[str, Any]]
    care_plans: list[dict[str, Any]]
    conditions: list[dict[str, Any]]
    time_entries: list[dict[str, Any]]
    minutes_counted: dict[str, int]
    device_days: dict[str, list[str]]
    transitions: list[dict[str, Any]]
    flags: list[str]


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


@dataclass
class Stream:
    """One aggregate's events as recorded, for replays up to an instant."""

    events: list[Any]

    def as_of(self, instant: datetime, *, leave_out: Callable[[Any], bool] | None = None) -> Any:
        """The aggregate as of the instant, without the events `leave_out` names (a claim is
        judged on the state it found, not the state its own recording made)."""
        aggregate = None
        for event in self.events:
            if event.timestamp > instant:
                break
            if leave_out is None or not leave_out(event):
                aggregate = event.mutate(aggregate)
        return aggregate


def packet(ledger: Ledger, patient_id: str, first: str, last: str, as_of: datetime | None = None) -> Packet:
    instant = as_of or ledger.clock()
    months = _months(first, last)
    span = _months(shift_month(first, VIEW_MONTHS[0]), shift_month(last, VIEW_MONTHS[-1]))
    ids = [patient_key(patient_id)] + [patient_month_key(patient_id, m) for m in span]
    stored = {i: list(ledger.recorder.select_events(i)) for i in ids}
    streams = {i: Stream([ledger.mapper.to_domain_event(e) for e in stored[i]]) for i in ids}
    patient = streams[ids[0]].as_of(instant)
    if patient is None:
        raise NotFound(f"patient {patient_id} is not on record as of {instant.isoformat()}")
    later_voids = _voids(streams.values(), instant)
    record = [_entry(e, ledger, instant, later_voids) for e in streams[ids[0]].events if _shown(e, instant)]
    sections = []
    for month in months:
        stream = streams[patient_month_key(patient_id, month)]
        entries = [_entry(e, ledger, instant, later_voids) for e in stream.events if _shown(e, instant)]
        pm = stream.as_of(instant)
        view = MonthView(
            patient, month, ledger.policy, _months_at(streams, patient_id, month, instant), ledger.rulebook
        )
        claims = [
            _evidence(ledger, streams, patient_id, month, claim, instant)
            for claim in (pm.claims.values() if pm else ())
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


def _months(first: str, last: str) -> list[str]:
    out, month = [], first
    while month <= last:
        out.append(month)
        month = shift_month(month, 1)
    return out


def _shown(event: Any, instant: datetime) -> bool:
    return event.timestamp <= instant and hasattr(event, "fact")


def _order(entry: FactEntry) -> tuple[str, str]:
    return (entry.happened or "", entry.recorded_at)


def _voids(streams: Iterable[Stream], instant: datetime) -> dict[str, str]:
    """Entries and claims voided (as of the instant), with when."""
    out = {}
    for stream in streams:
        for e in stream.events:
            if e.timestamp <= instant and isinstance(e, PatientMonth.TimeEntryVoided | PatientMonth.ClaimVoided):
                key = e.fact.entry_id if isinstance(e, PatientMonth.TimeEntryVoided) else e.fact.claim_id
                out[key] = e.timestamp.isoformat()
    return out


def _entry(event: Any, ledger: Ledger, instant: datetime, voids: dict[str, str]) -> FactEntry:
    fact = event.fact
    flags = []
    if is_late(fact, event.timestamp, ledger.policy):
        flags.append("late")
    key = getattr(fact, "entry_id", None) or (fact.claim_id if isinstance(fact, records.ClaimSubmitted) else None)
    if key in voids and isinstance(fact, records.TimeLogged | records.ClaimSubmitted):
        flags.append(f"voided {voids[key]}")
    when = facts.happened(fact)
    if isinstance(fact, records.ClaimSubmitted) and fact.service_month:
        happened: str | None = fact.service_month
    elif isinstance(when, datetime):
        happened = when.isoformat()
    else:
        happened = None if when is None else when.isoformat()
    body = msgspec.to_builtins(fact)
    return FactEntry(type(fact).__name__, happened, event.timestamp.isoformat(), fact.recorded_by, fact.source,
                     flags, body)  # fmt: skip


def _months_at(streams: dict[UUID, Stream], patient_id: str, month: str, instant: datetime) -> dict[str, Any]:
    out = {}
    for m in (shift_month(month, d) for d in VIEW_MONTHS):
        pm = streams[patient_month_key(patient_id, m)].as_of(instant)
        if pm is not None:
            out[m] = pm
    return out


def _evidence(
    ledger: Ledger,
    streams: dict[UUID, Stream],
    patient_id: str,
    month: str,
    recorded: Claim,
    instant: datetime,
) -> Evidence:
    claim = recorded.submitted
    stream = streams[patient_month_key(patient_id, month)]
    submitted = next(e for e in stream.events if isinstance(e, PatientMonth.ClaimSubmitted)
                     and e.fact.claim_id == claim.claim_id)  # fmt: skip
    at = submitted.timestamp
    # The state the claim found: everything recorded by then, less the claim's own events
    # (facts recorded in the same instant, as in one bulk batch, came before it).
    patient_then: Patient = streams[patient_key(patient_id)].as_of(
        at, leave_out=lambda e: getattr(e, "claim_id", None) == claim.claim_id
    )
    months_then = _months_at(streams, patient_id, month, at)
    months_then[month] = stream.as_of(at, leave_out=lambda e: e.originator_version >= submitted.originator_version)
    view = MonthView(patient_then, month, ledger.policy, months_then, ledger.rulebook)
    programs = {s.program for line in claim.lines if (s := catalog.lookup(line.code)) and s.program}
    counted, later = [], []
    for program in sorted(programs):
        for entry in view.entries(program):
            why = minutes.exclusion(view, entry)
            counted.append({
                "entry_id": entry.entry_id, "program": program.value, "staff_id": entry.staff_id,
                "staff_role": entry.staff_role.value, "activity": entry.activity,
                "started_at": entry.started_at.isoformat(), "minutes": entry.minutes,
                "counted": why is None, "not_counted_because": None if why is None else why.code.value,
            })  # fmt: skip
    pm_now = stream.as_of(instant)
    for entry in pm_now.entries.values() if pm_now else ():
        logged = entry.logged
        if (
            logged.program in programs
            and entry.voided is None
            and all(c["entry_id"] != logged.entry_id for c in counted)
        ):
            later.append(f"time entry {logged.entry_id} ({logged.minutes} min) recorded after the claim")
    voided_after = [c["entry_id"] for c in counted if pm_now and pm_now.entries[c["entry_id"]].voided is not None]
    flags = later + [f"time entry {e} voided after the claim" for e in voided_after]
    status = _status(pm_now.claims.get(claim.claim_id) if pm_now else None)
    if recorded.verdict is not None:
        verdict: dict[str, Any] | None = msgspec.to_builtins(recorded.verdict)
        refs = verdict["stood_on"] if verdict else []
        # Where each fact stands in the whole log, for a reader checking it against `events`.
        keys = [(UUID(ref["stream"]), int(ref["version"])) for ref in refs]
        found = ledger.locate(keys) if keys else {}
        for ref, key in zip(refs, keys, strict=True):
            ref["position"] = found.get(key)
        gate = [f"accepted under the {recorded.verdict.rule_year} rules (recorded verdict)"]
    else:
        verdict = None
        reasons = judge(claim, view, at).reasons
        gate = [f"re-judged under today's rules for {view.rules_on(claim.service_on or view.first).name}"]
        gate += [f"{r.code.value}: {r.message}" for r in reasons] or ["every rule holds"]
    return Evidence(
        claim_id=claim.claim_id,
        submitted_at=at.isoformat(),
        billing_provider_npi=claim.billing_provider_npi,
        service=(claim.service_on.isoformat() if claim.service_on else month),
        codes=[f"{line.code} x{line.units}" for line in claim.lines],
        status=status,
        gate_at_submission=gate,
        verdict=verdict,
        unsupported=_unsupported(recorded),
        consents=[_consent(ep) for p in sorted(programs) for ep in patient_then.consents.get(p, [])],
        initiating_visits=[
            msgspec.to_builtins(v)
            for v in patient_then.initiating_visits.values()
            if v.provider_npi == claim.billing_provider_npi
        ],
        care_plans=[_plan(p) for p in patient_then.care_plans.values() if programs & set(p.established.programs)],
        conditions=[msgspec.to_builtins(c) for c in eligibility.active_conditions(view)],
        time_entries=counted,
        minutes_counted={p.value: minutes.counted(view, p, catalog.ANYONE) for p in sorted(programs)},
        device_days=_device_days(view, programs),
        transitions=[_transition(d) for d in patient_then.discharges.values()] if _is_tcm(claim) else [],
        flags=flags,
    )


def _is_tcm(claim: ClaimFact) -> bool:
    return any((s := catalog.lookup(x.code)) is not None and s.kind is catalog.Kind.TCM for x in claim.lines)


def _status(claim: Claim | None) -> str:
    if claim is None:
        return "unknown"
    if claim.voided is not None:
        return f"voided: {claim.voided.reason}"
    if claim.adjudications:
        last = claim.adjudications[-1]
        said = f"{last.outcome.value}" + (f" {last.paid_amount}" if last.paid_amount is not None else "")
        return f"unsupported (was {said})" if claim.withdrawn is not None else said
    return claim.status


def _unsupported(claim: Claim) -> dict[str, Any] | None:
    """G-16: the flag an auditor must see, with the overpayment and its deadline when paid."""
    gone = claim.withdrawn
    if gone is None:
        return None
    return {
        "identified_at": gone.identified_at.isoformat(),
        "because_of": gone.cause,
        "missing": [f"{r.code.value}: {r.message}" for r in gone.reasons],
        "potential_overpayment": str(claim.paid_amount) if claim.paid else None,
        "repay_by": claim.repay_by.isoformat() if claim.repay_by else None,
    }


def _consent(ep: Any) -> dict[str, Any]:
    out = msgspec.to_builtins(ep.recorded)
    out["revoked_on"] = ep.revoked_on.isoformat() if ep.revoked_on else None
    return dict(out)


def _plan(plan: Any) -> dict[str, Any]:
    out = msgspec.to_builtins(plan.established)
    out["revisions"] = [msgspec.to_builtins(r) for r in plan.revisions]
    return dict(out)


def _transition(d: Any) -> dict[str, Any]:
    return {
        "discharge": msgspec.to_builtins(d.discharged),
        "contacts": [msgspec.to_builtins(c) for c in d.contacts],
        "visits": [msgspec.to_builtins(v) for v in d.visits],
        "decisions": [msgspec.to_builtins(m) for m in d.decisions],
    }


def _device_days(view: MonthView, programs: set[facts.Program]) -> dict[str, list[str]]:
    out = {}
    for program in programs & {facts.Program.RPM, facts.Program.RTM}:
        period = view.period_ending_in_month(program)
        if period is not None:
            key = f"{program.value} {period.start} to {period.end}"
            out[key] = sorted(d.isoformat() for d in view.device_days(period))
    return out


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
