"""A claim's evidence in the audit packet: what it stood on at the moment it was
submitted (rebuilt by replaying the patient's streams up to that moment), its verdict, and
what has happened to it since. One builder per kind of evidence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from domain import catalog
from domain.keys import patient_key, patient_month_key
from domain.ledger import Ledger
from domain.patient_month import PatientMonth
from domain.rules import eligibility, minutes
from domain.rules.gate import ClaimFact, judge
from domain.rules.view import MonthView
from domain.state import Claim
from domain.vocab import Program
from projections.replay import Stream, months_at


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


def evidence(
    ledger: Ledger, streams: dict[UUID, Stream], patient_id: str, month: str, recorded: Claim, instant: datetime
) -> Evidence:
    """What a claim stood on when it was submitted, and what has happened to it since."""
    claim = recorded.submitted
    then = _at_submission(ledger, streams, patient_id, month, claim.claim_id)
    view, at = then.view, then.at
    programs = {s.program for line in claim.lines if (s := catalog.lookup(line.code)) and s.program}
    counted = _time_entries(view, programs)
    pm_now = streams[patient_month_key(patient_id, month)].as_of(instant)
    verdict, gate = _verdict(ledger, recorded, view, at)
    patient_then = then.patient
    return Evidence(
        claim_id=claim.claim_id,
        submitted_at=at.isoformat(),
        billing_provider_npi=claim.billing_provider_npi,
        service=(claim.service_on.isoformat() if claim.service_on else month),
        codes=[f"{line.code} x{line.units}" for line in claim.lines],
        status=_status(pm_now.claims.get(claim.claim_id) if pm_now else None),
        gate_at_submission=gate,
        verdict=verdict,
        unsupported=_unsupported(recorded),
        consents=[_consent(ep) for p in sorted(programs) for ep in patient_then.consents.get(p, [])],
        initiating_visits=_visits(patient_then, claim.billing_provider_npi),
        care_plans=[_plan(p) for p in patient_then.care_plans.values() if programs & set(p.established.programs)],
        conditions=[msgspec.to_builtins(c) for c in eligibility.active_conditions(view)],
        time_entries=counted,
        minutes_counted={p.value: minutes.counted(view, p, catalog.ANYONE) for p in sorted(programs)},
        device_days=_device_days(view, programs),
        transitions=[_transition(d) for d in patient_then.discharges.values()] if _is_tcm(claim) else [],
        flags=_changed_since(pm_now, programs, counted),
    )


@dataclass
class _Then:
    view: MonthView
    patient: Any
    at: datetime


def _at_submission(ledger: Ledger, streams: dict[UUID, Stream], patient_id: str, month: str, claim_id: str) -> _Then:
    """The state the claim found: everything recorded by then, less the claim's own events
    (facts recorded in the same instant, as in one bulk batch, came before it)."""
    stream = streams[patient_month_key(patient_id, month)]
    submitted = next(e for e in stream.events if isinstance(e, PatientMonth.ClaimSubmitted)
                     and e.fact.claim_id == claim_id)  # fmt: skip
    at = submitted.timestamp
    patient = streams[patient_key(patient_id)].as_of(at, leave_out=lambda e: getattr(e, "claim_id", None) == claim_id)
    months = months_at(streams, patient_id, month, at)
    months[month] = stream.as_of(at, leave_out=lambda e: e.originator_version >= submitted.originator_version)
    return _Then(MonthView(patient, month, ledger.policy, months, ledger.rulebook), patient, at)


def _time_entries(view: MonthView, programs: set[Program]) -> list[dict[str, Any]]:
    """Each time entry of the claim's programs at submission, and whether it counted."""
    counted = []
    for program in sorted(programs):
        for entry in view.entries(program):
            why = minutes.exclusion(view, entry)
            counted.append({
                "entry_id": entry.entry_id, "program": program.value, "staff_id": entry.staff_id,
                "staff_role": entry.staff_role.value, "activity": entry.activity,
                "started_at": entry.started_at.isoformat(), "minutes": entry.minutes,
                "counted": why is None, "not_counted_because": None if why is None else why.code.value,
            })  # fmt: skip
    return counted


def _changed_since(pm_now: Any, programs: set[Program], counted: list[dict[str, Any]]) -> list[str]:
    """Time recorded after the claim, and time it counted that was voided since."""
    if pm_now is None:
        return []
    seen = {c["entry_id"] for c in counted}
    later = [
        f"time entry {e.logged.entry_id} ({e.logged.minutes} min) recorded after the claim"
        for e in pm_now.entries.values()
        if e.logged.program in programs and e.voided is None and e.logged.entry_id not in seen
    ]
    voided = [c["entry_id"] for c in counted if pm_now.entries[c["entry_id"]].voided is not None]
    return later + [f"time entry {e} voided after the claim" for e in voided]


def _verdict(ledger: Ledger, recorded: Claim, view: MonthView, at: datetime) -> tuple[dict[str, Any] | None, list[str]]:
    """G-17: the verdict as recorded, each fact it stood on with its log position; a claim
    from before verdicts were kept is judged again, and says so."""
    if recorded.verdict is None:
        claim = recorded.submitted
        reasons = judge(claim, view, at).reasons
        gate = [f"re-judged under today's rules for {view.rules_on(claim.service_on or view.first).name}"]
        return None, gate + ([f"{r.code.value}: {r.message}" for r in reasons] or ["every rule holds"])
    verdict: dict[str, Any] = msgspec.to_builtins(recorded.verdict)
    refs = verdict["stood_on"]
    keys = [(UUID(ref["stream"]), int(ref["version"])) for ref in refs]
    found = ledger.locate(keys) if keys else {}
    for ref, key in zip(refs, keys, strict=True):
        ref["position"] = found.get(key)
    return verdict, [f"accepted under the {recorded.verdict.rule_year} rules (recorded verdict)"]


def _visits(patient: Any, npi: str) -> list[dict[str, Any]]:
    return [msgspec.to_builtins(v) for v in patient.initiating_visits.values() if v.provider_npi == npi]


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


def _device_days(view: MonthView, programs: set[Program]) -> dict[str, list[str]]:
    out = {}
    for program in programs & {Program.RPM, Program.RTM}:
        period = view.period_ending_in_month(program)
        if period is not None:
            key = f"{program.value} {period.start} to {period.end}"
            out[key] = sorted(d.isoformat() for d in view.device_days(period))
    return out
