"""Connections for the projections' views, in the ledger's own database: the SQLite file, or
the PostgreSQL schema. SQL is written once with %s placeholders. On a PostgreSQL hot standby
the views are the primary's, replicated: they are read as they are, never created or written."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from adapters.replica import ReadOnlyStore
from adapters.store import Store, events_table, in_recovery, parse, store_url
from domain.ledger import Ledger
from projections.runner import Cursor, ViewDB


class _Cursor:
    """A DB-API cursor behind the Cursor protocol; subclasses adapt what `execute` sends."""

    def __init__(self, cur: Any) -> None:
        self._cur = cur

    @property
    def rowcount(self) -> int:
        return int(self._cur.rowcount)

    @property
    def description(self) -> Any:
        return self._cur.description

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(text, params)

    def executemany(self, text: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cur.executemany(text, params)

    def fetchall(self) -> list[Any]:
        return list(self._cur.fetchall())

    def fetchone(self) -> Any:
        return self._cur.fetchone()


class _SQLiteCursor(_Cursor):
    """SQL is written once with %s placeholders; SQLite's are ?."""

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(text.replace("%s", "?"), tuple(params))

    def executemany(self, text: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cur.executemany(text.replace("%s", "?"), [tuple(p) for p in params])


class SQLiteViews:
    row_locks = False  # BEGIN IMMEDIATE already serialises writers

    def __init__(self, path: str) -> None:
        self.conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self.conn.execute("PRAGMA journal_mode=WAL")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Cursor]:
        cur = self.conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            yield _SQLiteCursor(cur)
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        cur.execute("COMMIT")

    @contextlib.contextmanager
    def reading(self) -> Iterator[Cursor]:
        cur = self.conn.cursor()
        cur.execute("BEGIN")  # deferred: a snapshot for reading, no write lock to wait for
        try:
            yield _SQLiteCursor(cur)
        finally:
            cur.execute("ROLLBACK")

    def wait_for_events(self, timeout: float) -> None:
        import time

        time.sleep(timeout)  # SQLite has no push: poll

    def close(self) -> None:
        self.conn.close()


class _ReplicaCursor(_Cursor):
    """A cursor on a hot standby: CREATE statements are skipped (the standby refuses even
    CREATE ... IF NOT EXISTS, and the primary's tables replicate); the rest go through."""

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        if text.lstrip().upper().startswith("CREATE "):
            return None
        return self._cur.execute(text, params)


BEHIND = "this store is a read-only replica and its views are behind the log: run `carelane project` on the primary"
UNBUILT = "this store is a read-only replica and its views are not built: run `carelane project` on the primary"


class PostgresViews:
    row_locks = True

    def __init__(self, store: Store, channel: str) -> None:
        assert store.pg_conninfo is not None
        self.conninfo, self.options, self.channel = store.pg_conninfo, f"-c search_path={store.pg_schema}", channel
        self.conn = psycopg.connect(self.conninfo, options=self.options)
        with self.conn.transaction():  # closed at once: a transaction left open would hold every later one
            self.read_only = in_recovery(self.conn)
        self.row_locks = not self.read_only  # a standby takes no row locks (SELECT ... FOR UPDATE)
        self._listener: psycopg.Connection[Any] | None = None  # opened by the first wait: readers never need it

    @property
    def listener(self) -> psycopg.Connection[Any]:
        if self._listener is None:
            self._listener = psycopg.connect(self.conninfo, options=self.options, autocommit=True)
            self._listener.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
        return self._listener

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Cursor]:
        with self.conn.transaction(), self.conn.cursor() as cur:
            if not self.read_only:
                yield cur
                return
            try:
                yield _ReplicaCursor(cur)
            except psycopg.errors.ReadOnlySqlTransaction:  # a write: the views lag the log here
                raise ReadOnlyStore(BEHIND) from None
            except psycopg.errors.UndefinedTable:
                raise ReadOnlyStore(UNBUILT) from None

    reading = transaction  # PostgreSQL readers never wait for writers

    def wait_for_events(self, timeout: float) -> None:
        """Wake on the library's NOTIFY of new events, or after `timeout` seconds."""
        if self.read_only:  # a standby takes no LISTEN, and could apply nothing it heard of
            raise ReadOnlyStore("this store is a read-only replica: run `carelane project --follow` on the primary")
        for _ in self.listener.notifies(timeout=timeout, stop_after=1):
            pass

    def close(self) -> None:
        self.conn.close()
        if self._listener is not None:
            self._listener.close()


def open_views(ledger: Ledger, url: str | None = None) -> ViewDB:
    store = parse(store_url(url))
    if store.kind == "sqlite":
        assert store.sqlite_path is not None
        return SQLiteViews(store.sqlite_path)
    channel = getattr(ledger.recorder, "channel_name", events_table(ledger))
    return PostgresViews(store, channel)
