"""`carelane ingest` and `claim` where the ledger serves several practices: the file's lines
routed to their practices (adapters.routing), recorded in parallel, and answered in the
file's order, as one ingest would."""

from __future__ import annotations

import os
import sys

import click
from tqdm import tqdm

from adapters import routing
from adapters.commands.base import Settings
from adapters.commands.ingesting import SHOWN_PROBLEMS, batch_size, open_lines, problem_line, report_sink, summarise
from adapters.ingest import LineResult, Tally
from adapters.tenants import Catalog, TenantError
from domain import facts


def ingest(
    settings: Settings,
    catalog: Catalog,
    files: tuple[str, ...],
    report: str | None,
    only: tuple[type[facts.Fact], ...],
    reconsider: bool,
    workers: int | None,
) -> int:
    tally, shown = Tally(), 0
    named = _default(catalog, settings.practice)
    with report_sink(report) as sink:
        for name in files:
            results: list[LineResult] = []
            try:
                _one_file(catalog, name, named, only, reconsider, workers, results)
            except KeyboardInterrupt:
                stopped: str | None = "interrupted; every line answered so far is recorded"
            except Exception as e:  # a worker's failure: its practice's answers are lost, not the others'
                stopped = f"stopped: {e}"
            else:
                stopped = None
            for result in sorted(results, key=lambda r: r.line):  # what was answered, in the file's order
                if len(files) > 1:
                    result.file = name
                sink(result)
                tally.add(result)
                if result.status != "accepted" and shown < SHOWN_PROBLEMS:
                    shown += 1
                    click.echo(problem_line(name, result), err=True)
            if stopped is not None:
                click.echo(f"{stopped}\n{tally.summary()}", err=True)
                return 130 if stopped.startswith("interrupted") else 1
    summarise(tally, shown, report)
    return tally.exit_code


def _default(catalog: Catalog, practice: str | None) -> str | None:
    """The practice of lines that name none: --practice, or the only one."""
    try:
        tenant = catalog.resolve(practice)
    except TenantError as e:
        if practice is not None:
            raise click.ClickException(str(e)) from None
        return None  # several practices: each line names its own
    return None if tenant is None else tenant.practice_id


def _one_file(
    catalog: Catalog,
    name: str,
    default: str | None,
    only: tuple[type[facts.Fact], ...],
    reconsider: bool,
    workers: int | None,
    results: list[LineResult],
) -> None:
    """Answer the file's lines into `results` (kept by the caller if this stops midway)."""
    tenants = catalog.tenants()
    count = min(workers or os.cpu_count() or 1, len(tenants))
    with routing.pool(count) as pool:  # the workers start while the file is read and routed
        with open_lines(name) as (lines, submission):
            shares = routing.split(lines, catalog, default, results.append)
        jobs = [
            routing.Job(tenant, catalog.home, share, only, submission, reconsider, batch_size())
            for tenant in tenants
            if (share := shares.get(tenant.practice_id))
        ]
        bar = tqdm(total=len(jobs), unit=" practices", file=sys.stderr, disable=None, desc=os.path.basename(name))

        def done(practice_id: str, answered: list[LineResult]) -> None:
            results.extend(answered)
            bar.update(1)

        with bar:
            routing.run(jobs, pool, done)
