"""A claim's evidence (projections.evidence) as the tables of the ADR binder: one table per
kind of evidence, in the words a medical reviewer reads, each as it stood when the claim was
submitted. An empty table is kept and says so: a reviewer must see that a consent is missing,
not a page without one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.catalog import Kind
from domain.rulebook import Rulebook
from projections.evidence import Evidence


@dataclass(frozen=True)
class Table:
    title: str
    headers: tuple[str, ...]
    rows: Sequence[Sequence[str]]
    notes: list[str] = field(default_factory=list)  # lines under the table (totals, thresholds)
    empty: str = "None on record when the claim was submitted."


def show(value: Any) -> str:
    """A cell: yes/no for flags, a dash for nothing, lists joined."""
    if value is None or value == "":
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(show(v) for v in value) or "-"
    return str(value)


def _rows(items: list[dict[str, Any]], keys: tuple[str, ...]) -> list[tuple[str, ...]]:
    return [tuple(show(item.get(k)) for k in keys) for item in items]


def consents(c: Evidence) -> Table:
    keys = ("program", "method", "obtained_by", "cost_sharing_explained", "one_practitioner_explained",
            "recorded_on", "revoked_on")  # fmt: skip
    headers = ("Program", "Method", "Obtained by", "Cost sharing explained", "One practitioner explained",
               "Recorded on", "Revoked on")  # fmt: skip
    return Table("Consent", headers, _rows(c.consents, keys))


def visits(c: Evidence) -> Table:
    keys = ("visit_id", "visit_type", "visit_on", "provider_npi", "extended_assessment")
    headers = ("Visit", "Type", "On", "Provider NPI", "Extended assessment (G0506)")
    return Table("Initiating visit", headers, _rows(c.initiating_visits, keys))


def plans(c: Evidence) -> Table:
    rows = [(show(p.get("plan_id")), show(p.get("established_on")), show(p.get("by")),
             show(p.get("shared_with_patient")), show(p.get("programs")), _revisions(p.get("revisions") or []))
            for p in c.care_plans]  # fmt: skip
    return Table("Care plan", ("Plan", "Established on", "By", "Shared with patient", "Programs", "Revisions"), rows)


def _revisions(revisions: list[dict[str, Any]]) -> str:
    said = [
        f"{r.get('revised_on')} by {r.get('by')}{' (substantial)' if r.get('substantial') else ''}" for r in revisions
    ]
    return "; ".join(said) or "-"


def conditions(c: Evidence) -> Table:
    keys = ("condition_id", "description", "diagnosed_on", "expected_duration_months", "significant_risk",
            "behavioral", "chronic_pain", "diagnosed_by")  # fmt: skip
    headers = ("ICD-10-CM", "Description", "Diagnosed on", "Expected months", "Significant risk", "Behavioral",
               "Chronic pain", "Diagnosed by (NPI)")  # fmt: skip
    return Table("Conditions", headers, _rows(c.conditions, keys))


def time_entries(c: Evidence, rules: Rulebook, when: Callable[[str], str]) -> Table:
    """Every entry of the claim's programs (started, in the practice's zone), whether it
    counted (and why not), the total counted and what each code claimed needs."""
    rows = [(when(t["started_at"]), show(t["entry_id"]), show(t["staff_id"]), show(t["staff_role"]).replace("_", " "),
             show(t["activity"]), str(t["minutes"]),
             "yes" if t["counted"] else f"no ({t['not_counted_because']})") for t in c.time_entries]  # fmt: skip
    notes = [f"Minutes counted for {program}: {total}" for program, total in c.minutes_counted.items()]
    notes += thresholds(c, rules)
    headers = ("Started", "Entry", "Staff", "Role", "Activity", "Minutes", "Counted")
    return Table("Time entries", headers, rows, notes)


def thresholds(c: Evidence, rules: Rulebook) -> list[str]:
    """What each code claimed needs, by the rules of its date of service (G-05, G-06)."""
    day = date.fromisoformat(c.service if len(c.service) == 10 else c.service + "-01")
    found = []
    for line in c.codes:
        code, _, units = line.partition(" x")
        spec = rules.on(day).spec(code)
        if spec is None or spec.minimum is None:
            continue
        count = int(units) if units.isdigit() else 1
        need = spec.minimum + (spec.step or 0) * (count - 1)
        unit = "days with data" if spec.kind is Kind.DEVICE else "minutes"
        found.append(f"{code} x{count} needs at least {need} {unit} ({rules.on(day).name} rules)")
    return found


def device_days(c: Evidence) -> Table:
    rows = [(period, str(len(days)), ", ".join(days)) for period, days in c.device_days.items()]
    return Table("Device days", ("Period", "Days with data", "Dates"), rows)


def transitions(c: Evidence) -> Table:
    rows = []
    for t in c.transitions:
        d = t.get("discharge") or {}
        contacts = [f"{x.get('contacted_on')} {x.get('method')}" for x in t.get("contacts") or []]
        visits = [f"{x.get('visit_on')} ({x.get('visit_id')})" for x in t.get("visits") or []]
        decisions = [f"{x.get('level')} on {x.get('decided_on')}" for x in t.get("decisions") or []]
        rows.append((show(d.get("discharge_id")), show(d.get("discharged_on")), show(contacts), show(visits),
                     show(decisions)))  # fmt: skip
    return Table("Transition (TCM)", ("Discharge", "On", "Contacts", "Visits", "Decision making"), rows)


def stood_on(c: Evidence) -> Table:
    """G-17: the facts the gate's verdict names, each with its position in the log."""
    refs = (c.verdict or {}).get("stood_on") or []
    rows = [(show(r.get("kind")).replace("_", " "), show(r.get("ref")), show(r.get("position"))) for r in refs]
    empty = "The claim was recorded before verdicts were kept: see the gate's judgment above."
    return Table("Facts the gate's verdict stood on", ("Evidence", "Id", "Log position"), rows, empty=empty)


def tables(c: Evidence, rules: Rulebook, when: Callable[[str], str]) -> list[Table]:
    """The claim's tables, in the order a reviewer checks them; device days and transitions
    only for the claims they belong to."""
    found = [consents(c), visits(c), plans(c), conditions(c), time_entries(c, rules, when)]
    if c.device_days:
        found.append(device_days(c))
    if c.transitions:
        found.append(transitions(c))
    return [*found, stood_on(c)]
