"""The library's SQLite and PostgreSQL application recorders, extended to write each
event's chain row (adapters.chain) in the event's own transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import ProgrammingError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg import sql
from psycopg.rows import tuple_row

from adapters.chain import CHAIN_TABLE, GENESIS, META_TABLE, link


def _links(previous: bytes, ids: Sequence[int], stored: Sequence[StoredEvent]) -> list[tuple[int, bytes]]:
    rows = []
    for position, event in zip(ids, stored, strict=True):
        previous = link(previous, position, event.originator_id, event.originator_version, event.topic, event.state)
        rows.append((position, previous))
    return rows


# Written when a recorder creates its tables: from the next position on, the chain is v2.
_MARK_V2 = "INSERT INTO {meta} (version, since) SELECT 2, COALESCE(MAX(position), 0) + 1 FROM {chain}"


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {CHAIN_TABLE} (position INTEGER PRIMARY KEY, hash BLOB NOT NULL)",
            f"CREATE TABLE IF NOT EXISTS {META_TABLE} (version INTEGER PRIMARY KEY, since INTEGER NOT NULL)",
            _MARK_V2.format(meta=META_TABLE, chain=CHAIN_TABLE).replace("INSERT", "INSERT OR IGNORE", 1),
        ]

    def create_table(self) -> None:
        """Only when a table is missing: creating takes SQLite's write lock, which a store in
        use (another process ingesting) holds again and again, so a second process opening
        it would wait, then fail after the lock timeout."""
        with self.datastore.transaction(commit=False) as c:
            c.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = {row[0] for row in c.fetchall()}
            marked = False
            if META_TABLE in tables:
                c.execute(f"SELECT 1 FROM {META_TABLE}")
                marked = c.fetchone() is not None
        if not ({self.events_table_name, CHAIN_TABLE, META_TABLE} <= tables and marked):
            super().create_table()

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
        meta = sql.Identifier(self.datastore.schema), sql.Identifier(META_TABLE)
        self.sql_create_statements += [
            sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} (position BIGINT PRIMARY KEY, hash BYTEA NOT NULL)").format(
                *self.chain
            ),
            sql.SQL("CREATE TABLE IF NOT EXISTS {}.{} (version INTEGER PRIMARY KEY, since BIGINT NOT NULL)").format(
                *meta
            ),
            sql.SQL(_MARK_V2 + " ON CONFLICT DO NOTHING").format(
                meta=sql.SQL("{}.{}").format(*meta), chain=sql.SQL("{}.{}").format(*self.chain)
            ),
        ]
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
