"""An app that shuts down and a command run in-process close their PostgreSQL connections
when they end, not when the garbage collector happens by: the server allows 100 clients,
and a supervisor or a test suite that runs many commands in one process would run out."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator

import psycopg
import pytest
from click.testing import CliRunner
from litestar.testing import TestClient

import adapters.cli  # noqa: F401 (registers every command)
from adapters.commands.base import main
from adapters.http import create_app
from adapters.store import open_ledger, parse
from tests.conftest import PG_BASE, pg_url
from tests.factories import enrolled, minutes

pytestmark = pytest.mark.postgres


def clients() -> int:
    with psycopg.connect(parse(PG_BASE).pg_conninfo or "", autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'").fetchone()
    assert row is not None
    return int(row[0])


def settles_at(expected: int) -> int:
    """The count once closed connections' server processes have exited (they take a moment
    after the client closes), or what it still is after five seconds."""
    deadline = time.monotonic() + 5
    while (found := clients()) != expected and time.monotonic() < deadline:
        time.sleep(0.1)
    return found


@pytest.fixture
def url() -> Iterator[str]:
    for found in pg_url():
        ledger = open_ledger(found)
        for fact in [*enrolled("P1"), *minutes(25, "P1")]:
            ledger.record(fact)
        ledger.close()
        gc.collect()
        gc.disable()  # what is closed must be closed by the code, not found by the collector
        try:
            yield found
        finally:
            gc.enable()


def test_an_app_that_shuts_down_leaves_no_client_behind(url: str) -> None:
    before = clients()
    with TestClient(app=create_app(url)) as client:
        assert client.get("/health").status_code == 200
        assert clients() > before
    assert settles_at(before) == before


def test_commands_run_in_process_leave_no_client_behind(url: str) -> None:
    before = clients()
    for args in (["worklist", "--month", "2026-04"], ["refusals"], ["verify"], ["report", "--month", "2026-04"]):
        result = CliRunner().invoke(main, ["--db", url, *args])
        assert result.exit_code == 0, (args, result.output)
    assert settles_at(before) == before
