"""`carelane import`: a practice's own feeds (CSV templates, FHIR R4, HL7 v2 ADT) recorded
as `ingest` records NDJSON, one answer per row, resource or message, naming it."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import msgspec

from adapters.commands.base import Settings, main
from adapters.commands.ingesting import report_file
from adapters.feeds.items import FeedError, FeedResult, Item, record
from adapters.feeds.mappings import MappingError, Mappings, load
from domain.ledger import Ledger

SHOWN = 20
MAX_FILE = 512 * 1024 * 1024


@main.command("import")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["csv", "fhir", "hl7"]), help="What the files hold.")
@click.option("--kind", help="CSV only: which template the file follows (see --template).")
@click.option("--template", "template_kind", metavar="KIND", help="Print a CSV template (header and example row).")
@click.option("--delimiter", type=click.Choice([",", ";", "tab"]), help="CSV only: the separator (default: sniffed).")
@click.option("--mappings", type=click.Path(exists=True, dir_okay=False), help="A practice's code mappings (JSON).")
@click.option(
    "--report",
    type=click.Path(dir_okay=False, writable=True, allow_dash=True),
    help="Write one JSON answer per item ('-': standard output, the summary to standard error).",
)
@click.option("--reconsider", is_flag=True, help="Judge afresh items refused when this same file was sent before.")
@click.pass_obj
def import_command(
    settings: Settings, files: tuple[str, ...], fmt: str | None, kind: str | None, template_kind: str | None,
    delimiter: str | None, mappings: str | None, report: str | None, reconsider: bool,
) -> None:  # fmt: skip
    """Record a practice's feeds: CSV (--kind), FHIR R4 Bundles or bulk-export NDJSON, HL7 v2
    ADT messages. Exit 0 all accepted or skipped, 3 some refused, 2 some invalid."""
    from adapters.feeds import csv_feed

    if template_kind is not None:
        if template_kind not in csv_feed.KINDS:
            raise click.BadParameter(f"one of {', '.join(csv_feed.KINDS)}", param_hint="--template")
        click.echo(csv_feed.template(template_kind), nl=False)
        return
    if not files or fmt is None:
        raise click.UsageError("give --format and at least one FILE (or --template KIND)")
    if fmt == "csv" and kind not in csv_feed.KINDS:
        raise click.BadParameter(f"one of {', '.join(csv_feed.KINDS)}", param_hint="--kind")
    try:
        codes = load(mappings)
    except MappingError as e:
        raise click.ClickException(str(e)) from None
    ledger = settings.ledger()
    worst = 0
    with report_file(report) as out:
        for name in files:
            worst = max(worst, _one(ledger, name, fmt, kind, delimiter, codes, out, reconsider))
    sys.exit(worst)


def _one(ledger: Ledger, name: str, fmt: str, kind: str | None, delimiter: str | None, codes: Mappings, out: Any,
         reconsider: bool) -> int:  # fmt: skip
    raw = Path(name).read_bytes()
    if len(raw) > MAX_FILE:
        click.echo(f"{name}: over {MAX_FILE // 2**20} MB; split it", err=True)
        return 2
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        if fmt != "csv":
            click.echo(f"{name}: not UTF-8 text; nothing recorded", err=True)
            return 2
        # Excel's plain "CSV" on Windows is Windows-1252 (José): read it so, and say so.
        text = raw.decode("cp1252", errors="replace")
        click.echo(f"{name}: not UTF-8; read as Windows-1252 (save as CSV UTF-8 to avoid this)", err=True)
    answers: list[FeedResult] = []
    encoder = msgspec.json.Encoder()

    def answered(result: FeedResult) -> None:
        answers.append(result)
        if out is not None:
            out.write(encoder.encode(result) + b"\n")

    try:
        tally = record(ledger, _items(text, fmt, kind, delimiter, codes, ledger), answered,
                       submission=hashlib.sha256(raw).hexdigest()[:32], reconsider=reconsider)  # fmt: skip
    except FeedError as e:
        click.echo(f"{name}: {e}; nothing recorded", err=True)
        return 2
    click.echo(f"{name}: {tally.summary('item')}"
               + (f", {tally.status['skipped']} skipped" if tally.status["skipped"] else ""),
               err=out is sys.stdout.buffer)  # fmt: skip
    problems = [a for a in answers if a.status in ("refused", "invalid")]
    for a in problems[:SHOWN]:
        why = a.error or "; ".join(f"{r.code.value}: {r.message}" for r in a.reasons or ())
        click.echo(f"  {a.status} {why if a.error else a.item + ': ' + why}", err=True)
    if len(problems) > SHOWN:
        click.echo(f"  ... and {len(problems) - SHOWN} more (--report FILE has every answer)", err=True)
    return tally.exit_code


def _items(text: str, fmt: str, kind: str | None, delimiter: str | None, codes: Mappings,
           ledger: Ledger) -> Iterator[Item]:  # fmt: skip
    zone = ledger.policy.zone
    if fmt == "csv":
        from adapters.feeds import csv_feed

        sep = "\t" if delimiter == "tab" else delimiter
        return csv_feed.items(text, kind or "", zone=zone, delimiter=sep, mappings=codes)
    if fmt == "fhir":
        from adapters.feeds import fhir_feed

        return fhir_feed.items(text, zone=zone, mappings=codes)
    from adapters.feeds import hl7_feed

    return hl7_feed.items(text, zone=zone, mappings=codes)
