"""`carelane worklist`, `report`, `refusals`, `project` and `audit`: the read models."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import msgspec
from tqdm import tqdm

from adapters import followers, output, reads
from adapters.claim_index import ClaimIndex
from adapters.commands.base import Settings, fee_schedule, main, month_param, parse_instant
from adapters.ingest import fewer_collections
from adapters.store import analyse
from domain.ledger import Ledger
from domain.reasons import Reason
from domain.rules.assess import reprice
from projections import runner, views
from projections.report import report
from projections.runner import ViewDB


@main.command("worklist")
@click.option("--month", required=True, callback=month_param, help="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--provider", metavar="NPI", help="Only this billing practitioner's patients.")
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.option("--no-refresh", is_flag=True, help="Read the view as it is (on a replica, say).")
@click.pass_obj
def worklist_command(
    settings: Settings, month: str, fmt: str, provider: str | None, fees: str | None, no_refresh: bool
) -> None:
    """What can be billed for a month, what is held back and why, and what is claimed."""
    ledger = settings.ledger()
    rows = reads.worklist(ledger, settings.views(ledger), month, provider, refresh=not no_refresh)
    if fees is not None:
        schedule = fee_schedule(fees)
        rows = [reprice(row, schedule) for row in rows]
    settings.read(ledger, (row.patient_id for row in rows))
    click.echo(output.worklist(rows, fmt))


@main.command("report")
@click.option("--month", required=True, callback=month_param, help="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.pass_obj
def report_command(settings: Settings, month: str, fmt: str, fees: str | None) -> None:
    """Work RVUs and revenue per billing practitioner and program: claimed and still billable."""
    ledger = settings.ledger()
    patients = reads.patients(ledger, settings.views(ledger), month)
    click.echo(output.report(report(ledger, patients, month, fee_schedule(fees)), fmt))


@main.command("refusals")
@click.option("--month", callback=lambda c, p, v: None if v is None else month_param(c, p, v), help="YYYY-MM")
@click.option("--reason", metavar="CODE", help="Only refusals with this reason code.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.pass_obj
def refusals_command(settings: Settings, month: str | None, reason: str | None, fmt: str) -> None:
    """The refusal log: every refused claim, when, by whom and why."""
    if reason is not None and reason not in Reason.__members__:
        raise click.BadParameter(f"unknown reason code {reason!r}", param_hint="--reason")
    ledger = settings.ledger()
    rows = reads.refusals(ledger, settings.views(ledger), month, reason)
    settings.read(ledger, (row.patient_id for row in rows))
    click.echo(output.refusals(rows, fmt))


@main.command("project")
@click.option("--follow", is_flag=True, help="Keep the projections current until stopped (SIGINT/SIGTERM).")
@click.option("--rebuild", is_flag=True, help="Empty the views and build them again from the first event.")
@click.option(
    "--all-practices", "every", is_flag=True, help="One process per practice of the catalog, each on its own store."
)
@click.pass_obj
def project_command(settings: Settings, follow: bool, rebuild: bool, every: bool) -> None:
    """Bring every projection (worklist, refusal log, event index) up to date."""
    if every:
        sys.exit(followers.run_all(settings.catalog(), settings.home, follow=follow, rebuild=rebuild))
    ledger = settings.ledger()
    if isinstance(ledger.elsewhere, ClaimIndex) and (lost := ledger.elsewhere.reconcile(ledger)):
        click.echo(f"released {lost} cross-practice holds of claims not on file", err=True)
    db = settings.views(ledger)
    runner.create(db, views.ALL)
    if rebuild:
        runner.rebuild(db, views.ALL)
    total = ledger.recorder.max_notification_id() or 0
    with (
        tqdm(total=total, unit=" events", file=sys.stderr, disable=None, desc="projecting") as bar,
        fewer_collections(),
    ):
        applied = runner.catch_up(ledger, db, views.ALL, progress=lambda _name, n: bar.update(n))
    analyse(ledger)
    practice = settings.resolved.practice_id
    where = "" if practice is None else f"practice {practice}: "
    click.echo(where + ", ".join(f"{name}: {n} events" for name, n in applied.items()))
    if follow:
        _follow(ledger, db)


def _follow(ledger: Ledger, db: ViewDB) -> None:
    """`project --follow`: the views kept current, and lost cross-practice holds released,
    until SIGINT or SIGTERM."""
    import signal
    import threading

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("following the ledger; Ctrl-C to stop", err=True)
    reconciler = None
    if isinstance(ledger.elsewhere, ClaimIndex):
        reconciler = threading.Thread(target=ledger.elsewhere.keep_reconciled, args=(ledger, stop), daemon=True)
        reconciler.start()
    try:
        runner.follow(ledger, db, views.ALL, stop)
    finally:
        stop.set()
        if reconciler is not None:
            reconciler.join(timeout=30)
    click.echo("stopped", err=True)


@main.command("audit")
@click.argument("patient_id")
@click.option("--from", "first", required=True, callback=month_param, help="First month, YYYY-MM.")
@click.option("--to", "last", required=True, callback=month_param, help="Last month, YYYY-MM.")
@click.option("--as-of", "as_of", help="Replay what the ledger knew at this instant (ISO 8601 with offset).")
@click.option("--format", "fmt", type=click.Choice(["json", "html"]), default="json", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write to a file instead of stdout.")
@click.pass_obj
def audit_command(
    settings: Settings, patient_id: str, first: str, last: str, as_of: str | None, fmt: str, out: str | None
) -> None:
    """The record packet for an auditor: every fact and each claim's evidence as of its submission."""
    from adapters import audit_html
    from projections import audit

    if last < first:
        raise click.BadParameter("--to is before --from", param_hint="--to")
    instant = parse_instant(as_of, "--as-of")
    ledger = settings.ledger()
    try:
        packet = audit.packet(ledger, patient_id, first, last, instant)
    except audit.NotFound as e:
        raise click.ClickException(str(e)) from None
    except audit.FutureInstant as e:
        raise click.BadParameter(str(e), param_hint="--as-of") from None
    settings.read(ledger, [patient_id])
    if fmt == "html":
        text = audit_html.render(packet)
    else:
        text = msgspec.json.format(msgspec.json.encode(packet), indent=2).decode()
    if out:
        Path(out).write_text(text)
        click.echo(f"record packet for {patient_id} written to {out} (digest {packet.digest[:16]}...)")
    else:
        click.echo(text)
