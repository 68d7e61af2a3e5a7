"""`carelane ingest` and `carelane claim`: NDJSON facts in, one answer a line."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click
import msgspec
from tqdm import tqdm

from adapters import output
from adapters.commands.base import Settings, main
from adapters.ingest import BATCH, LineResult, Tally, ingest
from adapters.store import analyse, redact, store_url
from domain import facts

PROGRESS_FROM_LINES = 5000  # files shorter than this finish before a bar would help
SHOWN_PROBLEMS = 20


def _file_options(command: Any) -> Any:
    """FILES, --report and --reconsider: what `ingest` and `claim` both take."""
    decorators: list[Callable[[Any], Any]] = [
        click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, allow_dash=True)),
        click.option("--report", type=click.Path(dir_okay=False, writable=True, allow_dash=True),
                     help="Write one JSON answer per input line ('-': standard output, the summary to standard "
                          "error)."),
        click.option("--reconsider", is_flag=True,
                     help="Judge afresh the lines refused when this same file was sent before "
                          "(by default they get the same answer)."),
        click.option("--workers", type=click.IntRange(1, 64), metavar="N",
                     help="Practices recorded at once, in worker processes (default: one per core)."),
        click.pass_obj,
    ]  # fmt: skip
    for decorate in reversed(decorators):
        command = decorate(command)
    return command


@main.command("ingest")
@_file_options
def ingest_command(
    settings: Settings, files: tuple[str, ...], report: str | None, reconsider: bool, workers: int | None
) -> None:
    """Record NDJSON facts (FILE '-' reads stdin). Exit 0 all accepted, 3 some refused, 2 some invalid.
    Where the ledger serves several practices, each line goes to its `practice_id`."""
    sys.exit(_ingest(settings, files, report, (), reconsider, workers))


@main.command("claim")
@_file_options
def claim_command(
    settings: Settings, files: tuple[str, ...], report: str | None, reconsider: bool, workers: int | None
) -> None:
    """Submit a billing service's batch of ClaimSubmitted lines through the claim gate."""
    sys.exit(_ingest(settings, files, report, (facts.ClaimSubmitted,), reconsider, workers))


def _ingest(
    settings: Settings,
    files: tuple[str, ...],
    report: str | None,
    only: tuple[type[facts.Fact], ...],
    reconsider: bool,
    workers: int | None,
) -> int:
    catalog = settings.catalog()
    if catalog is not None and catalog.tenants():  # several practices' lines, each to its own
        from adapters.commands import routed

        return routed.ingest(settings, catalog, files, report, only, reconsider, workers)
    ledger = settings.ledger()
    tally, shown = Tally(), 0
    with report_sink(report) as sink:
        try:
            for name in files:
                with open_lines(name) as (lines, submission):

                    def on_result(result: LineResult, name: str = name) -> None:
                        nonlocal shown
                        if len(files) > 1:
                            result.file = name
                        sink(result)
                        tally.add(result)  # counted as answered, so an interrupt reports them
                        if result.status != "accepted" and shown < SHOWN_PROBLEMS:
                            shown += 1
                            tqdm.write(problem_line(name, result), file=sys.stderr)

                    ingest(ledger, lines, on_result, only, batch_size(), submission, reconsider)
        except KeyboardInterrupt:
            click.echo(f"interrupted; every line answered so far is recorded\n{tally.summary()}", err=True)
            return 130
    analyse(ledger)
    summarise(tally, shown, report)
    click.echo(f"store: {redact(store_url(settings.db))}", err=report == "-")
    return tally.exit_code


def summarise(tally: Tally, shown: int, report: str | None) -> None:
    """The summary for people; on standard error when the answers take standard output."""
    problems = tally.status["refused"] + tally.status["invalid"]
    if problems > shown:
        click.echo(f"... {problems - shown} more; see --report for every line", err=True)
    click.echo(tally.summary(), err=report == "-")


def problem_line(name: str, result: LineResult) -> str:
    """A refused or invalid line for the terminal, within 80 columns: it starts with FILE:LINE
    (for grep and editors) and goes on indented; a refusal's further reasons each on a line."""
    where = f"{name}:{result.line}" if name != "-" else f"line {result.line}"
    if result.status == "invalid":
        return output.wrapped(f"{name}: {result.error}" if name != "-" else str(result.error))
    reasons = [f"{r.code.value}: {r.message}" for r in result.reasons or ()] or [""]
    return "\n".join(
        output.wrapped(text) for text in [f"{where}: refused {reasons[0]}", *(f"  and {r}" for r in reasons[1:])]
    )


@contextlib.contextmanager
def report_sink(path: str | None) -> Iterator[Any]:
    encoder = msgspec.json.Encoder()
    with report_file(path) as out:

        def write(result: LineResult) -> None:
            if out is not None:
                out.write(encoder.encode(result) + b"\n")

        yield write


@contextlib.contextmanager
def report_file(path: str | None) -> Iterator[BinaryIO | None]:
    """Where --report writes: the file, standard output for '-' (left open), or nowhere."""
    if path is None:
        yield None
    elif path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
    else:
        with open(path, "wb") as out:
            yield out


@contextlib.contextmanager
def open_lines(name: str) -> Iterator[tuple[Any, str | None]]:
    """The file's lines, and its SHA-256: the submission whose answers a resend repeats.
    Standard input streams as it comes, with no digest (its lines are judged afresh: keeping
    a copy to hash first would hold patient data in a temporary file, and a feed piped in
    would be answered only at its end)."""
    if name == "-":
        yield sys.stdin.buffer, None
        return
    with open(name, "rb") as handle:
        total, submission = _count_and_hash(handle)
        handle.seek(0)
        if total < PROGRESS_FROM_LINES:
            yield handle, submission
            return
        with tqdm(handle, total=total, unit=" lines", desc=Path(name).name, file=sys.stderr,
                  disable=None, mininterval=0.5) as bar:  # fmt: skip
            yield bar, submission


def _count_and_hash(handle: Any) -> tuple[int, str]:
    digest, lines = hashlib.sha256(), 0
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
        lines += chunk.count(b"\n")
    return lines, digest.hexdigest()[:32]


def batch_size() -> int:
    """Facts judged and written together; CARELANE_BATCH overrides it (tests use small ones)."""
    value = os.environ.get("CARELANE_BATCH", "")
    return int(value) if value.isdigit() and int(value) > 0 else BATCH
