"""Tamper evidence: a hash chain over the ledger's events in the ledger's order.

Every stored event gets a row in `carelane_chain` written in the same transaction as the
event itself (the recorders in adapters.chain_recorders extend the library's): the hash of the previous row and
of this event's position, aggregate, version, topic and stored bytes. A changed byte, a
deleted event or a whole deleted stream breaks the chain at a position `verify` reports. A
history rewritten with a recomputed chain is caught against a digest of the chain's tip kept
outside the database (`carelane digest`, signed with an HMAC when a key is configured).

Chain version 2 (CHANGELOG.md) puts a length before each field, so bytes moved from the
topic into the state (or any field into the next) change the hash; version 1 joined them
with "|". `carelane_chain_meta` records the first position written as version 2: rows
before it are version 1, and verify recomputes each with its own version.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Annotated, Any
from uuid import UUID

import msgspec
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg import sql
from psycopg.rows import tuple_row

CHAIN_TABLE = "carelane_chain"
META_TABLE = "carelane_chain_meta"  # (version, since): the first position of a chain version
GENESIS = bytes(32)
PAGE = 5000
VERSION = 2


def link_v1(previous: bytes, position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """Chain version 1: fields joined with "|" (kept to verify rows written before v2)."""
    oid = originator_id.hex if isinstance(originator_id, UUID) else UUID(str(originator_id)).hex
    h = hashlib.sha256(previous)
    h.update(f"|{position}|{oid}|{version}|{topic}|".encode())
    h.update(state)
    return h.digest()


def link(previous: bytes, position: int, originator_id: UUID | str, version: int, topic: str, state: bytes) -> bytes:
    """The chain hash of one event (version 2): what came before and every byte of this one,
    each field preceded by its length so that no byte can move from one field to another."""
    oid = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
    h = hashlib.sha256(previous)
    h.update(b"carelane-chain-v2")
    for field in (position.to_bytes(8), oid.bytes, version.to_bytes(8), topic.encode(), state):
        h.update(len(field).to_bytes(8))
        h.update(field)
    return h.digest()


class Break(msgspec.Struct):
    position: int
    problem: str


# A sha256 in hex: a kept digest's text is signed as "position:hash...", so no hash may hold ':'
Hash = Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{64}$")]


class Tip(msgspec.Struct):
    """Another chained log's last row (the access log's): its position and hash."""

    position: int
    hash: Hash


class Digest(msgspec.Struct):
    position: int
    hash: Hash
    hmac: str | None = None
    access: Tip | None = None  # the access log's tip; absent from digests taken before 2026-12


def _rows(recorder: Any, pg: sql.SQL | sql.Composed, lite: str, params: tuple[Any, ...]) -> list[Any]:
    if isinstance(recorder, PostgresApplicationRecorder):
        with recorder.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as curs:
            curs.execute(pg, params)
            return list(curs.fetchall())
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(lite, params)
        return [tuple(r) for r in c.fetchall()]


def _pg_name(recorder: Any, table: str) -> sql.Composed:
    return sql.SQL("{}.{}").format(sql.Identifier(recorder.datastore.schema), sql.Identifier(table))


def chain_rows(recorder: Any, after: int) -> list[tuple[int, bytes]]:
    """The stored chain after a position, in order (one page)."""
    query = "SELECT position, hash FROM {} WHERE position > %s ORDER BY position LIMIT %s"
    pg = sql.SQL(query).format(_pg_name(recorder, CHAIN_TABLE)) if _is_pg(recorder) else sql.SQL("")
    rows = _rows(recorder, pg, query.format(CHAIN_TABLE).replace("%s", "?"), (after, PAGE))
    return [(int(r[0]), bytes(r[1])) for r in rows]


def v2_since(recorder: Any) -> int | None:
    """The first position of chain version 2 (None: the whole chain is version 1)."""
    query = "SELECT since FROM {} WHERE version = 2"
    pg = sql.SQL(query).format(_pg_name(recorder, META_TABLE)) if _is_pg(recorder) else sql.SQL("")
    rows = _rows(recorder, pg, query.format(META_TABLE), ())
    return int(rows[0][0]) if rows else None


def _is_pg(recorder: Any) -> bool:
    return isinstance(recorder, PostgresApplicationRecorder)


def _chain(recorder: Any) -> Iterator[tuple[int, bytes]]:
    after = 0
    while page := chain_rows(recorder, after):
        yield from page
        after = page[-1][0]


class Row(msgspec.Struct, array_like=True):
    """A stored event as the store holds it (the aggregate id as stored, not converted)."""

    id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes | None  # None: not stored as bytes (SQLite keeps whatever type is written)


def _events(recorder: Any) -> Iterator[Row]:
    table = recorder.events_table_name
    if _is_pg(recorder):
        query: sql.SQL | sql.Composed = sql.SQL(
            "SELECT notification_id, originator_id::text, originator_version, topic, state FROM {} "
            "WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(_pg_name(recorder, table))
    else:
        query = sql.SQL("")
    lite = (
        f"SELECT rowid, originator_id, originator_version, topic, state FROM {table} "
        "WHERE rowid > ? ORDER BY rowid LIMIT ?"
    )
    after = 0
    while page := _rows(recorder, query, lite, (after, PAGE)):
        yield from (Row(int(r[0]), str(r[1]), int(r[2]), str(r[3]), _bytes(r[4])) for r in page)
        after = int(page[-1][0])


def _bytes(value: Any) -> bytes | None:
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else None


def _canonical(originator_id: str, pg: bool) -> bool:
    """The form the ledger writes and reads by (32 lowercase hex digits on SQLite; PostgreSQL's
    uuid type has one form). Another spelling of the same id keeps the hash but hides the
    event from its aggregate."""
    try:
        uuid = UUID(originator_id)
    except ValueError:
        return False
    return originator_id == (str(uuid) if pg else uuid.hex)


def verify(recorder: Any, upto: Digest | None = None) -> Break | None:
    """Recompute the whole chain from the stored events; the first position where it breaks.
    With a digest, the chain must also pass through the digest's position with its hash."""
    since, pg = v2_since(recorder), _is_pg(recorder)
    events = _events(recorder)
    previous, matched = GENESIS, upto is None
    event = next(events, None)
    for position, stored_hash in _chain(recorder):
        if upto is not None and not matched and position > upto.position:
            return Break(upto.position, "no chain entry at the digest's position (history rewritten or truncated)")
        if event is None or event.id > position:
            return Break(position, "event missing (deleted) for this chain entry")
        if event.id < position:
            return Break(event.id, "event has no chain entry (inserted or chain row deleted)")
        if not _canonical(event.originator_id, pg):
            return Break(position, "the event's aggregate id was rewritten (not in the form the ledger writes)")
        if event.state is None:
            return Break(position, "the event's state was rewritten (not stored as bytes, as the ledger writes it)")
        hashed = link if since is not None and position >= since else link_v1
        expected = hashed(previous, position, event.originator_id, event.originator_version, event.topic, event.state)
        if expected != stored_hash:
            return Break(position, "event or chain changed: the hash does not match")
        if upto is not None and position == upto.position:
            if stored_hash.hex() != upto.hash:
                return Break(position, "history differs from the digest (rewritten with a recomputed chain)")
            matched = True
        previous = stored_hash
        event = next(events, None)
    if not matched:
        assert upto is not None
        return Break(upto.position, "the digest's position is past the end of the chain (history truncated)")
    if event is not None:
        return Break(event.id, "event has no chain entry (inserted or chain row deleted)")
    return None


def tip(recorder: Any, key: bytes | None = None) -> Digest:
    """The chain's last row as a digest: one query (a /metrics scrape reads it too)."""
    query = "SELECT position, hash FROM {} ORDER BY position DESC LIMIT 1"
    pg = sql.SQL(query).format(_pg_name(recorder, CHAIN_TABLE)) if _is_pg(recorder) else sql.SQL("")
    rows = _rows(recorder, pg, query.format(CHAIN_TABLE), ())
    position, value = (int(rows[0][0]), bytes(rows[0][1])) if rows else (0, GENESIS)
    return signed(Digest(position, value.hex()), key)


def signed(digest: Digest, key: bytes | None) -> Digest:
    """The digest with its HMAC under `key` (none without a key), over every tip it holds."""
    mac = hmac.new(key, _signed_text(digest), hashlib.sha256).hexdigest() if key else None
    return msgspec.structs.replace(digest, hmac=mac)


def _signed_text(digest: Digest) -> bytes:
    """What the HMAC covers: a digest without the access log's tip signs as it always did."""
    text = f"{digest.position}:{digest.hash}"
    if digest.access is not None:
        text += f":access:{digest.access.position}:{digest.access.hash}"
    return text.encode()


def check_hmac(digest: Digest, key: bytes | None) -> bool:
    """With a key, a digest needs a valid HMAC: an unsigned one could have been written by
    whoever rewrote the history. Without a key there is nothing to check it with."""
    if key is None:
        return True
    if digest.hmac is None:
        return False
    expected = hmac.new(key, _signed_text(digest), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, digest.hmac)
