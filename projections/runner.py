"""Projections follow the ledger's notification log. Each page of events is applied to a
view and the view's tracking position is advanced in the same transaction, only forward:
a page delivered again finds its position taken, the transaction rolls back, and nothing is
counted twice. Works on SQLite and PostgreSQL alike (no push subscription needed).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

import structlog

from domain.ledger import Ledger

log = structlog.get_logger("carelane.projections")
PAGE = 2000
SETTLE_EVERY = 25  # pages between settles, so a long catch-up does not leave a view stale till its end


class Cursor(Protocol):
    """The part of a DB-API cursor views use; SQL is written with %s placeholders."""

    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any: ...

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchone(self) -> Any: ...


class ViewDB(Protocol):
    """Where views live: the same database as the ledger (adapters.viewdb)."""

    row_locks: bool  # SELECT ... FOR UPDATE SKIP LOCKED is available (PostgreSQL)

    def transaction(self) -> AbstractContextManager[Cursor]: ...

    def reading(self) -> AbstractContextManager[Cursor]:
        """A read-only transaction: it never waits for a writer (SQLite's WAL lets readers
        run beside one)."""
        ...

    def wait_for_events(self, timeout: float) -> None: ...

    def close(self) -> None: ...


class Redelivered(Exception):
    """The page was already applied by this or another worker."""


class Projection(Protocol):
    name: str  # pinned and short: it keys the tracking row
    topics: tuple[str, ...]  # () for every event

    def create(self, cur: Cursor) -> None: ...

    def clear(self, cur: Cursor) -> None: ...

    def apply(self, cur: Cursor, events: list[tuple[int, Any]], ledger: Ledger) -> None: ...

    def settle(self, db: ViewDB, ledger: Ledger) -> int:
        """Finish work that pages left marked (in transactions of its own); returns how much."""
        ...


TRACKING = """CREATE TABLE IF NOT EXISTS view_tracking (
    projection TEXT PRIMARY KEY, position BIGINT NOT NULL)"""


def create(db: ViewDB, projections: Sequence[Projection]) -> None:
    with db.transaction() as cur:
        cur.execute(TRACKING)
        for projection in projections:
            projection.create(cur)


def rebuild(db: ViewDB, projections: Sequence[Projection]) -> None:
    """Empty the views and their tracking in one transaction, so a catch-up starts from zero."""
    with db.transaction() as cur:
        for projection in projections:
            projection.clear(cur)
            cur.execute("DELETE FROM view_tracking WHERE projection = %s", (projection.name,))


def position(db: ViewDB, name: str) -> int:
    with db.transaction() as cur:
        cur.execute("SELECT position FROM view_tracking WHERE projection = %s", (name,))
        row = cur.fetchone()
    return int(row[0]) if row else 0


def advance(cur: Cursor, name: str, to: int) -> None:
    """Move the tracking position forward in the caller's transaction, or raise Redelivered."""
    cur.execute(
        "INSERT INTO view_tracking (projection, position) VALUES (%s, %s) "
        "ON CONFLICT (projection) DO UPDATE SET position = excluded.position "
        "WHERE view_tracking.position < excluded.position",
        (name, to),
    )
    if cur.rowcount != 1:
        raise Redelivered(f"{name} is already at or past {to}")


def pages(ledger: Ledger, after: int, topics: Sequence[str], limit: int = PAGE) -> Iterator[list[tuple[int, Any]]]:
    """(position, event) pages after a position, to the end of the log as it is now."""
    start = after + 1
    while True:
        batch = ledger.recorder.select_notifications(start=start, limit=limit, topics=topics)
        if not batch:
            return
        yield [(n.id, ledger.mapper.to_domain_event(n)) for n in batch]
        if len(batch) < limit:
            return
        start = batch[-1].id + 1


def catch_up(
    ledger: Ledger,
    db: ViewDB,
    projections: Sequence[Projection],
    progress: Callable[[str, int], None] | None = None,
    limit: int = PAGE,
) -> dict[str, int]:
    """Bring each projection to the end of the log; returns how many events each applied."""
    applied = {}
    for projection in projections:
        count = 0
        for done, page in enumerate(pages(ledger, position(db, projection.name), projection.topics, limit), 1):
            try:
                with db.transaction() as cur:
                    projection.apply(cur, page, ledger)
                    advance(cur, projection.name, page[-1][0])
            except Redelivered:
                log.info("projection.redelivered", projection=projection.name, to=page[-1][0])
                break  # another worker is ahead: start again from the tracking position
            count += len(page)
            if progress is not None:
                progress(projection.name, len(page))
            if done % SETTLE_EVERY == 0:
                projection.settle(db, ledger)
        projection.settle(db, ledger)
        applied[projection.name] = count
    return applied


def follow(
    ledger: Ledger, db: ViewDB, projections: Sequence[Projection], stop: threading.Event, poll: float = 1.0
) -> None:
    """Keep the projections current until `stop` is set."""
    while not stop.is_set():
        catch_up(ledger, db, projections)
        db.wait_for_events(poll)


def select_in(cur: Cursor, query: str, values: list[str], chunk: int = 500) -> list[Any]:
    """Rows of `query` (one `IN {}`) for many values, a bounded number of placeholders at a time."""
    rows: list[Any] = []
    distinct = list(dict.fromkeys(values))
    for start in range(0, len(distinct), chunk):
        part = distinct[start : start + chunk]
        cur.execute(query.format("(" + ", ".join(["%s"] * len(part)) + ")"), part)
        rows += cur.fetchall()
    return rows
