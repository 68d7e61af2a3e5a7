"""Connections for the projections' views, in the ledger's own database: the SQLite file, or
the PostgreSQL schema. SQL is written once with %s placeholders."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from adapters.store import Store, events_table, parse, store_url
from domain.ledger import Ledger
from projections.runner import Cursor, ViewDB


class _SQLiteCursor:
    def __init__(self, cur: sqlite3.Cursor) -> None:
        self._cur = cur

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def description(self) -> Any:
        return self._cur.description

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        return self._cur.execute(text.replace("%s", "?"), tuple(params))

    def executemany(self, text: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cur.executemany(text.replace("%s", "?"), [tuple(p) for p in params])

    def fetchall(self) -> list[Any]:
        return self._cur.fetchall()

    def fetchone(self) -> Any:
        return self._cur.fetchone()


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


class PostgresViews:
    row_locks = True

    def __init__(self, store: Store, channel: str) -> None:
        assert store.pg_conninfo is not None
        self.conninfo, self.options, self.channel = store.pg_conninfo, f"-c search_path={store.pg_schema}", channel
        self.conn = psycopg.connect(self.conninfo, options=self.options)
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
            yield cur

    reading = transaction  # PostgreSQL readers never wait for writers

    def wait_for_events(self, timeout: float) -> None:
        """Wake on the library's NOTIFY of new events, or after `timeout` seconds."""
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
