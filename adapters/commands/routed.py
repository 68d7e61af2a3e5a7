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
    try:
        default = catalog.resolve(settings.practice)
    except TenantError as e:
        if settings.practice is not None:
            raise click.ClickException(str(e)) from None
        default = None  # several practices: each line names its own
    with report_sink(report) as sink:
        try:
            for name in files:
                named = None if default is None else default.practice_id
                results = _one_file(catalog, name, named, only, reconsider, workers)
                for result in sorted(results, key=lambda r: r.line):
                    if len(files) > 1:
                        result.file = name
                    sink(result)
                    tally.add(result)
                    if result.status != "accepted" and shown < SHOWN_PROBLEMS:
                        shown += 1
                        click.echo(problem_line(name, result), err=True)
        except KeyboardInterrupt:
            click.echo(f"interrupted; every line answered so far is recorded\n{tally.summary()}", err=True)
            return 130
    summarise(tally, shown)
    return tally.exit_code


def _one_file(
    catalog: Catalog,
    name: str,
    default: str | None,
    only: tuple[type[facts.Fact], ...],
    reconsider: bool,
    workers: int | None,
) -> list[LineResult]:
    results: list[LineResult] = []
    with open_lines(name) as (lines, submission):
        shares = routing.split(lines, catalog, default, results.append)
    jobs = [
        routing.Job(tenant, catalog.home, share, only, submission, reconsider, batch_size())
        for tenant in catalog.tenants()
        if (share := shares.get(tenant.practice_id))
    ]
    count = workers or min(len(jobs), os.cpu_count() or 1)
    with tqdm(total=len(jobs), unit=" practices", file=sys.stderr, disable=None, desc=os.path.basename(name)) as bar:

        def done(practice_id: str, answered: list[LineResult]) -> None:
            results.extend(answered)
            bar.update(1)

        routing.run(jobs, count, done)
    return results
