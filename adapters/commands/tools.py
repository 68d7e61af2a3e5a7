"""`carelane export-837`, `serve`, `keys`, `generate` and `demo`."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from adapters import reads
from adapters.commands.base import Settings, fee_schedule, main, month_param
from adapters.store import StoreError
from adapters.table import render
from adapters.viewdb import open_views


@main.command("export-837")
@click.option("--month", required=True, callback=month_param, help="YYYY-MM")
@click.option("--out", required=True, type=click.Path(dir_okay=False, writable=True), help="The X12 file to write.")
@click.option("--profile", type=click.Path(exists=True, dir_okay=False), help="Practice profile (JSON).")
@click.option("--patients", type=click.Path(exists=True, dir_okay=False), help="Patient names and addresses (CSV).")
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.option("--control", type=click.IntRange(1, 999_999_999), help="Interchange control number.")
@click.pass_obj
def export_837_command(
    settings: Settings, month: str, out: str, profile: str | None, patients: str | None, fees: str | None,
    control: int | None,
) -> None:  # fmt: skip
    """Write an X12 837P of the month's accepted, unpaid claims, checked with pyx12 first."""
    from adapters import x12

    try:
        practice, people = x12.load_profile(profile), x12.load_demographics(patients)
    except x12.ExportError as e:
        raise click.ClickException(str(e)) from None
    ledger = settings.ledger()
    claims = x12.claims_for(ledger, reads.patients(ledger, open_views(ledger, settings.db), month), month)
    if not claims:
        click.echo(f"No accepted, unpaid claims for {month}; nothing written.")
        return
    now = datetime.now().astimezone()
    text = x12.build(claims, fee_schedule(fees), practice, people, control or int(now.timestamp()) % 1_000_000_000, now)
    problems = x12.validate(text)
    if problems:
        raise click.ClickException("the 837P failed X12 validation; nothing written:\n  " + "\n  ".join(problems))
    Path(out).write_text(text)
    unnamed = len({c.patient.patient_id for c in claims} - set(people))
    click.echo(f"{len(claims)} claims written to {out} (pyx12: no errors)")
    if unnamed:
        click.echo(f"{unnamed} patients have no name on file; give --patients to name them", err=True)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.pass_obj
def serve_command(settings: Settings, host: str, port: int) -> None:
    """The HTTP API (OpenAPI at /schema) under uvicorn."""
    import uvicorn

    from adapters.http import create_app

    try:
        app = create_app(settings.db)
    except StoreError as e:
        raise click.ClickException(str(e)) from None
    from adapters.http_timeouts import HeaderTimeoutProtocol

    uvicorn.run(app, host=host, port=port, log_level="warning", http=HeaderTimeoutProtocol)


@main.group("keys")
def keys_group() -> None:
    """API keys for the HTTP API: add, list, revoke."""


def _keys(settings: Settings) -> Any:
    from adapters.keys import Keys

    ledger = settings.ledger()
    return Keys(open_views(ledger, settings.db))


@keys_group.command("add")
@click.option("--role", required=True, type=click.Choice(["recorder", "biller", "auditor", "compliance", "admin"]))
@click.option("--name", required=True, help="Who or what holds the key.")
@click.pass_obj
def keys_add(settings: Settings, role: str, name: str) -> None:
    """Create a key; it is printed once and stored only as a hash."""
    info, token = _keys(settings).add(name, role)
    click.echo(f"key {info.id} ({info.role}, {info.name}); keep it now, it is not shown again:")
    click.echo(token)


@keys_group.command("list")
@click.pass_obj
def keys_list(settings: Settings) -> None:
    """Every key's id, name, role and state (never the key)."""
    rows = [[k.id, k.name, k.role, k.created_at, k.revoked_at or "active"] for k in _keys(settings).all()]
    click.echo(render(["id", "name", "role", "created", "revoked"], rows, "API keys"))


@keys_group.command("revoke")
@click.argument("key_id")
@click.pass_obj
def keys_revoke(settings: Settings, key_id: str) -> None:
    """Revoke a key by id; requests with it get 401 from then on."""
    if not _keys(settings).revoke(key_id):
        raise click.ClickException(f"no active key {key_id}")
    click.echo(f"key {key_id} revoked")


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
