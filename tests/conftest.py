"""Fixtures shared by every tier: a real store per test, on SQLite and on PostgreSQL.

PostgreSQL tests connect to $CARELANE_TEST_PG (default postgresql://postgres@127.0.0.1:5432/test)
and run each test in a schema of its own, dropped afterwards. Without a server they skip with
a message, unless CI=true or CARELANE_REQUIRE_PG=1, where a missing server fails the run.
"""

from __future__ import annotations

import gc
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from adapters.store import open_ledger, parse
from domain.ledger import Ledger

PG_BASE = os.environ.get("CARELANE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REQUIRE_PG = os.environ.get("CI", "").lower() == "true" or os.environ.get("CARELANE_REQUIRE_PG") == "1"
NOW = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)


def _pg_problem() -> str | None:
    try:
        with psycopg.connect(parse(PG_BASE).pg_conninfo or "", connect_timeout=3):
            return None
    except psycopg.OperationalError as e:
        return str(e).strip().splitlines()[0]


_PG_PROBLEM = _pg_problem()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Before a PostgreSQL test, collect what earlier tests left for the collector: a ledger
    or an app in a reference cycle keeps its connections open until then, and the server
    allows 100 clients (CI once ran out in the middle of the cross-practice race)."""
    if item.get_closest_marker("postgres") is not None:
        gc.collect()


def pg_url() -> Iterator[str]:
    """A PostgreSQL store URL in a fresh schema, dropped after the test."""
    if _PG_PROBLEM is not None:
        message = f"PostgreSQL not reachable at {PG_BASE} ({_PG_PROBLEM}); set CARELANE_TEST_PG"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    yield f"{PG_BASE}?schema={schema}"
    with psycopg.connect(parse(PG_BASE).pg_conninfo or "", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The same test on both stores."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        yield from pg_url()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.db'}"


class Clock:
    """A clock the test moves; the ledger stamps recorded_at from it."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def open_at(clock: Clock) -> Iterator[Callable[[str], Ledger]]:
    opened: list[Ledger] = []

    def _open(url: str) -> Ledger:
        ledger = open_ledger(url, clock=clock)
        opened.append(ledger)
        return ledger

    yield _open
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(store_url: str, open_at: Callable[[str], Ledger]) -> Ledger:
    return open_at(store_url)


def memory(clock: Callable[[], datetime], **kw: Any) -> Ledger:
    """The same Ledger on the library's in-memory store: for rule tests (the unit tier), which
    need no database; what needs real SQLite or PostgreSQL is in tests/integration."""
    from adapters.store import MAPPER_TOPIC

    return Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo", "MAPPER_TOPIC": MAPPER_TOPIC}, clock=clock, **kw)


@pytest.fixture
def memory_ledger(clock: Clock) -> Ledger:
    return memory(clock)


@pytest.fixture
def sqlite_ledger(sqlite_url: str, open_at: Callable[[str], Ledger]) -> Ledger:
    return open_at(sqlite_url)


# Tests read their own output; keep library logs quiet and in the production shape.
logs_configured = __import__("adapters.logs", fromlist=["configure"]).configure("WARNING")
