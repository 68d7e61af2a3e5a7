"""`carelane pace`: who will miss a threshold at the present pace, and renewals coming due
(initiating visit, consent, QMB); shown, written to a file, or pushed to a URL."""

from __future__ import annotations

import os
import textwrap
from datetime import date

import click
import msgspec

from adapters import reads
from adapters.commands.base import Settings, fee_schedule, main, month_param
from adapters.output import csv_of
from adapters.table import render
from projections.pace import RENEWALS_WITHIN, PaceReport, PaceRow

WIDTH = 80
SHORT_UNIT = {"minutes": "min", "days": "days"}
CSV_FIELDS = ["section", "patient_id", "program", "item", "status", "due_on", "days_left", "have", "need", "unit",
              "projected", "per_day", "why", "detail", "action"]  # fmt: skip


def _day(_: click.Context, __: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD, got {value!r}") from None


@main.command("pace")
@click.option("--month", required=True, callback=month_param, help="YYYY-MM")
@click.option(
    "--as-of",
    "as_of",
    callback=_day,
    metavar="YYYY-MM-DD",
    help="The day to judge the pace on (default: today in the practice's time zone), kept in the month.",
)
@click.option(
    "--within",
    type=click.IntRange(0, 366),
    default=RENEWALS_WITHIN,
    show_default=True,
    help="List renewals due up to this many days after --as-of.",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.option("--out", type=click.Path(dir_okay=False), help="Write the report as JSON to this file.")
@click.option("--push", "push_url", metavar="URL", help="POST the report as JSON to this https URL.")
@click.option("--allow-http", is_flag=True, help="Let --push use plain http to another host (it names patients).")
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 300),
    default=10.0,
    show_default=True,
    help="Seconds --push waits to connect and for the answer.",
)
@click.pass_obj
def pace_command(settings: Settings, month: str, as_of: date | None, within: int, fmt: str, fees: str | None,
                 out: str | None, push_url: str | None, allow_http: bool, timeout: float) -> None:  # fmt: skip
    """Who will miss a time or device-day threshold at the present pace (linear: so far /
    days elapsed x days in the period), and renewals coming due: initiating visits, consents
    revoked or incomplete, QMB status ending. Flagged rows come first."""
    from adapters.push import PushError, push, target
    from projections.pace import pace_report, today

    if out and push_url:
        raise click.UsageError("give --out or --push, not both")
    try:
        shown = target(push_url, allow_http) if push_url else ""  # refused before anything is read
    except PushError as e:
        raise click.ClickException(str(e)) from None
    ledger = settings.ledger()
    patients = reads.patients(ledger, settings.views(ledger), month)
    day = as_of or today(ledger.policy)
    report = pace_report(ledger, patients, month, day, fee_schedule(fees), within)
    settings.read(ledger, [*(r.patient_id for r in report.pace), *(r.patient_id for r in report.renewals)])
    if out is None and push_url is None:
        click.echo(render_pace(report, fmt))
        return
    body = msgspec.json.encode(report)
    if out is not None:
        _write(out, body)
        click.echo(f"{summary(report)}; written to {out}")
        return
    assert push_url is not None
    try:
        status = push(push_url, body, allow_http=allow_http, timeout=timeout)
    except PushError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{summary(report)}; pushed to {shown} (HTTP {status})")


def _write(path: str, body: bytes) -> None:
    """Readable by its owner only: the report names patients."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(body + b"\n")
    except OSError as e:
        raise click.ClickException(f"{path}: cannot be written ({e.strerror or type(e).__name__})") from None


def summary(report: PaceReport) -> str:
    flagged = sum(r.flagged for r in report.pace)
    return (f"Pace {report.month} as of {report.as_of}: {flagged} of {len(report.pace)} thresholds will be missed at "
            f"the present pace; {len(report.renewals)} renewals due by {report.renewals_through}")  # fmt: skip


def render_pace(report: PaceReport, fmt: str) -> str:
    if fmt == "json":
        return msgspec.json.format(msgspec.json.encode(report), indent=2).decode()
    if fmt == "csv":
        return csv_of(_flat(report), CSV_FIELDS)
    lines = textwrap.wrap(summary(report) + ".", WIDTH)
    if report.pace:
        lines += ["", _pace_table(report.pace)]
    lines += ["", *_renewal_lines(report)]
    return "\n".join(lines).rstrip()


def _pace_table(rows: list[PaceRow]) -> str:
    """At most 80 columns for the usual ids: the period's end and the fee are in the JSON."""
    headers = ["patient", "code", "so far", "days left", "at pace", "per day", "status"]
    table = [
        [r.patient_id, r.code, f"{r.have}/{r.need} {SHORT_UNIT.get(r.unit, r.unit)}", r.days_left,
         "" if r.projected is None else r.projected, r.per_day or "", r.status.upper() if r.flagged else r.status]
        for r in rows
    ]  # fmt: skip
    return render(headers, table)


def _renewal_lines(report: PaceReport) -> list[str]:
    if not report.renewals:
        return [f"No renewals due by {report.renewals_through}."]
    out = [f"Renewals due by {report.renewals_through}: {len(report.renewals)}"]
    for r in report.renewals:
        when = f"{-r.days_until} days overdue" if r.days_until < 0 else f"due in {r.days_until} days"
        what = " ".join(x for x in (r.program, r.kind.replace("_", " ")) if x)
        out += textwrap.wrap(f"{r.due_on}  {r.patient_id}  {what} ({r.rule}), {when}", WIDTH)
        out += textwrap.wrap(r.detail, WIDTH, initial_indent="  ", subsequent_indent="    ")
        out += textwrap.wrap(f"Next: {r.action}", WIDTH, initial_indent="  ", subsequent_indent="    ")
    return out


def _flat(report: PaceReport) -> list[dict[str, object]]:
    """One CSV row per pace row and per renewal, in shared columns."""
    rows: list[dict[str, object]] = [
        {"section": "pace", "patient_id": r.patient_id, "program": r.program, "item": r.code, "status": r.status,
         "due_on": r.period_end, "days_left": r.days_left, "have": r.have, "need": r.need, "unit": r.unit,
         "projected": r.projected, "per_day": r.per_day, "why": r.reason, "detail": r.detail, "action": ""}
        for r in report.pace
    ]  # fmt: skip
    rows += [
        {"section": "renewal", "patient_id": r.patient_id, "program": r.program or "", "item": r.kind,
         "status": r.status, "due_on": r.due_on, "days_left": r.days_until, "have": "", "need": "", "unit": "",
         "projected": "", "per_day": "", "why": r.rule, "detail": r.detail, "action": r.action}
        for r in report.renewals
    ]  # fmt: skip
    return rows
