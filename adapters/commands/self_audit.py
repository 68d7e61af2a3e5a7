"""`carelane self-audit`: the checks a federal auditor runs, over every claim on record in a
range of months (gated by the ledger, or historical ones read from 837P or CSV files), with
the money at stake and the 60-day deadlines; as a table, JSON, CSV or a printable page."""

from __future__ import annotations

import textwrap
from html import escape

import click
import msgspec

from adapters import historical as history, reads
from adapters.commands.base import Settings, fee_schedule, main, month_param
from adapters.output import csv_of
from adapters.table import render
from domain.month import Month
from projections.self_audit import Finding, HistoricalClaim, SelfAudit, run

WIDTH = 80
MAX_MONTHS = 120  # overpayments look back six years; ten is plenty, and bounds the work
CSV_FIELDS = ["rule", "reason", "claim_id", "source", "patient_id", "month", "codes", "amount", "basis", "related",
              "identified_on", "report_by", "detail"]  # fmt: skip
SIXTY_DAYS = ("An overpayment must be reported and returned within 60 days of being identified; "
              "a claim the ledger found unsupported (G-16) keeps the date it set then.")  # fmt: skip


@main.command("self-audit")
@click.option("--from", "first", required=True, callback=month_param, help="YYYY-MM: the first service month.")
@click.option("--to", "last", required=True, callback=month_param, help="YYYY-MM: the last service month.")
@click.option(
    "--historical",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Claims billed outside the ledger: an 837P or a CSV (repeatable). Read, never recorded.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json", "csv", "html"]), default="table", show_default=True
)
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.pass_obj
def self_audit_command(settings: Settings, first: str, last: str, files: tuple[str, ...], fmt: str,
                       fees: str | None) -> None:  # fmt: skip
    """Duplicates, overlapping care management, add-ons on an overpaid base, too few chronic
    conditions, missing consent or initiating visit, minutes short of a threshold and
    unsupported claims: each with its rule, the money at stake and the date to report and
    return it by."""
    if last < first:
        raise click.BadParameter("the last month is before the first", param_hint="--to")
    if len(Month(first).through(last)) > MAX_MONTHS:
        raise click.BadParameter(f"at most {MAX_MONTHS} months at a time", param_hint="--to")
    claims: list[HistoricalClaim] = []
    for name in files:
        try:
            claims += history.read(name)
        except history.HistoryError as e:
            raise click.ClickException(f"{e}; nothing was audited") from None
    schedule = fee_schedule(fees)
    ledger = settings.ledger()
    db = reads.ready(ledger, settings.views(ledger))
    result = run(ledger, first, last, lambda month: reads.patients(ledger, db, month, refresh=False), claims, schedule)
    settings.read(ledger, [*(f.patient_id for f in result.findings), *(x.patient_id for x in result.not_judged)])
    click.echo(rendered(result, fmt))


def rendered(audit: SelfAudit, fmt: str) -> str:
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(audit), indent=2).decode()
    if fmt == "csv":
        return csv_of([_flat(f) for f in audit.findings], CSV_FIELDS)
    if fmt == "html":
        return page(audit)
    return table(audit)


def _codes(f: Finding) -> str:
    return " ".join(f"{c.code}" + (f" x{c.units}" if c.units != 1 else "") for c in f.codes)


def _flat(f: Finding) -> dict[str, object]:
    basis = "; ".join(dict.fromkeys(c.basis for c in f.codes))
    return {"rule": f.rule, "reason": f.reason, "claim_id": f.claim_id, "source": f.source, "patient_id": f.patient_id,
            "month": f.month, "codes": _codes(f), "amount": f.amount, "basis": basis, "related": "; ".join(f.related),
            "identified_on": f.identified_on, "report_by": f.report_by, "detail": f.detail}  # fmt: skip


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "~"


def _summary(audit: SelfAudit) -> list[str]:
    s = "s" if len(audit.findings) != 1 else ""
    lines = [f"Self-audit {audit.first_month} to {audit.last_month}: {audit.claims} claims checked "
             f"({audit.historical} historical); {len(audit.findings)} finding{s}, ${audit.amount} at stake; "
             f"identified {audit.identified_on}; fees: {audit.fee_schedule}."]  # fmt: skip
    return textwrap.wrap(lines[0], WIDTH)


def table(audit: SelfAudit) -> str:
    """Findings as a table at 80 columns, then each one's codes, amount and why, wrapped."""
    out = [*_summary(audit), ""]
    if not audit.findings:
        out.append("No findings.")
    else:
        rows = [[n, f.rule, _cut(f.claim_id, 14), _cut(f.patient_id, 12), f.month, f.amount, f.report_by]
                for n, f in enumerate(audit.findings, start=1)]  # fmt: skip
        out.append(render(["#", "rule", "claim", "patient", "month", "at stake", "report by"], rows))
        out.append("")
        for n, f in enumerate(audit.findings, start=1):
            basis = ", ".join(dict.fromkeys(c.basis for c in f.codes))
            text = f"{n}. {f.reason} {_codes(f)} ${f.amount} ({basis}), claim {f.claim_id} ({f.source}): {f.detail}"
            out += textwrap.wrap(text, WIDTH, subsequent_indent="   ")
    if audit.not_judged:
        out += ["", "Not judged (the record they need is not on the ledger):"]
        groups: dict[tuple[str, str], list[str]] = {}
        for x in audit.not_judged:
            groups.setdefault((", ".join(x.checks), x.why), []).append(f"{x.claim_id} ({x.source})")
        for (checks, why), claims in groups.items():
            text = f"{checks}: {why}: {', '.join(claims)}"
            out += textwrap.wrap(text, WIDTH, initial_indent="  ", subsequent_indent="    ")
    if audit.already_on_ledger:
        text = "Historical claims that are the ledger's own (judged as such): " + ", ".join(audit.already_on_ledger)
        out += ["", *textwrap.wrap(text, WIDTH)]
    return "\n".join([*out, "", *textwrap.wrap(SIXTY_DAYS, WIDTH)])


STYLE = """
body { font: 11pt/1.4 Georgia, serif; margin: 2em; color: #111; }
h1 { font-size: 16pt; } h2 { font-size: 13pt; border-bottom: 1px solid #444; margin-top: 1.6em; }
table { border-collapse: collapse; width: 100%; font-size: 9.5pt; }
th, td { border: 1px solid #999; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #eee; } tr { page-break-inside: avoid; } td.n { text-align: right; white-space: nowrap; }
.meta { color: #444; font-size: 9.5pt; } @media print { body { margin: 0; } }
"""


def page(audit: SelfAudit) -> str:
    """A printable page: escaped throughout, no scripts, no external assets."""
    rows = [[f.rule, f.reason, f"{f.claim_id} ({f.source})", f.patient_id, f.month, _codes(f), f.amount,
             f.report_by, f.detail + (f" Related: {'; '.join(f.related)}." if f.related else "")]
            for f in audit.findings]  # fmt: skip
    heads = ["rule", "reason", "claim", "patient", "month", "codes", "at stake ($)", "report by", "why"]
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Self-audit {escape(audit.first_month)} to {escape(audit.last_month)}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>Self-audit: service months {escape(audit.first_month)} to {escape(audit.last_month)}</h1>",
        f"<p class='meta'>{escape(' '.join(_summary(audit)))}</p>",
        "<h2>Findings</h2>",
        _table(heads, rows, numeric={6}) if rows else "<p>No findings.</p>",
    ]
    if audit.not_judged:
        judged = [[f"{x.claim_id} ({x.source})", x.patient_id, x.month, ", ".join(x.checks), x.why]
                  for x in audit.not_judged]  # fmt: skip
        parts += ["<h2>Not judged</h2>", _table(["claim", "patient", "month", "checks", "why"], judged)]
    if audit.already_on_ledger:
        parts += ["<h2>Historical claims that are the ledger's own</h2>",
                  f"<p>{escape(', '.join(audit.already_on_ledger))}</p>"]  # fmt: skip
    parts += [f"<p class='meta'>{escape(SIXTY_DAYS)}</p>", "</body></html>"]
    return "\n".join(parts)


def _table(heads: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in heads)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=n' if numeric and i in numeric else ''}>{escape(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )  # fmt: skip
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
