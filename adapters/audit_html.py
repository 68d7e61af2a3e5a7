"""The record packet as a printable HTML page: one table per month, the evidence of every
claim, and the digest a reader can check."""

from __future__ import annotations

from html import escape
from typing import Any

from projections.audit import FactEntry, Packet
from projections.evidence import Evidence

STYLE = """
body { font: 11pt/1.4 Georgia, serif; margin: 2em; color: #111; }
h1 { font-size: 16pt; margin-bottom: 0; } h2 { font-size: 13pt; border-bottom: 1px solid #444; margin-top: 2em; }
h3 { font-size: 11.5pt; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0 1em; font-size: 9.5pt; page-break-inside: auto; }
th, td { border: 1px solid #999; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eee; } tr { page-break-inside: avoid; }
.flag { color: #a00; font-weight: bold; } .meta { color: #444; font-size: 9.5pt; }
code { font-size: 9pt; word-break: break-all; }
@media print { body { margin: 0; } h2 { page-break-before: always; } }
"""


def render(packet: Packet) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Record packet {escape(packet.patient_id)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Medical record packet: patient {escape(packet.patient_id)}</h1>",
        "<p class='meta'>"
        f"Medicare id {escape(packet.medicare_id or '-')}; born {escape(packet.birth_date or '-')}<br>"
        f"Months {escape(packet.months[0])} to {escape(packet.months[-1])}; as the ledger stood at "
        f"{escape(packet.as_of)}; generated {escape(packet.generated_at)}<br>"
        f"Integrity digest (sha256 of the {packet.events_read} stored events read): "
        f"<code id='digest'>{escape(packet.digest)}</code></p>",
        "<h2 id='record'>Patient record</h2>",
        _facts(packet.record),
    ]
    for section in packet.sections:
        parts.append(f"<h2 id='month-{escape(section.month)}'>{escape(section.month)}</h2>")
        if section.minutes:
            rows = [[p, r["clinical_staff"], r["physician"], r["qhp"]] for p, r in section.minutes.items()]
            parts.append("<h3>Minutes counted</h3>" + _table(["program", "clinical staff", "physician", "QHP"], rows))
        parts.append("<h3>Facts</h3>" + _facts(section.facts))
        for claim in section.claims:
            parts.append(_claim(claim))
    parts.append("</body></html>")
    return "\n".join(parts)


def _facts(entries: list[FactEntry]) -> str:
    if not entries:
        return "<p>None.</p>"
    rows = [
        [e.happened or "-", e.type, _details(e.fact), e.recorded_at, e.recorded_by or "-", e.source or "-",
         "".join(f"<span class='flag'>{escape(f)}</span> " for f in e.flags)]
        for e in entries
    ]  # fmt: skip
    return _table(["happened", "fact", "details", "recorded at", "recorded by", "source", "flags"], rows, raw=[6])


def _details(fact: dict[str, Any]) -> str:
    skip = {"type", "patient_id", "source", "recorded_by"}
    return "; ".join(f"{k}: {_show(v)}" for k, v in fact.items() if k not in skip and v not in (None, [], False))


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_show(v) for v in value)
    if isinstance(value, dict):
        return " ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _claim(c: Evidence) -> str:
    parts = [
        f"<h3 class='claim' id='claim-{escape(c.claim_id)}'>"
        f"Claim {escape(c.claim_id)}: {escape(', '.join(c.codes))}</h3>",
        f"<p class='meta'>Submitted {escape(c.submitted_at)} by NPI {escape(c.billing_provider_npi)} for "
        f"{escape(c.service)}; status {escape(c.status)}; at submission: {escape('; '.join(c.gate_at_submission))}</p>",
    ]  # fmt: skip
    if c.flags:
        parts.append("<p>" + "<br>".join(f"<span class='flag'>{escape(f)}</span>" for f in c.flags) + "</p>")
    parts += _unsupported(c) + _verdict(c)
    parts.append("<table class='evidence'><tr><th>evidence</th><th>as it stood when the claim was submitted</th></tr>")
    sections = [
        ("consent", [_details(x) for x in c.consents]),
        ("initiating visit", [_details(x) for x in c.initiating_visits]),
        ("care plan", [_details(x) for x in c.care_plans]),
        ("conditions", [_details(x) for x in c.conditions]),
        ("minutes counted", [f"{p}: {m}" for p, m in c.minutes_counted.items()]),
        ("device days", [f"{k}: {len(v)} days ({', '.join(v)})" for k, v in c.device_days.items()]),
        ("transition", [_details(x) for x in c.transitions]),
    ]
    for name, items in sections:
        if items:
            parts.append(f"<tr><td>{escape(name)}</td><td>{'<br>'.join(escape(i) for i in items)}</td></tr>")
    parts.append("</table>")
    if c.time_entries:
        rows = [[t["started_at"], t["entry_id"], t["staff_id"], t["staff_role"], t["activity"], t["minutes"],
                 "yes" if t["counted"] else f"no ({t['not_counted_because']})"] for t in c.time_entries]  # fmt: skip
        parts.append(_table(["started", "entry", "staff", "role", "activity", "minutes", "counted"], rows))
    return "\n".join(parts)


def _unsupported(c: Evidence) -> list[str]:
    """G-16: support withdrawn after the claim, what is missing, and any repayment due."""
    u = c.unsupported
    if u is None:
        return []
    said = f"Support withdrawn {u['identified_at']} by {u['because_of']}: {'; '.join(u['missing'])}."
    if u.get("potential_overpayment"):
        said += f" Potential overpayment {u['potential_overpayment']}, to be reported and returned by {u['repay_by']}."
    return [f"<p class='flag'>{escape(said)}</p>"]


def _verdict(c: Evidence) -> list[str]:
    """G-17: the verdict as the gate recorded it: rule year, units allowed, the facts it stood on."""
    v = c.verdict
    if v is None:
        return []
    allowed = ", ".join(f"{code} x{units}" for code, units in v["allowed"].items())
    rows = [[r["kind"], r["ref"], r.get("position") or ""] for r in v["stood_on"]]
    return [f"<p class='meta'>Recorded verdict: {escape(v['rule_year'])} rules; units allowed {escape(allowed)}</p>",
            _table(["stood on", "id", "log position"], rows)]  # fmt: skip


def _table(headers: list[str], rows: list[list[Any]], raw: list[int] | None = None) -> str:
    raw = raw or []
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if i in raw else escape(str(c))}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
