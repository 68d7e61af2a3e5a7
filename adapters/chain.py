"""Tamper evidence: a hash chain over the ledger's events in the ledger's order.

Every stored event gets a row in `carelane_chain` written in the same transaction as the
event itself (the recorders below extend the library's): the hash of the previous row and
of this event's position, aggregate, version, topic and stored bytes. A changed byte, a
deleted event or a whole deleted stream breaks the chain at a position `verify` reports. A
history rewritten with a recomputed chain is caught against a digest of the chain's tip kept
outside the database (`carelane digest`, signed with an HMAC when a key is configured).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

import msgspec
from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql
from psycopg.rows import tuple_row

CHAIN_TABLE = "carelane_chain"
GENESIS = bytes(32)
PAGE = 5000


def link(previous: bytes, position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """The chain hash of one event: what came before and every byte of this one."""
    oid = originator_id.hex if isinstance(originator_id, UUID) else UUID(str(originator_id)).hex
    h = hashlib.sha256(previous)
    h.update(f"|{position}|{oid}|{version}|{topic}|".encode())
    h.update(state)
    return h.digest()


def _links(previous: bytes, ids: Sequence[int], stored: Sequence[StoredEvent]) -> list[tuple[int, bytes]]:
    rows = []
    for position, event in zip(ids, stored, strict=True):
        previous = link(previous, position, event.originator_id, event.originator_version, event.topic, event.state)
        rows.append((position, previous))
    return rows


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} (position INTEGER PRIMARY KEY, hash BLOB NOT NULL)",
        ]

    def _insert_events(self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        if ids:
            c.execute(f"SELECT hash FROM {CHAIN_TABLE} ORDER BY position DESC LIMIT 1")
            row = c.fetchone()
            tip = bytes(row[0]) if row else GENESIS
            for position, digest in _links(tip, ids, stored_events):
                c.execute(f"INSERT INTO {CHAIN_TABLE} VALUES (?, ?)", (position, digest))
        return ids


class ChainedPostgresRecorder(PostgresApplicationRecorder):
    """Chain rows are written under the library's exclusive lock on the events table, so
    concurrent writers append to the chain one transaction at a time."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.chain = sql.Identifier(self.datastore.schema), sql.Identifier(CHAIN_TABLE)
        self.sql_create_statements.append(
            sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} (position BIGINT PRIMARY KEY, hash BYTEA NOT NULL)").format(
                *self.chain
            )
        )
        # The library sends an array of a composite type, which psycopg dumps as text in
        # Python (escaping every byte of state); four typed arrays travel in binary instead.
        self.insert_columns = sql.SQL(
            "INSERT INTO {}.{} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) RETURNING notification_id"
        ).format(sql.Identifier(self.datastore.schema), sql.Identifier(self.events_table_name))
        self.select_tip = sql.SQL("SELECT hash FROM {}.{} ORDER BY position DESC LIMIT 1").format(*self.chain)
        self.insert_links = sql.SQL(
            "INSERT INTO {}.{} (position, hash) SELECT * FROM unnest(%b::bigint[], %b::bytea[])"
        ).format(*self.chain)

    def _insert_stored_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        if self.datastore.originator_id_type != "uuid":
            super()._insert_stored_events(curs, stored_events, **kwargs)
            return
        self._lock_table(curs)
        self._notify_channel(curs)
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        curs.row_factory = tuple_row  # a dict per returned id cost more than the ids
        curs.execute(self.insert_columns, columns)

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if self.datastore.originator_id_type != "uuid":
            ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        else:
            ids = [row[0] for row in curs.fetchall()]
            if len(ids) != len(stored_events):
                raise ProgrammingError(f"inserted {len(stored_events)} events, got {len(ids)} notification ids")
        if ids:
            curs.row_factory = tuple_row
            curs.execute(self.select_tip)
            row = curs.fetchone()
            tip = bytes(row[0]) if row else GENESIS
            links = _links(tip, ids, stored_events)
            curs.execute(self.insert_links, ([p for p, _ in links], [h for _, h in links]))
        return ids


# Verification


class Break(msgspec.Struct):
    position: int
    problem: str


class Digest(msgspec.Struct):
    position: int
    hash: str
    hmac: str | None = None


def chain_rows(recorder: Any, after: int) -> list[tuple[int, bytes]]:
    """The stored chain after a position, in order (one page)."""
    if isinstance(recorder, PostgresApplicationRecorder):
        query = sql.SQL("SELECT position, hash FROM {}.{} WHERE position > %s ORDER BY position LIMIT %s").format(
            sql.Identifier(recorder.datastore.schema), sql.Identifier(CHAIN_TABLE)
        )
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(query, (after, PAGE))
            return [(int(r["position"]), bytes(r["hash"])) for r in curs.fetchall()]
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(
            f"SELECT position, hash FROM {CHAIN_TABLE} WHERE position > ? ORDER BY position LIMIT ?", (after, PAGE)
        )
        return [(int(r[0]), bytes(r[1])) for r in c.fetchall()]


def _chain(recorder: Any) -> Iterator[tuple[int, bytes]]:
    after = 0
    while page := chain_rows(recorder, after):
        yield from page
        after = page[-1][0]


def _events(recorder: Any) -> Iterator[Any]:
    start = 1
    while page := recorder.select_notifications(start=start, limit=PAGE):
        yield from page
        start = page[-1].id + 1


def verify(recorder: Any, upto: Digest | None = None) -> Break | None:
    """Recompute the chain from the stored events; the first position where it breaks."""
    chain, events = _chain(recorder), _events(recorder)
    previous = GENESIS
    event = next(events, None)
    for position, stored_hash in chain:
        if upto is not None and position > upto.position:
            return None
        if event is None or event.id > position:
            return Break(position, "event missing (deleted) for this chain entry")
        if event.id < position:
            return Break(event.id, "event has no chain entry (inserted or chain row deleted)")
        expected = link(previous, position, event.originator_id, event.originator_version, event.topic, event.state)
        if expected != stored_hash:
            return Break(position, "event or chain changed: the hash does not match")
        if upto is not None and position == upto.position:
            if stored_hash.hex() != upto.hash:
                return Break(position, "history differs from the digest (rewritten with a recomputed chain)")
            return None
        previous = stored_hash
        event = next(events, None)
    if upto is not None:
        return Break(upto.position, "the digest's position is past the end of the chain (history truncated)")
    if event is not None:
        return Break(event.id, "event has no chain entry (inserted or chain row deleted)")
    return None


def tip(recorder: Any, key: bytes | None = None) -> Digest:
    last = (0, GENESIS)
    for row in _chain(recorder):
        last = row
    position, value = last
    mac = hmac.new(key, f"{position}:{value.hex()}".encode(), hashlib.sha256).hexdigest() if key else None
    return Digest(position, value.hex(), mac)


def check_hmac(digest: Digest, key: bytes | None) -> bool:
    if digest.hmac is None or key is None:
        return True
    expected = hmac.new(key, f"{digest.position}:{digest.hash}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, digest.hmac)
