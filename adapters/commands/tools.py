"""`carelane export-837`, `serve`, `keys`, `generate` and `demo`."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import click

from adapters import output, reads
from adapters.commands.base import Settings, fee_schedule, main, month_param
from adapters.store import StoreError
from adapters.table import render
from adapters.tenants import TenantError


@main.command("export-837")
@click.option(
    "--month", callback=lambda c, p, v: None if v is None else month_param(c, p, v), help="YYYY-MM: the service month."
)
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="The X12 file to write.")
@click.option("--production", is_flag=True, help="Mark the file for production (ISA15 P); test (T) otherwise.")
@click.option("--resend", "resend", metavar="BATCH", help="Write a recorded batch again, byte for byte.")
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.option("--control", type=click.IntRange(1, 999_999_999), help="ISA13 (default: the next free one).")
@click.pass_obj
def export_837_command(
    settings: Settings, month: str | None, out: str, production: bool, resend: str | None,
    fees: str | None, control: int | None,
) -> None:  # fmt: skip
    """Write an X12 837P of the month's due claims, validated with pyx12, and record the
    batch: each claim goes out once (a rejected claim again, a void as frequency 8)."""
    from adapters import exporting

    _writable(out)  # before anything is recorded: a batch recorded but never written is lost
    ledger = settings.ledger()
    try:
        if resend is not None:
            kept = exporting.batch(ledger, resend)
            Path(out).write_text(kept.text)
            settings.read(ledger, (c.patient_id for c in kept.claims))
            click.echo(
                f"Batch {kept.batch_id} ({len(kept.claims)} claims, control {kept.control}) written again to {out}"
            )
            return
        if month is None:
            raise click.UsageError("give --month (or --resend BATCH)")
        patients = reads.patients(ledger, settings.views(ledger), month)
        done = exporting.export(ledger, patients, month, fee_schedule(fees), practice_id=settings.practice,
                                production=production, control=control)  # fmt: skip
    except exporting.ExportRefused as e:
        problems = [output.wrapped(f"  {problem}", "      ") for problem in dict.fromkeys(e.problems)]
        raise click.ClickException("\n".join(["no 837P was written; complete these first:", *problems])) from None
    if done is None:
        click.echo(f"No claims are due for {month}; nothing written.")
        return
    Path(out).write_text(done.text)
    settings.read(ledger, patients)  # as over HTTP: the month's patients the file was made from
    voids = f" and {done.voids} voids" if done.voids else ""
    click.echo(f"Batch {done.batch_id}: {done.claims} claims{voids} written to {out} (pyx12: no errors)")
    click.echo(_kind_of_file(production))


def _kind_of_file(production: bool) -> str:
    if production:
        return "Production file (ISA15 P): its claims are now exported."
    said = "Test file (ISA15 T): its claims stay due; --production makes the file to send for payment."
    return output.wrapped(said, "")


def _writable(out: str) -> None:
    path = Path(out)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir() or not os.access(folder, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise click.ClickException(f"{out}: cannot be written (no such folder, or no permission)")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
def serve_command(settings: Settings, host: str, port: int) -> None:
    """The HTTP API (OpenAPI at /schema) under uvicorn."""
    import uvicorn

    from adapters.http import create_app

    try:
        app = create_app(settings.home, settings.practice)
    except (StoreError, TenantError) as e:
        raise click.ClickException(str(e)) from None
    from adapters.http_timeouts import HeaderTimeoutProtocol

    click.echo(f"Carelane on http://{host}:{port} (workbench /app, API /schema); Ctrl-C stops", err=True)
    if not os.environ.get("CARELANE_CIPHER_KEY"):  # fine on a laptop, not where PHI is kept
        click.echo("note: facts are stored unencrypted (CARELANE_CIPHER_KEY is not set)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", http=HeaderTimeoutProtocol)


@main.group("keys")
def keys_group() -> None:
    """API keys for the HTTP API: add, list, revoke."""


def _keys(settings: Settings) -> Any:
    from adapters.keys import Keys

    ledger = settings.ledger()
    return Keys(settings.views(ledger))


@keys_group.command("add")
@click.option("--role", required=True, type=click.Choice(["recorder", "biller", "auditor", "compliance", "admin"]))
@click.option("--name", required=True, help="Who or what holds the key.")
@click.option(
    "--practices",
    metavar="ID,ID|all",
    help="A billing company's key for these practices (or all of them); default: the --practice's own key.",
)
@click.pass_obj
def keys_add(settings: Settings, role: str, name: str, practices: str | None) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    if practices is not None:
        info, token = _spanning_key(settings, name, role, practices)
    else:
        info, token = _keys(settings).add(name, role)
        practice = settings.resolved.practice_id
        catalog = settings.catalog() if practice is not None else None
        if catalog is not None and practice is not None:
            catalog.note_key(info.id, practice)  # so its use on another practice is a 403
    click.echo(f"key {info.id} ({info.role}, {info.name}); keep it now, it is not shown again:")
    click.echo(token)


def _spanning_key(settings: Settings, name: str, role: str, practices: str) -> Any:
    from adapters.tenant_keys import SpanningKeys

    catalog = settings.catalog()
    if catalog is None:
        raise click.ClickException("--practices needs practices: add them with `carelane practices add FILE`")
    known = {t.practice_id for t in catalog.tenants()}
    wanted = None if practices == "all" else [p.strip() for p in practices.split(",") if p.strip()]
    unknown = sorted(set(wanted or ()) - known)
    if unknown or wanted == []:
        raise click.ClickException(f"UNKNOWN_PRACTICE: {', '.join(unknown) or '(none named)'}")
    return SpanningKeys(catalog.db).add_for(name, role, wanted)


@keys_group.command("list")
@click.pass_obj
def keys_list(settings: Settings) -> None:
    """Every key's id, name, role and state (never the key); with practices, the billing
    company's keys too, with the practices each reaches."""
    rows = [[k.id, k.name, k.role, k.created_at, k.revoked_at or "active", "this one"] for k in _keys(settings).all()]
    spanning = _spanning(settings)
    if spanning is not None:
        rows += [[k.id, k.name, k.role, k.created_at, k.revoked_at or "active",
                  ", ".join(sorted(spanning.scope(k.id)))] for k in spanning.all()]  # fmt: skip
    click.echo(render(["id", "name", "role", "created", "revoked", "practices"], rows, "API keys"))


@keys_group.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(settings: Settings, key_id: str) -> None:
    """Revoke a key by id (the practice's own, or a billing company's); requests with it
    get 401 from then on."""
    spanning = _spanning(settings)
    if not _keys(settings).revoke(key_id) and (spanning is None or not spanning.revoke(key_id)):
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"key {key_id} revoked")


def _spanning(settings: Settings) -> Any:
    from adapters.tenant_keys import SpanningKeys

    catalog = settings.catalog()
    return None if catalog is None else SpanningKeys(catalog.db)


@main.command("generate")
@click.option("--patients", type=click.IntRange(1, 1_000_000), required=True)
@click.option("--months", type=click.IntRange(1, 36), default=2, show_default=True)
@click.option("--seed", default=7, show_default=True)
@click.option("--end", "end", callback=lambda c, p, v: None if v is None else month_param(c, p, v),
              help="Last month (YYYY-MM); default the last full month.")  # fmt: skip
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True))
def generate_command(patients: int, months: int, seed: int, end: str | None, out: str) -> None:
    """Write a deterministic synthetic practice as NDJSON (CCM tiers, PCM, APCM, RPM/RTM with
    device days, BHI, CoCM, CPM, TCM, facility stays, voids, and lines the rules must refuse)."""
    from adapters import synthetic

    span = synthetic.months_ending(end or synthetic.last_full_month(date.today()), months)
    count = synthetic.write(out, patients, span, seed)
    click.echo(f"{count} facts for {patients} patients, {span[0]} to {span[-1]}, written to {out}")


@main.command("demo")
@click.option("--patients", default=36, show_default=True, help="Patients in the synthetic practice.")
@click.option("--seed", default=7, show_default=True)
@click.pass_obj
def demo_command(settings: Settings, patients: int, seed: int) -> None:
    """Build a synthetic practice on a fresh embedded store and show what the ledger did."""
    from adapters import demo

    url = settings.db or os.environ.get("CARELANE_DEMO_DB") or "sqlite:///carelane-demo.db"
    demo.run(url, patients=patients, seed=seed, echo=click.echo)


if __name__ == "__main__":
    main()
