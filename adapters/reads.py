"""Read models as the commands use them: brought up to date first unless told not to."""

from __future__ import annotations

from adapters import tenancy
from domain.ledger import Ledger
from domain.rules.assess import WorklistRow
from domain.rules.open_periods import open_periods
from domain.timing import local_day
from projections import runner, views
from projections.refusals import RefusalRow
from projections.runner import ViewDB


def ready(ledger: Ledger, db: ViewDB, refresh: bool = True) -> ViewDB:
    runner.create(db, views.ALL)
    if refresh:
        runner.catch_up(ledger, db, views.ALL)
    return db


def worklist(
    ledger: Ledger, db: ViewDB, month: str, provider: str | None = None, refresh: bool = True
) -> list[WorklistRow]:
    ready(ledger, db, refresh)
    with db.reading() as cur:
        rows = views.read_worklist(cur, month, provider)
    today = local_day(ledger.clock(), ledger.policy)
    rows = [open_periods(row, today, ledger.policy) for row in rows]  # G-15: not billable before its period ends
    return tenancy.withhold(ledger, rows)  # what another practice already claimed is not billable here


def refusals(
    ledger: Ledger, db: ViewDB, month: str | None = None, reason: str | None = None, refresh: bool = True
) -> list[RefusalRow]:
    ready(ledger, db, refresh)
    with db.reading() as cur:
        return views.read_refusals(cur, month, reason)


def months(ledger: Ledger, db: ViewDB, refresh: bool = True) -> list[str]:
    """Every month with activity, oldest first."""
    ready(ledger, db, refresh)
    with db.reading() as cur:
        return views.months_in(cur)


def patients(ledger: Ledger, db: ViewDB, month: str, refresh: bool = True) -> list[str]:
    """Patients with activity in the month (report, 837P)."""
    ready(ledger, db, refresh)
    with db.reading() as cur:
        return views.patients_in(cur, month)
