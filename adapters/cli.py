"""The `carelane` command line (interface.md section 3)."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
import msgspec
from tqdm import tqdm

from adapters import fees as fee_file, logs, output, reads
from adapters.ingest import BATCH, LineResult, Tally, fewer_collections, ingest
from adapters.store import StoreError, analyse, open_ledger, redact, store_url
from adapters.table import render
from adapters.viewdb import open_views
from domain import facts
from domain.catalog import DEFAULT_FEES, FeeSchedule
from domain.ledger import Ledger
from domain.reasons import Reason
from domain.rules.assess import reprice
from projections import runner, views
from projections.report import report

PROGRESS_FROM_LINES = 5000  # files shorter than this finish before a bar would help
SHOWN_PROBLEMS = 20


class Settings:
    def __init__(self, db: str | None) -> None:
        self.db = db

    def ledger(self) -> Ledger:
        try:
            return open_ledger(self.db)
        except StoreError as e:
            raise click.ClickException(str(e)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", metavar="URL", help="Store URL (default $CARELANE_DB or sqlite:///carelane.db).")
@click.option(
    "--log-level",
    envvar="CARELANE_LOG_LEVEL",
    default="WARNING",
    show_default=True,
    help="JSON logs on stderr at this level.",
)
@click.pass_context
def main(ctx: click.Context, db: str | None, log_level: str) -> None:
    """Carelane: the compliance ledger for Medicare care-management billing."""
    if (
        ctx.invoked_subcommand == "serve"
        and ctx.get_parameter_source("log_level") is click.core.ParameterSource.DEFAULT
    ):
        log_level = "INFO"  # a server logs each request line by default (access log)
    logs.configure(log_level)
    ctx.obj = Settings(db)


@main.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--report", type=click.Path(dir_okay=False, writable=True), help="Write one JSON answer per input line.")
@click.pass_obj
def ingest_command(settings: Settings, files: tuple[str, ...], report: str | None) -> None:
    """Record NDJSON facts (FILE '-' reads stdin). Exit 0 all accepted, 3 some refused, 2 some invalid."""
    sys.exit(_ingest(settings, files, report, only=()))


@main.command("claim")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option("--report", type=click.Path(dir_okay=False, writable=True), help="Write one JSON answer per input line.")
@click.pass_obj
def claim_command(settings: Settings, files: tuple[str, ...], report: str | None) -> None:
    """Submit a billing service's batch of ClaimSubmitted lines through the claim gate."""
    sys.exit(_ingest(settings, files, report, only=(facts.ClaimSubmitted,)))


def _ingest(settings: Settings, files: tuple[str, ...], report: str | None, only: tuple[type[facts.Fact], ...]) -> int:
    ledger = settings.ledger()
    tally = Tally()
    shown = 0
    with _report_sink(report) as sink:
        try:
            for name in files:
                with _open_lines(name) as lines:

                    def on_result(result: LineResult, name: str = name) -> None:
                        nonlocal shown
                        if len(files) > 1:
                            result.file = name
                        sink(result)
                        tally.add(result)  # counted as answered, so an interrupt reports them
                        if result.status != "accepted" and shown < SHOWN_PROBLEMS:
                            shown += 1
                            tqdm.write(_problem(name, result), file=sys.stderr)

                    ingest(ledger, lines, on_result, only, batch=BATCH)
        except KeyboardInterrupt:
            click.echo(f"interrupted; every line answered so far is recorded\n{tally.summary()}", err=True)
            return 130
    analyse(ledger)
    problems = tally.status["refused"] + tally.status["invalid"]
    if problems > shown:
        click.echo(f"... {problems - shown} more; see --report for every line", err=True)
    click.echo(tally.summary())
    click.echo(f"store: {redact(store_url(settings.db))}")
    return tally.exit_code


def _problem(name: str, result: LineResult) -> str:
    where = f"{name}:{result.line}" if name != "-" else f"line {result.line}"
    if result.status == "invalid":
        return f"{name}: {result.error}" if name != "-" else str(result.error)
    reasons = "; ".join(f"{r.code.value}: {r.message}" for r in result.reasons or ())
    return f"{where}: refused {reasons}"


@contextlib.contextmanager
def _report_sink(path: str | None) -> Iterator[Any]:
    if path is None:
        yield lambda _result: None
        return
    encoder = msgspec.json.Encoder()
    with open(path, "wb") as out:

        def write(result: LineResult) -> None:
            out.write(encoder.encode(result) + b"\n")

        yield write


@contextlib.contextmanager
def _open_lines(name: str) -> Iterator[Any]:
    if name == "-":
        yield sys.stdin.buffer
        return
    total = _count_lines(name)
    with open(name, "rb") as handle:
        if total < PROGRESS_FROM_LINES:
            yield handle
            return
        with tqdm(
            handle,
            total=total,
            unit=" lines",
            desc=Path(name).name,
            file=sys.stderr,
            disable=None,
            mininterval=0.5,
        ) as bar:
            yield bar


def _count_lines(name: str) -> int:
    with open(name, "rb") as handle:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))


def _month(_: click.Context, __: click.Parameter, value: str) -> str:
    if not re.fullmatch(facts.MONTH_PATTERN, value):
        raise click.BadParameter(f"expected YYYY-MM, got {value!r}")
    return value


def _fees(path: str | None) -> FeeSchedule:
    if path is None:
        return DEFAULT_FEES
    try:
        return fee_file.load(path)
    except fee_file.FeeFileError as e:
        raise click.ClickException(str(e)) from None


@main.command("worklist")
@click.option("--month", required=True, callback=_month, help="YYYY-MM")
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
    rows = reads.worklist(ledger, open_views(ledger, settings.db), month, provider, refresh=not no_refresh)
    if fees is not None:
        schedule = _fees(fees)
        rows = [reprice(row, schedule) for row in rows]
    click.echo(output.worklist(rows, fmt))


@main.command("report")
@click.option("--month", required=True, callback=_month, help="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--fees", type=click.Path(exists=True, dir_okay=False), help="A practice fee schedule (CSV).")
@click.pass_obj
def report_command(settings: Settings, month: str, fmt: str, fees: str | None) -> None:
    """Work RVUs and revenue per billing practitioner and program: claimed and still billable."""
    ledger = settings.ledger()
    patients = reads.patients(ledger, open_views(ledger, settings.db), month)
    click.echo(output.report(report(ledger, patients, month, _fees(fees)), fmt))


@main.command("refusals")
@click.option("--month", callback=lambda c, p, v: None if v is None else _month(c, p, v), help="YYYY-MM")
@click.option("--reason", metavar="CODE", help="Only refusals with this reason code.")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.pass_obj
def refusals_command(settings: Settings, month: str | None, reason: str | None, fmt: str) -> None:
    """The refusal log: every refused claim, when, by whom and why."""
    if reason is not None and reason not in Reason.__members__:
        raise click.BadParameter(f"unknown reason code {reason!r}", param_hint="--reason")
    ledger = settings.ledger()
    click.echo(output.refusals(reads.refusals(ledger, open_views(ledger, settings.db), month, reason), fmt))


@main.command("project")
@click.option("--follow", is_flag=True, help="Keep the projections current until stopped (SIGINT/SIGTERM).")
@click.option("--rebuild", is_flag=True, help="Empty the views and build them again from the first event.")
@click.pass_obj
def project_command(settings: Settings, follow: bool, rebuild: bool) -> None:
    """Bring every projection (worklist, refusal log, event index) up to date."""
    import signal
    import threading

    ledger = settings.ledger()
    db = open_views(ledger, settings.db)
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
    click.echo(", ".join(f"{name}: {n} events" for name, n in applied.items()))
    if not follow:
        return
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    click.echo("following the ledger; Ctrl-C to stop", err=True)
    runner.follow(ledger, db, views.ALL, stop)
    click.echo("stopped", err=True)


@main.command("audit")
@click.argument("patient_id")
@click.option("--from", "first", required=True, callback=_month, help="First month, YYYY-MM.")
@click.option("--to", "last", required=True, callback=_month, help="Last month, YYYY-MM.")
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
    instant = _instant(as_of)
    try:
        packet = audit.packet(settings.ledger(), patient_id, first, last, instant)
    except audit.NotFound as e:
        raise click.ClickException(str(e)) from None
    if fmt == "html":
        text = audit_html.render(packet)
    else:
        text = msgspec.json.format(msgspec.json.encode(packet), indent=2).decode()
    if out:
        Path(out).write_text(text)
        click.echo(f"record packet for {patient_id} written to {out} (digest {packet.digest[:16]}...)")
    else:
        click.echo(text)


def _instant(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"expected an ISO 8601 instant, got {text!r}", param_hint="--as-of") from None
    if value.tzinfo is None:
        raise click.BadParameter("the instant needs an offset, e.g. 2026-04-01T09:00:00-04:00", param_hint="--as-of")
    return value


@main.command("events")
@click.option("--patient", help="Only this patient's facts.")
@click.option(
    "--type", "types", multiple=True, type=click.Choice(sorted(facts.FACT_TYPE_NAMES)), help="Fact type; repeat."
)
@click.option("--from", "first", help="Facts that happened on or after this date (YYYY-MM-DD or YYYY-MM).")
@click.option("--to", "last", help="Facts that happened on or before this date (YYYY-MM-DD or YYYY-MM).")
@click.option("--recorded-after", help="Facts recorded after this instant (ISO 8601 with offset).")
@click.option("--late", is_flag=True, help="Only facts recorded late, or after a claim they count toward.")
@click.pass_obj
def events_command(
    settings: Settings,
    patient: str | None,
    types: tuple[str, ...],
    first: str | None,
    last: str | None,
    recorded_after: str | None,
    late: bool,
) -> None:
    """Stream matching facts as NDJSON, oldest first, with when they happened and were recorded."""
    from projections.events import Query, events

    after = _instant(recorded_after)
    query = Query(
        patient=patient,
        types=types,
        happened_from=_day(first, start=True),
        happened_to=_day(last, start=False),
        recorded_after=after.astimezone(UTC).isoformat() if after else None,
        late=late,
    )
    ledger = settings.ledger()
    db = reads.ready(ledger, open_views(ledger, settings.db))
    encoder = msgspec.json.Encoder()
    out = sys.stdout.buffer
    for row in events(ledger, db, query):
        out.write(encoder.encode(row) + b"\n")
    out.flush()


def _day(text: str | None, *, start: bool) -> str | None:
    """A date, or a month meaning its first (start) or last day."""
    if text is None:
        return None
    if re.fullmatch(r"\d{4}-\d{2}", text):
        from domain.rules.view import month_bounds

        first, last = month_bounds(text)
        return (first if start else last).isoformat()
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise click.BadParameter(f"expected YYYY-MM-DD or YYYY-MM, got {text!r}") from None


def _digest_key() -> bytes | None:
    key = os.environ.get("CARELANE_DIGEST_KEY")
    return key.encode() if key else None


@main.command("digest")
@click.option("--out", type=click.Path(dir_okay=False, writable=True), help="Write the digest to this file.")
@click.pass_obj
def digest_command(settings: Settings, out: str | None) -> None:
    """Print the chain's tip (position and hash, HMAC-signed with $CARELANE_DIGEST_KEY) to keep
    outside the database; `verify --digest` proves the history up to it unchanged."""
    from adapters import chain

    ledger = settings.ledger()  # held: closing the ledger closes its recorder's pool
    text = msgspec.json.encode(chain.tip(ledger.recorder, _digest_key())).decode()
    if out:
        Path(out).write_text(text + "\n")
    click.echo(text)


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
    if check_views:
        from adapters.viewcheck import differences

        found = differences(ledger, open_views(ledger, settings.db))
        if found:
            click.echo("VIEWS DIFFER from the log (carelane project --rebuild repairs them):", err=True)
            for line in found:
                click.echo(f"  {line}", err=True)
            sys.exit(1)
        click.echo("views match a rebuild from the log")


@main.command("export-837")
@click.option("--month", required=True, callback=_month, help="YYYY-MM")
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
    text = x12.build(claims, _fees(fees), practice, people, control or int(now.timestamp()) % 1_000_000_000, now)
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
    uvicorn.run(app, host=host, port=port, log_level="warning")


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
@click.option("--end", "end", callback=lambda c, p, v: None if v is None else _month(c, p, v),
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
