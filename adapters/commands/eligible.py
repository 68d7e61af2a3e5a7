"""`carelane eligible` (who qualifies for a program they are not enrolled in, and what it
would bring) and `carelane forecast` (monthly and annual revenue and work RVUs of a panel)."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import click
import msgspec

from adapters import reads
from adapters.commands.base import Settings, fee_schedule, main, month_param
from adapters.output import csv_of
from adapters.table import render
from domain.ledger import Ledger
from projections.eligible import Offer, candidates, eligible
from projections.forecast import (
    Forecast,
    PanelError,
    PanelLine,
    forecast,
    panel_from_csv,
    panel_from_json,
    record_panel,
)
from projections.runner import ViewDB

WIDTH = 80
FORMATS = click.Choice(["table", "json", "csv"])


def patients_of(ledger: Ledger, db: ViewDB, month: str, refresh: bool = True) -> list[str]:
    """Patients with activity in the month or a condition, device or discharge on record."""
    reads.ready(ledger, db, refresh)
    with db.reading() as cur:
        return candidates(cur, month)


@main.command("eligible")
@click.option("--month", required=True, callback=month_param, help="YYYY-MM")
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.option("--no-refresh", is_flag=True, help="Read the views as they are (on a replica, say).")
@click.pass_obj
def eligible_command(settings: Settings, month: str, fmt: str, fees: str | None, no_refresh: bool) -> None:
    """Patients who qualify for a program they are not enrolled in (no consent for it), why
    (by code), what is missing to start, and the month's revenue at the starting codes."""
    ledger = settings.ledger()
    patients = patients_of(ledger, settings.views(ledger), month, refresh=not no_refresh)
    offers = eligible(ledger, patients, month, fee_schedule(fees))
    settings.read(ledger, (offer.patient_id for offer in offers))
    click.echo(render_offers(offers, fmt, month))


def render_offers(rows: Sequence[Offer], fmt: str, month: str) -> str:
    if fmt == "json":
        return msgspec.json.encode(list(rows)).decode()
    if fmt == "csv":
        flat: list[dict[str, object]] = [
            msgspec.structs.asdict(r) | {k: "; ".join(getattr(r, k)) for k in ("codes", "why", "missing")} for r in rows
        ]
        return csv_of(flat, list(Offer.__struct_fields__))
    if not rows:
        return f"No patient qualifies for a program they are not enrolled in, {month}."
    best = sum((Decimal(r.monthly) for r in rows if r.best), Decimal(0))
    people = len({r.patient_id for r in rows})
    head = (
        f"Eligible, {month}: {len(rows)} offers for {people} patients; ${best:,.2f} a month at the best offer "
        f"of each program group (fees: {rows[0].fee_schedule})"
    )
    out = [*textwrap.wrap(head, WIDTH), ""]
    for r in rows:
        alt = "" if r.best else "  (alternative: one of its group a month)"
        out.append(f"{r.patient_id}  {r.program} {'+'.join(r.codes)}  ${r.monthly}/month{alt}")
        out += _wrapped("why: " + ", ".join(r.why))
        out += _wrapped("to start: " + (", ".join(r.missing) or "nothing on record is missing"))
        if r.warning:
            out += _wrapped("warning: " + r.warning)
    return "\n".join(out)


def _wrapped(text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent="    ", subsequent_indent="      ")


@main.command("forecast")
@click.option("--month", callback=lambda c, p, v: None if v is None else month_param(c, p, v), help="YYYY-MM")
@click.option("--panel", type=click.Path(exists=True, dir_okay=False), help="Counts typed in: JSON or CSV.")
@click.option("--engagement", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="Share of eligible patients enrolled and billed each month (panel on record).")  # fmt: skip
@click.option("--format", "fmt", type=FORMATS, default="table", show_default=True)
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.pass_obj
def forecast_command(
    settings: Settings, month: str | None, panel: str | None, engagement: float, fmt: str, fees: str | None
) -> None:
    """Monthly and annual revenue by program and code, and work RVUs per practitioner: of the
    panel on record for --month (billable, claimed, and eligible patients' best offers), or
    of counts typed in (--panel: code, patients, and optionally units, engagement,
    practitioner, program per line). The assumptions are printed with the figures."""
    if (month is None) == (panel is None):
        raise click.UsageError("give --month (the panel on record) or --panel FILE (counts typed in)")
    schedule = fee_schedule(fees)
    try:
        if panel is not None:
            lines, basis = _typed_panel(panel), f"Panel typed in: {Path(panel).name}."
        else:
            assert month is not None
            ledger = settings.ledger()
            patients = patients_of(ledger, settings.views(ledger), month)
            rate = Decimal(str(engagement))
            lines, basis = record_panel(ledger.month_views_of(patients, month), schedule, rate,
                                         ledger.elsewhere, ledger.policy)  # fmt: skip
        result = forecast(lines, schedule, [basis])
    except PanelError as e:
        raise click.ClickException(str(e)) from None
    click.echo(render_forecast(result, fmt))


def _typed_panel(path: str) -> list[PanelLine]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise PanelError(f"{Path(path).name}: cannot be read ({type(e).__name__})") from None
    return panel_from_json(text) if text.lstrip()[:1] in ("{", "[") else panel_from_csv(text)


def render_forecast(result: Forecast, fmt: str) -> str:
    if fmt == "json":
        return msgspec.json.encode(result).decode()
    if fmt == "csv":
        rows = [msgspec.structs.asdict(x) for x in result.lines]
        return csv_of(rows, list(rows[0]) if rows else ["program"])
    # Annual revenue per code is in --format json/csv; the terminal keeps to 80 columns.
    headers = ["program code", "source", "patients", "engaged", "units", "$/month", "$/year"]
    body = [[f"{x.program} {x.code}", x.source, x.patients, x.engagement, x.units, x.monthly, x.annual]
            for x in result.lines]  # fmt: skip
    out = [render(headers, body, f"Revenue forecast (fees: {result.fee_schedule})"), ""]
    totals = [[t.name, t.monthly, t.annual, t.monthly_rvus, t.annual_rvus] for t in result.programs]
    totals.append([result.total.name, result.total.monthly, result.total.annual, result.total.monthly_rvus,
                   result.total.annual_rvus])  # fmt: skip
    out += [render(["program", "monthly $", "annual $", "wRVU/mo", "wRVU/yr"], totals, "By program"), ""]
    people = [[t.name, t.monthly_rvus, t.annual_rvus, t.monthly, t.annual] for t in result.practitioners]
    out += [
        render(["practitioner", "wRVU/mo", "wRVU/yr", "monthly $", "annual $"], people, "Work RVUs by practitioner")
    ]
    out += ["", "Assumptions:"]
    for line in result.assumptions:
        out += textwrap.wrap(line, WIDTH, initial_indent="  - ", subsequent_indent="    ")
    return "\n".join(out)
