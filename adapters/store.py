"""Store selection: `--db URL` or CARELANE_DB, embedded SQLite by default.

`sqlite:///path/file.db` uses the library's SQLite module; `postgresql://user:pass@host:port/db`
its PostgreSQL module over psycopg 3. A `?schema=NAME` query parameter keeps a ledger in its
own PostgreSQL schema (created if missing): tests use one schema each.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql
from psycopg.rows import tuple_row

from adapters import keycheck
from domain.ledger import Ledger, Ports
from domain.policy import DEFAULT_POLICY, Policy
from domain.rulebook import DEFAULT_RULEBOOK, Rulebook

DEFAULT_URL = "sqlite:///carelane.db"
MAPPER_TOPIC = "adapters.mapper:MsgspecMapper"
READ_ONLY_RECORDERS = {"sqlite": "adapters.replica:ReadOnlySQLiteRecorder",  # refuse writes in one line
                       "postgres": "adapters.replica:ReadOnlyPostgresRecorder"}  # fmt: skip


class StoreError(Exception):
    """The store URL cannot be used; the message says why."""


@dataclass(frozen=True)
class Store:
    url: str
    kind: str  # "sqlite" | "postgres"
    env: dict[str, str]
    sqlite_path: str | None = None
    pg_conninfo: str | None = None
    pg_schema: str = "public"


def store_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get("CARELANE_DB") or DEFAULT_URL


def parse(url: str) -> Store:
    parts = urlparse(url)
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        if parts.netloc:
            raise StoreError(f"{url}: write sqlite:///relative.db or sqlite:////absolute.db")
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise StoreError(f"{url}: no file name")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "APPLICATION_RECORDER_TOPIC": "adapters.chain_recorders:ChainedSQLiteRecorder",
        }
        return Store(url, "sqlite", env | _common_env(), sqlite_path=path)
    if parts.scheme in ("postgresql", "postgres"):
        query = parse_qs(parts.query)
        schema = query.get("schema", ["public"])[0]
        dbname = unquote(parts.path.lstrip("/")) or "postgres"
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or os.environ.get("USER", "postgres")),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_SCHEMA": schema,
            "APPLICATION_RECORDER_TOPIC": "adapters.chain_recorders:ChainedPostgresRecorder",
        } | _common_env()
        conninfo = psycopg.conninfo.make_conninfo(
            dbname=dbname,
            host=env["POSTGRES_HOST"],
            port=env["POSTGRES_PORT"],
            user=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"] or None,
        )
        return Store(url, "postgres", env, pg_conninfo=conninfo, pg_schema=schema)
    raise StoreError(f"{url}: the store URL must start with sqlite:/// or postgresql://")


def _common_env() -> dict[str, str]:
    """The mapper, and encryption at rest when CARELANE_CIPHER_KEY is set (AES-GCM through
    the library's cipher hook; `python -c "from eventsourcing.cipher import AESCipher;
    print(AESCipher.create_key(32))"` makes a key)."""
    env = {"MAPPER_TOPIC": MAPPER_TOPIC}
    key = os.environ.get("CARELANE_CIPHER_KEY")
    if key:
        env |= {"CIPHER_TOPIC": "eventsourcing.cipher:AESCipher", "CIPHER_KEY": key}
    return env


def open_ledger(
    url: str | None = None,
    *,
    policy: Policy = DEFAULT_POLICY,
    clock: Callable[[], datetime] | None = None,
    rulebook: Rulebook = DEFAULT_RULEBOOK,
    read_only: bool = False,
) -> Ledger:
    """The ledger on the store at `url` (or CARELANE_DB, or ./carelane.db). On a PostgreSQL
    hot standby, or when `read_only`, it creates nothing, writes no key check, and refuses
    every write (adapters.replica.ReadOnlyStore)."""
    store = parse(store_url(url))
    with _initialising(store, read_only) as read_only:
        env = store.env | ({"CREATE_TABLE": "false", "APPLICATION_RECORDER_TOPIC": READ_ONLY_RECORDERS[store.kind]}
                           if read_only else {})  # fmt: skip
        ledger = Ledger(env, policy=policy, clock=clock, rulebook=rulebook, ports=lambda made: ports(made, store))
    try:
        keycheck.check(ledger, write=not read_only)
    except (keycheck.WrongKey, keycheck.NoLedger) as e:
        ledger.close()
        raise StoreError(f"{redact(store.url)}: {e}") from None
    return ledger


def ports(ledger: Ledger, store: Store) -> Ports:
    """The store's one-query reads, on the recorder's own connections."""
    return Ports(fetcher(ledger, store), locator(ledger, store))


@contextlib.contextmanager
def _initialising(store: Store, read_only: bool) -> Iterator[bool]:
    """Create the schema and let the library create its tables, one process at a time:
    PostgreSQL's CREATE ... IF NOT EXISTS fails ("tuple concurrently updated") when workers
    start together, so an advisory lock serialises start-up; on SQLite, switching a new file
    to WAL fails at once ("database is locked") when another process does the same, so a
    lock on a file beside it does. Yields whether the store is read-only (asked to be, or a hot
    standby, which refuses even CREATE ... IF NOT EXISTS): then nothing is created."""
    if store.kind == "sqlite" and store.sqlite_path and store.sqlite_path != ":memory:" and not read_only:
        with open(f"{store.sqlite_path}.init-lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield False
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        return
    if store.kind != "postgres":
        yield read_only
        return
    assert store.pg_conninfo is not None
    try:
        conn = psycopg.connect(store.pg_conninfo, autocommit=True)
    except psycopg.OperationalError as e:
        raise StoreError(f"cannot reach PostgreSQL for {redact(store.url)}: {e}") from e
    with conn:
        if read_only or in_recovery(conn):
            yield True
            return
        conn.execute("SELECT pg_advisory_lock(%s)", (_INIT_LOCK,))
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(store.pg_schema)))
            yield False
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_INIT_LOCK,))


_INIT_LOCK = 0x6361726C656E65  # "carelane"


def in_recovery(conn: psycopg.Connection[Any]) -> bool:
    """The server is a hot standby replaying its primary's WAL: it takes reads only."""
    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    return bool(row and row[0])


def events_table(ledger: Ledger) -> str:
    return getattr(ledger.recorder, "events_table_name", "stored_events")


def locator(ledger: Ledger, store: Store) -> Callable[[Sequence[tuple[UUID, int]]], dict[tuple[UUID, int], int]]:
    """Finds the notification positions of events already stored (for resent facts), many in
    one query, on the recorder's own connections."""
    table = events_table(ledger)
    recorder: Any = ledger.recorder

    def sqlite_locate(pairs: Sequence[tuple[UUID, int]]) -> dict[tuple[UUID, int], int]:
        found: dict[tuple[UUID, int], int] = {}
        for start in range(0, len(pairs), 400):  # two bound parameters a pair, under SQLite's limit
            chunk = pairs[start : start + 400]
            marks = ",".join("(?, ?)" for _ in chunk)
            query = (f"SELECT originator_id, originator_version, rowid FROM {table} "
                     f"WHERE (originator_id, originator_version) IN (VALUES {marks})")  # fmt: skip
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(query, [x for oid, version in chunk for x in (oid.hex, version)])
                found.update({(UUID(r[0]), int(r[1])): int(r[2]) for r in c.fetchall()})
        return found

    if store.kind == "sqlite":
        return sqlite_locate
    pg_query = sql.SQL(
        "SELECT e.originator_id, e.originator_version, e.notification_id FROM {}.{} e "
        "JOIN unnest(%b::uuid[], %b::bigint[]) AS k(id, v) ON e.originator_id = k.id AND e.originator_version = k.v"
    ).format(sql.Identifier(store.pg_schema), sql.Identifier(table))

    def pg_locate(pairs: Sequence[tuple[UUID, int]]) -> dict[tuple[UUID, int], int]:
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
            curs.execute(pg_query, ([oid for oid, _ in pairs], [version for _, version in pairs]))
            return {(oid, int(version)): int(n) for oid, version, n in curs.fetchall()}

    return pg_locate


def fetcher(ledger: Ledger, store: Store) -> Callable[[list[UUID]], dict[UUID, list[StoredEvent]]]:
    """Loads the stored events of many aggregates in one query (bulk ingest's prefetch)."""
    table = events_table(ledger)

    step = 500 if store.kind == "sqlite" else 20_000  # SQLite's bound-parameter limit; one array on PostgreSQL

    def fetch(ids: list[UUID]) -> dict[UUID, list[StoredEvent]]:
        out: dict[UUID, list[StoredEvent]] = {}
        for start in range(0, len(ids), step):
            for oid, version, topic, state in _rows(ids[start : start + step]):
                key = oid if isinstance(oid, UUID) else UUID(oid)
                out.setdefault(key, []).append(StoredEvent(key, version, topic, bytes(state)))
        return out

    def _rows(ids: list[UUID]) -> list[tuple[Any, int, str, bytes]]:
        recorder: Any = ledger.recorder
        if store.kind == "sqlite":
            marks = ",".join("?" * len(ids))
            query = (f"SELECT originator_id, originator_version, topic, state FROM {table} "
                     f"WHERE originator_id IN ({marks}) ORDER BY originator_id, originator_version")  # fmt: skip
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(query, [i.hex for i in ids])
                return [tuple(r) for r in c.fetchall()]
        pg = sql.SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = ANY(%b) ORDER BY originator_id, originator_version"
        ).format(sql.Identifier(store.pg_schema), sql.Identifier(table))
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row, binary=True) as curs:
            curs.execute(pg, (ids,))
            rows: list[tuple[Any, int, str, bytes]] = curs.fetchall()
            return rows

    return fetch


STALE = 0.1  # share of a table's rows by which the planner's estimate may be off


def analyse(ledger: Ledger) -> list[str]:
    """Take fresh planner statistics of the store's tables whose row estimate is far off;
    returns their names. Autovacuum does this on a server where it is on, but not necessarily
    before the next query: without statistics PostgreSQL plans a stream read
    (`originator_id = $1`) as a parallel scan, 50x slower, once the log holds millions of
    events. Bulk ingest and projection catch-up call this when they finish. The log and the
    chain are measured exactly by their last position; other tables by the server's running
    counts. SQLite's plans here need no statistics (every read is by key or named index)."""
    recorder: Any = ledger.recorder
    if not isinstance(recorder, PostgresApplicationRecorder) or getattr(recorder, "read_only", False):
        return []  # nothing to measure, or a standby: it refuses ANALYZE and replicates the primary's statistics
    schema, events = recorder.datastore.schema, events_table(ledger)
    exact = {events: "notification_id", "carelane_chain": "position"}
    stale = []
    with recorder.datastore.get_connection() as conn:
        tables = conn.execute(
            "SELECT c.relname, c.reltuples, COALESCE(s.n_live_tup, 0) AS live FROM pg_class c "
            "LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid "
            "WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %s) AND c.relkind = 'r' "
            "ORDER BY c.relname",
            (schema,),
        ).fetchall()
        for row in tables:
            name, estimate = str(row["relname"]), float(row["reltuples"])
            if name in exact:
                query = sql.SQL("SELECT COALESCE(MAX({}), 0) AS n FROM {}.{}")
                found = conn.execute(
                    query.format(sql.Identifier(exact[name]), sql.Identifier(schema), sql.Identifier(name))
                )
                actual = float(found.fetchone()["n"])  # type: ignore[index]  # a row: MAX always returns one
            else:
                actual = float(row["live"])
            never = estimate < 0 and actual > 0
            if never or abs(actual - max(estimate, 0)) > max(1000, STALE * actual):
                conn.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier(schema), sql.Identifier(name)))
                stale.append(name)
    return stale


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlparse(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
