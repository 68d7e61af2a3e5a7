"""Shared set-up for the tenancy tests: a home store on either store, with practices added,
and every practice's own store removed afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from adapters import tenancy
from adapters.store import open_ledger, parse
from adapters.tenants import Catalog
from domain.ledger import Ledger
from tests.conftest import PG_BASE, pg_url
from tests.factories import practice

OPENED: list[Ledger] = []  # closed when the test's home store goes


def _close_opened() -> None:
    while OPENED:
        OPENED.pop().close()


def home_store(kind: str, tmp_path: Path) -> Iterator[str]:
    """A home store URL; on PostgreSQL, the practices' schemas (`<home>_<practice>`) are
    dropped with it. The ledgers `with_index` opened are closed first."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'home.db'}"
        _close_opened()
        return
    gen = pg_url()
    url = next(gen)
    yield url
    _close_opened()
    schema = parse(url).pg_schema
    with psycopg.connect(parse(PG_BASE).pg_conninfo or "", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (schema.replace("_", r"\_") + r"\_%",)
        ).fetchall()
        for (name,) in rows:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    next(gen, None)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield from home_store(request.param, tmp_path)


def add_practices(home: str, *ids: str) -> dict[str, str]:
    """The practices placed in the catalog and registered in their own stores; their URLs."""
    catalog = Catalog.open(home, create=True)
    assert catalog is not None
    urls = {}
    for pid in ids:
        tenant = catalog.add(pid)
        ledger = with_index(tenant.url, pid, home)
        ledger.record(practice(practice_id=pid, name=f"Clinic {pid}"))
        ledger.close()
        urls[pid] = tenant.url
    catalog.close()
    return urls


def with_index(url: str, practice_id: str, home: str) -> Ledger:
    """A practice's ledger with the cross-practice claim index, as commands open it."""
    ledger = tenancy.attach(open_ledger(url), tenancy.Resolved(url, practice_id, home))
    OPENED.append(ledger)
    return ledger
