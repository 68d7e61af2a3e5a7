"""Worklist and report rows as a terminal table, JSON or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import msgspec

from adapters.table import render
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
    headers = ["patient", "lane", "billable", "total", "claimed", "held back (reason: detail)"]
    table = [[f["patient_id"], f["lane"], f["billable"], f["estimated_total"], f["claimed"], f["blocked"]]
             for f in flat]  # fmt: skip
    total = sum(float(r.estimated_total) for r in rows)
    schedule = rows[0].fee_schedule if rows else "-"
    title = f"Worklist: {len(rows)} patient-months, ${total:,.2f} billable now (fees: {schedule})"
    return render(headers, table, title)


def report(rows: Sequence[ReportRow], fmt: str) -> str:
    if fmt == "json":
        return _json(rows)
    dicts = [msgspec.structs.asdict(r) for r in rows]
    if fmt == "csv":
        return csv_of(dicts, list(ReportRow.__struct_fields__))
    headers = ["NPI", "program", "claimed units", "claimed wRVU", "claimed $", "billable units", "billable wRVU",
               "billable $", "paid $", "short $"]  # fmt: skip
    return render(headers, [list(d.values()) for d in dicts], "Work RVUs and revenue")


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
    headers = ["recorded at", "claim", "patient", "NPI", "month", "codes", "why", "by"]
    table = [[f["recorded_at"], f["claim_id"], f["patient_id"], f["billing_provider_npi"], f["service_month"],
              f["codes"], f["reasons"], f["recorded_by"]] for f in flat]  # fmt: skip
    return render(headers, table, f"Refusal log: {len(rows)} refused claims")


def _json(rows: Sequence[msgspec.Struct]) -> str:
    return msgspec.json.format(msgspec.json.encode(list(rows)), indent=2).decode()


def csv_of(rows: list[dict[str, object]], fields: list[str]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().rstrip("\n")
