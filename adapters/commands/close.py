"""`carelane close`: close a month (what was billed, signed with the practice's key), re-open
it with a reason, list its closes and the facts recorded after them, or make a key."""

from __future__ import annotations

import getpass
from collections import Counter
from pathlib import Path

import click
import msgspec

from adapters import reads
from adapters.closing import CloseRecord
from adapters.commands.base import Settings, fee_schedule, main, month_param
from adapters.table import render
from domain.ledger import Ledger
from projections.after_close import AfterClose


def _by() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in some containers
        return "cli"


@main.command("close")
@click.option("--month", callback=lambda c, p, v: None if v is None else month_param(c, p, v), help="YYYY-MM")
@click.option(
    "--key", "key_file", metavar="FILE", help="The practice's Ed25519 private key (default $CARELANE_CLOSE_KEY)."
)
@click.option("--reopen", is_flag=True, help="Re-open the closed month (needs --reason).")
@click.option("--reason", help="Why the month is re-opened; kept with the re-open.")
@click.option("--show", is_flag=True, help="List the month's closes, re-opens and facts after close; change nothing.")
@click.option("--new-key", "new_key", metavar="FILE", help="Write a new Ed25519 private key to FILE (0600) and stop.")
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.pass_obj
def close_command(settings: Settings, month: str | None, key_file: str | None, reopen: bool, reason: str | None,
                  show: bool, new_key: str | None, fees: str | None, fmt: str) -> None:  # fmt: skip
    """Close a month: the claims billed and the totals by program, with the hash chain's tip,
    signed with the practice's key. Facts recorded later for the month are accepted and
    flagged "after close". A re-open is recorded with its reason; the month can be closed again."""
    from adapters import closing
    from domain.decisions.closing import CloseRefused

    if new_key is not None:
        try:
            public = closing.new_key(Path(new_key))
        except closing.KeyProblem as e:
            raise click.ClickException(str(e)) from None
        click.echo(f"wrote an Ed25519 private key to {new_key} (readable by you only); keep it out of the database")
        click.echo(f"public key: {public}")
        click.echo(f"(where `carelane verify` runs, list it in ${closing.TRUSTED_ENV})")
        return
    if month is None:
        raise click.UsageError("give --month YYYY-MM (or --new-key FILE)")
    if reopen != (reason is not None):
        raise click.UsageError("--reopen and --reason go together")
    ledger = settings.ledger()
    if show:
        _show(ledger, settings, month, fmt)
        return
    try:
        if reopen:
            assert reason is not None
            closing.reopen(ledger, month, reason, _by())
            click.echo(f"re-opened {month}; close it again with `carelane close --month {month}`")
            return
        key = closing.load_key(closing.key_path(key_file))
        db = settings.views(ledger)
        done = closing.close(ledger, lambda m: reads.patients(ledger, db, m), month, key, fee_schedule(fees), _by())
    except (closing.KeyProblem, CloseRefused) as e:
        raise click.ClickException(str(e)) from None
    record = closing.CloseRecord(done.content, done.signature, True)
    click.echo(msgspec.json.encode(record).decode() if fmt == "json" else summary(record))


def summary(record: CloseRecord) -> str:
    c = record.content
    statuses = Counter(claim.status for claim in c.claims)
    out = [
        f"{c.month} closed (close {c.sequence}) at {c.closed_at} by {c.closed_by}",
        f"chain position {c.chain_position}, hash {c.chain_hash[:16]}...",
        f"signed with Ed25519 key {c.public_key[:16]}...: signature {'verifies' if record.signature_ok else 'FAILS'}",
        f"claims: {len(c.claims)}"
        + (f" ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))})" if c.claims else ""),
    ]
    if record.reopened_at:
        out.append(f"re-opened {record.reopened_at} by {record.reopened_by}: {record.reopen_reason}")
    if c.totals:
        out += [
            "",
            render(["program", "claimed"], sorted(c.totals.items()), title=f"Claimed, priced by {c.fee_schedule}"),
        ]
    return "\n".join(out)


def _show(ledger: Ledger, settings: Settings, month: str, fmt: str) -> None:
    from adapters import closing
    from projections.after_close import after_close

    db = reads.ready(ledger, settings.views(ledger))
    closes, later = closing.history(ledger, month), after_close(ledger, db, month)
    settings.read(ledger, [*(c.patient_id for r in closes for c in r.content.claims), *(r.patient_id for r in later)])
    if fmt == "json":
        click.echo(msgspec.json.encode({"month": month, "closes": closes, "after_close": later}).decode())
        return
    if not closes:
        click.echo(f"{month} has never been closed")
        return
    click.echo("\n\n".join(summary(r) for r in closes))
    click.echo("\n" + after_close_table(later, month))


def after_close_table(rows: list[AfterClose], month: str) -> str:
    if not rows:
        return f"No facts for {month} were recorded after a close."
    table = [[r.position, r.type, r.patient_id, r.happened or "", r.recorded_at[:19], r.close] for r in rows]
    headers = ["position", "type", "patient", "happened", "recorded", "close"]
    return render(headers, table, title=f"Recorded after close, {month}: {len(rows)} facts")
