"""`carelane events`, `digest` and `verify`: the event stream and the hash chain."""

from __future__ import annotations

import os
import sys
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from pathlib import Path

import click
import msgspec

from adapters import output, reads
from adapters.commands.base import Settings, main, parse_day, parse_instant
from adapters.store import store_url
from adapters.table import render
from domain import facts


@main.command("events")
@click.option("--patient", help="Only this patient's facts.")
@click.option(
    "--type", "types", multiple=True, type=click.Choice(sorted(facts.FACT_TYPE_NAMES)), help="Fact type; repeat."
)
@click.option("--from", "first", help="Facts that happened on or after this date (YYYY-MM-DD or YYYY-MM).")
@click.option("--to", "last", help="Facts that happened on or before this date (YYYY-MM-DD or YYYY-MM).")
@click.option("--recorded-after", help="Facts recorded after this instant (ISO 8601 with offset).")
@click.option("--late", is_flag=True, help="Only facts recorded late, or after a claim they count toward.")
@click.option("--no-refresh", is_flag=True, help="Read the event index as it is (on a replica, say).")
@click.pass_obj
def events_command(
    settings: Settings,
    patient: str | None,
    types: tuple[str, ...],
    first: str | None,
    last: str | None,
    recorded_after: str | None,
    late: bool,
    no_refresh: bool,
) -> None:
    """Stream matching facts as NDJSON, oldest first, with when they happened and were recorded."""
    from projections.events import Query, events

    after = parse_instant(recorded_after, "--recorded-after")
    query = Query(
        patient=patient,
        types=types,
        happened_from=parse_day(first, start=True),
        happened_to=parse_day(last, start=False),
        recorded_after=after.astimezone(UTC).isoformat() if after else None,
        late=late,
    )
    ledger = settings.ledger()
    db = reads.ready(ledger, settings.views(ledger), refresh=not no_refresh)
    encoder = msgspec.json.Encoder()
    out, shown = sys.stdout.buffer, set()
    try:  # logged however the stream ends (a reader that stops early, `| head`)
        for row in events(ledger, db, query):
            shown.add(row.patient_id)
            out.write(encoder.encode(row) + b"\n")
        out.flush()
    finally:
        settings.read(ledger, sorted(shown))


def _digest_key() -> bytes | None:
    key = os.environ.get("CARELANE_DIGEST_KEY")
    return key.encode() if key else None


@main.command("digest")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the digest to this file.")
@click.pass_obj
def digest_command(settings: Settings, out: str | None) -> None:
    """Print the chain's tip and the access log's (positions and hashes, HMAC-signed with
    $CARELANE_DIGEST_KEY) to keep outside the database; `verify --digest` proves both
    histories up to them unchanged."""
    from adapters.access import digest_of

    ledger = settings.ledger()  # held: closing the ledger closes its recorder's pool
    key = _digest_key()
    text = msgspec.json.encode(digest_of(ledger.recorder, settings.views(ledger), key)).decode()
    if out:
        Path(out).write_text(text + "\n")
    click.echo(text)
    if key is None:  # anyone who can rewrite the store and this file can forge an unsigned one
        click.echo("note: not signed (CARELANE_DIGEST_KEY is not set); keep it where no one\n"
                   "who can write the store can change it", err=True)  # fmt: skip


@main.command("verify")
@click.option("--digest", "digest_file", type=click.Path(exists=True, dir_okay=False),
              help="A digest kept earlier: the history up to it must be unchanged.")  # fmt: skip
@click.option("--views", "check_views", is_flag=True, help="Also compare the views with a rebuild from the log.")
@click.pass_obj
def verify_command(settings: Settings, digest_file: str | None, check_views: bool) -> None:
    """Recompute the hash chain over every stored event; exit 1 at the first break. With
    --views, also name every view row that differs from a rebuild from the log."""
    from adapters import chain

    ledger = settings.ledger()
    upto = None
    if digest_file:
        try:
            upto = msgspec.json.decode(Path(digest_file).read_bytes(), type=chain.Digest)
        except msgspec.MsgspecError as e:
            raise click.ClickException(f"{digest_file}: not a digest ({e})") from None
        key = _digest_key()
        if key is None and upto.hmac is not None:
            raise click.ClickException(f"{digest_file}: the digest is signed; set CARELANE_DIGEST_KEY to check it")
        if not chain.check_hmac(upto, key):
            what = "has no HMAC" if upto.hmac is None else "has an HMAC that does not match"
            raise click.ClickException(f"{digest_file}: the digest {what}: it may not be the one that was kept")
    broken = chain.verify(ledger.recorder, upto)
    if broken is not None:
        click.echo(f"BROKEN at position {broken.position}: {broken.problem}", err=True)
        sys.exit(1)
    scope = f", and passes through the digest at position {upto.position}" if upto else ""
    click.echo(f"chain intact: every event verifies{scope} (tip {chain.tip(ledger.recorder).position})")
    from adapters.closing import verify_closes

    _verdict(verify_closes(ledger), "CLOSES DO NOT VERIFY:", "month closes verify")
    if upto is not None and upto.access is not None:
        from adapters.access import AccessLog

        problem = AccessLog(settings.views(ledger)).through(upto.access.position, upto.access.hash)
        _verdict([problem] if problem else [], "ACCESS LOG DOES NOT MATCH THE DIGEST:",
                 f"access log intact, and passes through the digest at row {upto.access.position}")  # fmt: skip
    if check_views:
        from adapters.viewcheck import differences

        found = differences(ledger, settings.views(ledger))
        _verdict(found, "VIEWS DIFFER from the log (carelane project --rebuild repairs them):",
                 "views match a rebuild from the log")  # fmt: skip


def _verdict(problems: list[str], failed: str, passed: str) -> None:
    """A check's problems on stderr and exit 1, or its one line of success."""
    if problems:
        click.echo(failed, err=True)
        for line in problems:
            click.echo(f"  {line}", err=True)
        sys.exit(1)
    click.echo(passed)


@main.command("access")
@click.option("--patient", help="Only reads of this patient's record.")
@click.option("--since", help="Reads from this instant on (ISO 8601 with offset).")
@click.option("--from", "first", help="Reads on or after this day (YYYY-MM-DD or YYYY-MM), in the practice's zone.")
@click.option("--to", "last", help="Reads on or before this day (YYYY-MM-DD or YYYY-MM), in the practice's zone.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--verify", "check", is_flag=True, help="Walk the access log's own hash chain; exit 1 at a break.")
@click.pass_obj
def access_command(
    settings: Settings, patient: str | None, since: str | None, first: str | None, last: str | None, fmt: str,
    check: bool,
) -> None:  # fmt: skip
    """The access log: every read of a patient's record over HTTP, in the workbench or from
    the command line, with the key (or user), its role, the route and when (45 CFR 164.312(b))."""
    from adapters.access import AccessLog

    after = parse_instant(since, "--since")
    ledger = settings.ledger()
    log = AccessLog(settings.views(ledger))
    if check:
        broken = log.verify()
        if broken is not None:
            click.echo(f"ACCESS LOG BROKEN at row {broken}: a row was changed, removed or reordered", err=True)
            sys.exit(1)
        click.echo("access log intact: every row verifies")
        return
    zone = ledger.policy.zone
    starts = [t for t in (after, _day_start(parse_day(first, start=True), zone)) if t is not None]
    end = _day_start(parse_day(last, start=False), zone, next_day=True)
    rows = log.of(patient, _utc(max(starts)) if starts else None, _utc(end) if end else None)
    if fmt == "json":
        click.echo(msgspec.json.encode(rows).decode())
        return
    headers = ["position", "at", "key_id", "role", "route", "patient_id"]
    table = [list(msgspec.structs.astuple(r)) for r in rows]
    if fmt == "csv":
        click.echo(output.csv_of([dict(zip(headers, row, strict=True)) for row in table], headers))
        return
    click.echo(render(headers, table, title=f"Access log: {len(rows)} reads"))


@main.command("backup")
@click.argument("out", type=click.Path(dir_okay=False, writable=True))
@click.pass_obj
def backup_command(settings: Settings, out: str) -> None:
    """Copy the whole store to OUT while it is in use (SQLite's online backup; pg_dump of the
    schema), with the chain's digest beside it in OUT.digest."""
    from adapters import backup

    try:
        taken = backup.backup(store_url(settings.db), Path(out), _digest_key())
    except backup.BackupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"backed up to {out} at position {taken.position}; digest in {backup.digest_path(Path(out))}")


@main.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--digest", "digest_file", type=click.Path(exists=True, dir_okay=False),
              help="The digest taken with the backup (default SOURCE.digest).")  # fmt: skip
@click.pass_obj
def restore_command(settings: Settings, source: str, digest_file: str | None) -> None:
    """Put a backup in place as the store of --db (which must not exist yet), and verify it
    against the digest taken with it; if it does not verify, nothing stays in place."""
    from adapters import backup

    try:
        taken = backup.restore(
            Path(source), store_url(settings.db), _digest_key(), Path(digest_file) if digest_file else None
        )
    except backup.BackupError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"restored {source}: the chain verifies and passes through position {taken.position}")


@main.command("rotate-key")
@click.pass_obj
def rotate_key_command(settings: Settings) -> None:
    """Re-encrypt every stored event under the key in $CARELANE_NEW_CIPHER_KEY (from the key in
    $CARELANE_CIPHER_KEY, or from clear), recompute the chain and verify it. Stop every other
    process using the store first (a running server would go on writing under the old key).
    Keys are read from the environment, never the command line (which other users can see)."""
    from adapters import rotate

    new_key = os.environ.get("CARELANE_NEW_CIPHER_KEY")
    if not new_key:
        raise click.ClickException("set CARELANE_NEW_CIPHER_KEY to the new key")
    try:
        before, after = rotate.rotate(store_url(settings.db), new_key)
    except rotate.RotationError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"re-encrypted {before.position} events; chain verified under the new key")
    click.echo(f"digest before: {before.hash}\ndigest now:    {after.hash} (position {after.position})")
    click.echo("set CARELANE_CIPHER_KEY to the new key, and keep a new `carelane digest`")


def _day_start(day: str | None, zone: tzinfo, *, next_day: bool = False) -> datetime | None:
    """The instant a day (or the day after it) begins in the practice's zone."""
    if day is None:
        return None
    start = date.fromisoformat(day) + timedelta(days=1 if next_day else 0)
    return datetime.combine(start, time.min, zone)


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat(timespec="milliseconds")  # as the log stores `at`
