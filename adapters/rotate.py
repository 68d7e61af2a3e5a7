"""Rotating the key that encrypts stored events at rest (CARELANE_CIPHER_KEY).

Every event's state is decrypted with the old key and encrypted with the new one, in one
transaction that keeps other writers out; each is checked to decrypt back to the same bytes.
The chain hashes the stored bytes, so it is recomputed over the new ones (as chain version 2
from position 1). The old chain is verified first, and the rotation is recorded in
`carelane_chain_rotations` (when, the tip's position, its old and its new hash), so a digest
kept from before can still be matched to the rotation that replaced it. A store in clear is
encrypted the same way (no old key).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import psycopg
from eventsourcing.cipher import AESCipher
from eventsourcing.utils import Environment
from psycopg import sql

from adapters import chain, keycheck
from adapters.store import Store, events_table, open_ledger, parse

ROTATIONS = "carelane_chain_rotations"


class RotationError(Exception):
    """A rotation that could not be done; nothing was changed."""


def rotate(url: str, new_key: str) -> tuple[chain.Digest, chain.Digest]:
    """Re-encrypt the store at `url` under `new_key`; the chain's tip before and after."""
    try:
        new = AESCipher(Environment(env={"CIPHER_KEY": new_key}))
    except ValueError as e:
        raise RotationError(f"the new key is not an AES key ({e})") from None
    ledger = open_ledger(url)  # opens only with the key the store was written with (keycheck)
    try:
        broken = chain.verify(ledger.recorder)
        if broken is not None:
            raise RotationError(f"the chain is broken at position {broken.position}; rotate only an intact store")
        before, old, table = chain.tip(ledger.recorder), ledger.mapper.cipher, events_table(ledger)
    finally:
        ledger.close()
    store = parse(url)
    with _transaction(store, table) as (cur, mark):
        cur.execute(f"SELECT {mark}, originator_id, originator_version, topic, state FROM {table} ORDER BY 1")
        rows = cur.fetchall()
        if (int(rows[-1][0]) if rows else 0) != before.position:  # written between the check and the lock
            raise RotationError("the store changed while the rotation began; stop every writer and run it again")
        updates, links = _reencrypted(rows, old, new)
        _rewrite(cur, mark, table, updates, links, new.encrypt(keycheck.PLAIN))
        after = chain.Digest(before.position, (links[-1][1] if links else chain.GENESIS).hex())
        cur.execute(f"CREATE TABLE IF NOT EXISTS {ROTATIONS} (rotated_at TEXT, position BIGINT, old_hash TEXT, "
                    "new_hash TEXT)")  # fmt: skip
        cur.execute(f"INSERT INTO {ROTATIONS} VALUES (%s, %s, %s, %s)",
                    (datetime.now(UTC).isoformat(), before.position, before.hash, after.hash))  # fmt: skip
    with _key(new_key):
        ledger = open_ledger(url)
        try:
            broken = chain.verify(ledger.recorder)
            for n in ledger.recorder.select_notifications(start=1, limit=10**9):
                ledger.mapper.to_domain_event(n)  # every event reads under the new key
        finally:
            ledger.close()
    if broken is not None:
        raise RotationError(f"after rotating, the chain breaks at {broken.position}")  # pragma: no cover
    return before, after


def _reencrypted(rows: list[Any], old: Any, new: AESCipher) -> tuple[list[Any], list[tuple[int, bytes]]]:
    """Each event's new state, checked to decrypt back; and the chain over the new states."""
    updates, links, previous = [], [], chain.GENESIS
    for position, oid, version, topic, state in rows:
        plain = old.decrypt(bytes(state)) if old is not None else bytes(state)
        sealed = new.encrypt(plain)
        if new.decrypt(sealed) != plain:
            raise RotationError(f"event at position {position} did not survive re-encryption; nothing changed")
        updates.append((sealed, position))
        previous = chain.link(previous, int(position), str(oid), int(version), str(topic), sealed)
        links.append((int(position), previous))
    return updates, links


def _rewrite(cur: Any, mark: str, table: str, updates: list[Any], links: list[Any], check: bytes) -> None:
    cur.executemany(f"UPDATE {table} SET state = %s WHERE {mark} = %s", updates)
    cur.execute(f"DELETE FROM {chain.CHAIN_TABLE}")
    cur.executemany(f"INSERT INTO {chain.CHAIN_TABLE} (position, hash) VALUES (%s, %s)", links)
    cur.execute(f"DELETE FROM {chain.META_TABLE}")
    cur.execute(f"INSERT INTO {chain.META_TABLE} (version, since) VALUES (2, 1)")
    cur.execute(f"CREATE TABLE IF NOT EXISTS {keycheck.TABLE} (id INTEGER PRIMARY KEY, value {_blob(cur)} NOT NULL)")
    cur.execute(f"DELETE FROM {keycheck.TABLE}")
    cur.execute(f"INSERT INTO {keycheck.TABLE} (id, value) VALUES (1, %s)", (check,))


def _blob(cur: Any) -> str:
    return "BLOB" if isinstance(cur, _Lite) else "BYTEA"


class _Lite:
    """A sqlite3 cursor that takes %s placeholders, as the PostgreSQL one does."""

    def __init__(self, cur: sqlite3.Cursor) -> None:
        self.cur = cur

    def execute(self, text: str, params: Any = ()) -> None:
        self.cur.execute(text.replace("%s", "?"), params)

    def executemany(self, text: str, params: Any) -> None:
        self.cur.executemany(text.replace("%s", "?"), params)

    def fetchall(self) -> list[Any]:
        return self.cur.fetchall()


@contextlib.contextmanager
def _transaction(store: Store, table: str) -> Iterator[tuple[Any, str]]:
    """One transaction that keeps every writer out; the cursor and the position column."""
    if store.kind == "sqlite":
        with _sqlite_exclusive(store.sqlite_path or "") as cur:
            yield cur, "rowid"
        return
    with psycopg.connect(store.pg_conninfo or "") as pg, pg.cursor() as cur:
        cur.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(store.pg_schema)))
        cur.execute(sql.SQL("LOCK TABLE {} IN ACCESS EXCLUSIVE MODE").format(sql.Identifier(table)))
        yield cur, "notification_id"


@contextlib.contextmanager
def _sqlite_exclusive(path: str) -> Iterator[_Lite]:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield _Lite(conn.cursor())
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    finally:
        conn.close()


@contextlib.contextmanager
def _key(key: str) -> Iterator[None]:
    before = os.environ.get("CARELANE_CIPHER_KEY")
    os.environ["CARELANE_CIPHER_KEY"] = key
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CARELANE_CIPHER_KEY", None)
        else:
            os.environ["CARELANE_CIPHER_KEY"] = before
