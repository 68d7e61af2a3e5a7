"""Worklist and report rows as a terminal table, JSON or CSV."""

from __future__ import annotations

import csv
import io
import textwrap
from collections.abc import Sequence

import msgspec

from adapters.table import WIDTH, render
from domain.rules.assess import WorklistRow
from projections.refusals import RefusalRow
from projections.report import ReportRow


def worklist(rows: Sequence[WorklistRow], fmt: str) -> str:
    if fmt == "json":
        return _json(rows)
    flat: list[dict[str, object]] = [
        {
            "patient_id": r.patient_id,
            "month": r.month,
            "lane": r.lane or "",
            "billing_provider_npi": r.billing_provider_npi or "",
            "billable": "; ".join(f"{b.code}" + (f" x{b.units}" if b.units > 1 else "") for b in r.billable),
            "estimated_total": r.estimated_total,
            "blocked": "; ".join(f"{b.code} {b.reason}: {b.detail}" for b in r.blocked),
            "claimed": "; ".join(f"{c.claim_id} ({', '.join(c.codes)}): {c.status}" for c in r.claimed),
        }
        for r in rows
    ]
    if fmt == "csv":
        return csv_of(flat, list(flat[0]) if flat else ["patient_id"])
    total = sum(float(r.estimated_total) for r in rows)
    schedule = rows[0].fee_schedule if rows else "-"
    out = _wrapped(f"Worklist: {len(rows)} patient-months, ${total:,.2f} billable now (fees: {schedule})", "")
    for r in rows:  # a block per patient-month: six columns of codes and reasons never fit 80
        head = f"{r.patient_id}  {r.lane or '-'}  NPI {r.billing_provider_npi or '-'}  ${r.estimated_total}"
        out.append("")
        out += _wrapped(head + (f" billable: {', '.join(_billable(r))}" if r.billable else ""), "")
        out += [x for c in r.claimed for x in _wrapped(f"claimed {c.claim_id} ({', '.join(c.codes)}): {c.status}")]
        out += [x for b in r.blocked for x in _wrapped(f"held back {b.code} {b.reason}: {b.detail}")]
        out += [x for w in r.warnings for x in _wrapped(f"warning: {w}")]
    return "\n".join(out)


def _billable(row: WorklistRow) -> list[str]:
    return [b.code + (f" x{b.units}" if b.units > 1 else "") for b in row.billable]


def _wrapped(text: str, indent: str = "  ") -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=indent, subsequent_indent=indent + "  ") or [indent]


def wrapped(text: str, more: str = "    ") -> str:
    """A message for the terminal within its width, going on indented by `more`; a file name
    or other word wider than that is kept whole."""
    lines = textwrap.wrap(text, WIDTH, subsequent_indent=more, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)


def report(rows: Sequence[ReportRow], fmt: str) -> str:
    if fmt == "json":
        return _json(rows)
    dicts = [msgspec.structs.asdict(r) for r in rows]
    if fmt == "csv":
        return csv_of(dicts, list(ReportRow.__struct_fields__))
    # Two tables, claimed and billable: ten columns side by side never fit 80.
    claimed = [[r.billing_provider_npi, r.program, r.claimed_units, r.claimed_work_rvu, r.claimed_amount,
                r.paid_amount, r.underpaid_amount] for r in rows if r.claimed_units]  # fmt: skip
    billable = [[r.billing_provider_npi, r.program, r.billable_units, r.billable_work_rvu, r.billable_amount]
                for r in rows if r.billable_units]  # fmt: skip
    first = render(["NPI", "program", "units", "wRVU", "claimed $", "paid $", "short $"], claimed,
                   "Work RVUs and revenue: claimed")  # fmt: skip
    second = render(["NPI", "program", "units", "wRVU", "billable $"], billable, "Still billable")
    return first + "\n\n" + second


def refusals(rows: Sequence[RefusalRow], fmt: str) -> str:
    if fmt == "json":
        return _json(rows)
    flat: list[dict[str, object]] = [
        {
            "recorded_at": r.recorded_at,
            "claim_id": r.claim_id,
            "patient_id": r.patient_id,
            "billing_provider_npi": r.billing_provider_npi,
            "service_month": r.service_month,
            "codes": " ".join(r.codes),
            "reasons": "; ".join(f"{x['code']}: {x['message']}" for x in r.reasons),
            "recorded_by": r.recorded_by or "",
            "source": r.source or "",
        }
        for r in rows
    ]
    if fmt == "csv":
        return csv_of(flat, list(flat[0]) if flat else ["recorded_at"])
    out = [f"Refusal log: {len(rows)} refused claims"]
    for r in rows:  # a block per refusal: its reasons are sentences, too long for a column
        who = f" by {r.recorded_by}" if r.recorded_by else ""
        out += ["", f"{r.recorded_at[:16].replace('T', ' ')}  {r.claim_id}  patient {r.patient_id}  "
                    f"{r.service_month or '-'}  {' '.join(r.codes)}{who}"]  # fmt: skip
        out += [x for reason in r.reasons for x in _wrapped(f"{reason['code']}: {reason['message']}")]
    return "\n".join(out)


def _json(rows: Sequence[msgspec.Struct]) -> str:
    return msgspec.json.format(msgspec.json.encode(list(rows)), indent=2).decode()


def csv_of(rows: list[dict[str, object]], fields: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")
