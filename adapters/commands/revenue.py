"""`carelane receive` and `carelane denials`: the revenue cycle's answers coming back."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path

import click
import msgspec

from adapters import reads
from adapters.commands.base import Settings, fee_schedule, main, month_param
from adapters.output import csv_of
from projections.denials import DenialRow

WIDTH = 80


@main.command("receive")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def receive_command(settings: Settings, files: tuple[str, ...]) -> None:
    """Record X12 files from a clearinghouse or payer (999, 277CA, 835), told apart by their
    ST segment and validated with pyx12. A file received again records nothing. Exit 0 all
    recorded, 3 some answers not recorded (refused, or for claims not on file), 2 a file
    unreadable."""
    from adapters.receiving import receive
    from adapters.x12_in import Unreadable

    ledger = settings.ledger()
    failed = partly = False
    for name in files:
        try:
            text = Path(name).read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as e:
            click.echo(f"{name}: cannot be read ({type(e).__name__})", err=True)
            failed = True
            continue
        try:
            got = receive(ledger, text, name)
        except Unreadable as e:
            click.echo(f"{name}: {e}; nothing recorded", err=True)
            failed = True
            continue
        click.echo(_summary(got))
        for line in got.refused:
            click.echo(f"  not recorded: {line}", err=True)
        if got.refused or got.unknown:
            partly = True
            click.echo(f"  {name} is not kept as received: send it again once the above is settled", err=True)
    if failed:
        raise SystemExit(2)
    if partly:
        raise SystemExit(3)


def _summary(got: object) -> str:
    from adapters.receiving import Received

    assert isinstance(got, Received)
    if got.already:
        return f"{got.name}: {got.kind} {got.control} was received before; nothing recorded"
    head = f"{got.name}: {got.kind} {got.control}"
    if got.kind == "999":
        said = [f"batch {batch or '(unknown)'} {'accepted' if ok else 'REJECTED'}" for batch, ok in got.groups]
        rejected = " (its claims go out again on the next export)" if not all(ok for _, ok in got.groups) else ""
        head += ": " + ", ".join(said) + rejected
    parts = [f"{got.recorded} claim answers recorded"]
    if got.unchanged:
        parts.append(f"{got.unchanged} already on file")
    if got.unknown:
        parts.append(f"not on file: {', '.join(got.unknown[:10])}" + (" ..." if len(got.unknown) > 10 else ""))
    return head + "\n  " + "; ".join(parts)


@main.command("denials")
@click.option("--month", callback=lambda c, p, v: None if v is None else month_param(c, p, v),
              help="YYYY-MM: the service month (default: every month).")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.pass_obj
def denials_command(settings: Settings, month: str | None, fmt: str, fees: str | None) -> None:
    """Denied, partly paid, reversed and underpaid claims, with each payer code explained and
    what to do next."""
    from projections.denials import denials

    ledger = settings.ledger()
    db, schedule = settings.views(ledger), fee_schedule(fees)
    months = [month] if month else reads.months(ledger, db)
    rows = [row for m in months for row in denials(ledger, reads.patients(ledger, db, m, refresh=False), m, schedule)]
    settings.read(ledger, (row.patient_id for row in rows))
    click.echo(render_denials(rows, fmt, month or "every month"))


def render_denials(rows: Sequence[DenialRow], fmt: str, month: str) -> str:
    if fmt == "json":
        return msgspec.json.encode(list(rows)).decode()
    if fmt == "csv":
        flat: list[dict[str, object]] = [
            msgspec.structs.asdict(r)
            | {"adjustments": " ".join(f"{a.group}-{a.code}:{a.amount}" for a in r.adjustments),
               "remarks": " ".join(x.code for x in r.remarks)}
            for r in rows
        ]  # fmt: skip
        return csv_of(flat, list(DenialRow.__struct_fields__))
    if not rows:
        return f"No denied, partly paid, reversed or underpaid claims for {month}."
    out = [f"Denials and short payments, {month}: {len(rows)} claim{'s' if len(rows) != 1 else ''}", ""]
    for r in rows:
        out.append(f"{r.claim_id}  patient {r.patient_id}  {r.status}  paid {r.paid} of {r.expected}"
                   + (f"  short {r.underpaid}" if r.underpaid != "0.00" else ""))  # fmt: skip
        for a in r.adjustments:
            out += textwrap.wrap(f"{a.group}-{a.code} {a.amount}".rstrip() + f": {a.says}", WIDTH, initial_indent="  ",
                                 subsequent_indent="    ")  # fmt: skip
        for x in r.remarks:
            out += textwrap.wrap(f"{x.code}: {x.says}", WIDTH, initial_indent="  ", subsequent_indent="    ")
        out += textwrap.wrap(f"Next: {r.next_step}", WIDTH, initial_indent="  ", subsequent_indent="    ")
        out.append("")
    return "\n".join(out).rstrip()
