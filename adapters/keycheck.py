"""A store opens only with the key it was written with (CARELANE_CIPHER_KEY).

Without this, a store encrypted at rest and opened without the key would record new facts in
clear beside the encrypted ones, and one opened with a wrong key would write facts no other
process can read. A key-check value (a known text encrypted under the store's key) is kept in
`carelane_keycheck`; a store written before it had one is probed with its first event. The
check runs when the ledger opens, before anything is read or written. On a read-only replica
it only reads: the table is neither created nor written there (the primary's replicates).
"""

from __future__ import annotations

from typing import Any

import msgspec
from eventsourcing.postgres import PostgresApplicationRecorder

from domain.ledger import Ledger

TABLE = "carelane_keycheck"
PLAIN = b"carelane key check v1"


class WrongKey(Exception):
    """The key given does not open this store; the message says what to do, in one line."""


class NoLedger(Exception):
    """A store opened read-only (a replica) that holds no ledger yet: nothing to read."""


def check(ledger: Ledger, write: bool = True) -> None:
    if not write and not _has_table(ledger, _events(ledger)):
        raise NoLedger("this store is read-only and holds no ledger yet: record facts on the primary first")
    cipher, stored = ledger.mapper.cipher, _stored(ledger, create=write)
    if stored is not None:
        if cipher is None:
            raise WrongKey("this store is encrypted: set CARELANE_CIPHER_KEY to the key it was written with")
        if not _opens(cipher, stored, lambda plain: plain == PLAIN):
            raise WrongKey(
                "CARELANE_CIPHER_KEY is not the key this store was written with; nothing was read or written"
            )
        return
    first = _first_state(ledger)
    if first is not None and cipher is None and not _is_clear(ledger, first):
        raise WrongKey("this store is encrypted: set CARELANE_CIPHER_KEY to the key it was written with")
    if first is not None and cipher is not None and not _opens(cipher, first, lambda plain: _is_clear(ledger, plain)):
        raise WrongKey(
            "CARELANE_CIPHER_KEY does not open this store's events (a wrong key, or a store written in clear)"
        )
    if cipher is not None and write:
        _write(ledger, cipher.encrypt(PLAIN))


def _opens(cipher: Any, data: bytes, good: Any) -> bool:
    try:
        return bool(good(cipher.decrypt(data)))
    except Exception:  # any failure to decrypt means: not this key
        return False


def _is_clear(ledger: Ledger, data: bytes) -> bool:
    """Stored state as the mapper writes it without a cipher: JSON (compressed or not)."""
    try:
        if ledger.mapper.compressor is not None:
            data = ledger.mapper.compressor.decompress(data)
        msgspec.json.decode(data)
    except Exception:  # not JSON after decompression: not clear state
        return False
    return True


def _run(
    ledger: Ledger, sqlite: str, pg: str, params: tuple[Any, ...] = (), fetch: bool = True, create: bool = True
) -> Any:
    recorder: Any = ledger.recorder
    events = _events(ledger)
    if isinstance(recorder, PostgresApplicationRecorder):
        from psycopg import sql

        schema = recorder.datastore.schema
        names = {"table": sql.Identifier(schema, TABLE), "events": sql.Identifier(schema, events)}
        with recorder.datastore.transaction(commit=not fetch) as curs:
            if create:
                curs.execute(sql.SQL(CREATE_PG).format(**names))
            curs.execute(sql.SQL(pg).format(**names), params)
            row = curs.fetchone() if fetch else None
            return None if row is None else bytes(next(iter(row.values())))
    with recorder.datastore.transaction(commit=not fetch) as c:
        if create:
            c.execute(CREATE_SQLITE.format(table=TABLE))
        c.execute(sqlite.format(table=TABLE, events=events), params)
        row = c.fetchone() if fetch else None
        return None if row is None else bytes(row[0])


CREATE_PG = "CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, value BYTEA NOT NULL)"
CREATE_SQLITE = "CREATE TABLE IF NOT EXISTS {table} (id INTEGER PRIMARY KEY, value BLOB NOT NULL)"


def _events(ledger: Ledger) -> str:
    return str(getattr(ledger.recorder, "events_table_name", "stored_events"))


def _stored(ledger: Ledger, create: bool) -> bytes | None:
    if not create and not _has_table(ledger, TABLE):
        return None
    query = "SELECT value FROM {table} WHERE id = 1"
    result: bytes | None = _run(ledger, query, query, create=create)
    return result


def _has_table(ledger: Ledger, name: str) -> bool:
    """Whether the table exists, asked without creating anything."""
    recorder: Any = ledger.recorder
    if isinstance(recorder, PostgresApplicationRecorder):
        query = "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = %s"
        params: tuple[str, ...] = (recorder.datastore.schema, name)
    else:
        query, params = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(query, params)
        return c.fetchone() is not None


def _first_state(ledger: Ledger) -> bytes | None:
    result: bytes | None = _run(
        ledger,
        "SELECT state FROM {events} ORDER BY rowid LIMIT 1",
        "SELECT state FROM {events} ORDER BY notification_id LIMIT 1",
        create=False,  # it reads the events, not the key-check table
    )
    return result


def _write(ledger: Ledger, value: bytes) -> None:
    _run(
        ledger,
        "INSERT OR IGNORE INTO {table} (id, value) VALUES (1, ?)",
        "INSERT INTO {table} (id, value) VALUES (1, %s) ON CONFLICT DO NOTHING",
        (value,),
        fetch=False,
    )
