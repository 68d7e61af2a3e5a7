"""The access log (HIPAA audit controls, 45 CFR 164.312(b)): every read of a patient's record
over HTTP, with the key, its role, the route, the patient and when; from the command line,
with the operating-system user as `cli:NAME` and role `cli`.

Append-only twice over: the database refuses UPDATE and DELETE on the table (a trigger), and
each row carries a hash of the row before it and of its own fields, each with its length
first, so an edit by someone who dropped the trigger breaks the chain that `carelane access
--verify` walks. The log lives beside the views (adapters.viewdb) but is none of them: a
rebuild of the views never touches it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import msgspec

from adapters import chain
from adapters.viewdb import SQLiteViews
from projections.runner import ViewDB

GENESIS = bytes(32)
_TRIGGERS_SQLITE = [
    "CREATE TRIGGER IF NOT EXISTS carelane_access_no_update BEFORE UPDATE ON carelane_access "
    "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS carelane_access_no_delete BEFORE DELETE ON carelane_access "
    "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
]
_TRIGGERS_PG = [
    "CREATE OR REPLACE FUNCTION carelane_access_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'the access log is append-only'; END $$",
    "CREATE TRIGGER carelane_access_append_only BEFORE UPDATE OR DELETE ON carelane_access "
    "FOR EACH ROW EXECUTE FUNCTION carelane_access_append_only()",
    # Row triggers do not see TRUNCATE: a statement trigger does.
    "CREATE TRIGGER carelane_access_no_truncate BEFORE TRUNCATE ON carelane_access "
    "FOR EACH STATEMENT EXECUTE FUNCTION carelane_access_append_only()",
]


class Access(msgspec.Struct, frozen=True):
    """One read of one patient's record."""

    position: int
    at: str
    key_id: str
    role: str
    route: str
    patient_id: str


def link(previous: bytes, row: Access) -> bytes:
    h = hashlib.sha256(previous)
    for field in (str(row.position), row.at, row.key_id, row.role, row.route, row.patient_id):
        data = field.encode()
        h.update(len(data).to_bytes(8))
        h.update(data)
    return h.digest()


class AccessLog:
    def __init__(self, db: ViewDB, *, create: bool = True) -> None:
        self.db = db
        if create:
            self._create()

    def _create(self) -> None:
        """Once: a store whose log exists is left as it is (creating takes locks readers wait
        for, and a read-only role may not)."""
        sqlite = isinstance(self.db, SQLiteViews)
        with self.db.reading() as cur:
            cur.execute(
                "SELECT name FROM sqlite_master WHERE name = 'carelane_access'" if sqlite
                else "SELECT tablename FROM pg_tables WHERE tablename = 'carelane_access' "
                "AND schemaname = current_schema()"
            )  # fmt: skip
            if cur.fetchone() is not None:
                return
        key = "INTEGER PRIMARY KEY" if sqlite else "BIGINT PRIMARY KEY"
        with self.db.transaction() as cur:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS carelane_access (position {key}, at TEXT NOT NULL, key_id TEXT NOT NULL, "
                "role TEXT NOT NULL, route TEXT NOT NULL, patient_id TEXT NOT NULL, hash BYTEA NOT NULL)"
                .replace("BYTEA", "BLOB" if sqlite else "BYTEA")
            )  # fmt: skip
            cur.execute("CREATE INDEX IF NOT EXISTS carelane_access_patient ON carelane_access (patient_id, position)")
            for statement in _TRIGGERS_SQLITE if sqlite else _TRIGGERS_PG:
                cur.execute(statement)

    def record(self, key_id: str, role: str, route: str, patients: Iterable[str]) -> int:
        """Append one row per patient read (in one transaction, chained); how many."""
        patients = list(dict.fromkeys(p for p in patients if p))  # a practice-wide fact names no patient
        if not patients:
            return 0  # an empty answer read no record: take no write lock for it
        at = datetime.now(UTC).isoformat(timespec="milliseconds")
        with self.db.transaction() as cur:
            if not isinstance(self.db, SQLiteViews):  # SQLite's BEGIN IMMEDIATE already serialises
                cur.execute("LOCK TABLE carelane_access IN EXCLUSIVE MODE")
            cur.execute("SELECT position, hash FROM carelane_access ORDER BY position DESC LIMIT 1")
            last = cur.fetchone()
            position, previous = (int(last[0]), bytes(last[1])) if last else (0, GENESIS)
            rows = []
            for patient_id in patients:
                position += 1
                row = Access(position, at, key_id, role, route, patient_id)
                previous = link(previous, row)
                rows.append((*msgspec.structs.astuple(row), previous))
            if rows:
                cur.executemany(
                    "INSERT INTO carelane_access (position, at, key_id, role, route, patient_id, hash) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    rows,
                )
        return len(rows)

    def of(self, patient_id: str | None = None, since: str | None = None, until: str | None = None) -> list[Access]:
        """Reads of one patient's record (or all), oldest first; from `since` and before
        `until`, ISO instants in UTC."""
        query = "SELECT position, at, key_id, role, route, patient_id FROM carelane_access WHERE 1 = 1"
        params: list[str] = []
        if patient_id is not None:
            query, params = query + " AND patient_id = %s", [*params, patient_id]
        if since is not None:
            query, params = query + " AND at >= %s", [*params, since]
        if until is not None:
            query, params = query + " AND at < %s", [*params, until]
        with self.db.reading() as cur:
            cur.execute(query + " ORDER BY position", params)
            return [Access(*row) for row in cur.fetchall()]

    def tip(self) -> tuple[int, bytes]:
        """The last row's position and hash (0 and GENESIS when empty), for a digest."""
        with self.db.reading() as cur:
            cur.execute("SELECT position, hash FROM carelane_access ORDER BY position DESC LIMIT 1")
            last = cur.fetchone()
        return (int(last[0]), bytes(last[1])) if last else (0, GENESIS)

    def through(self, position: int, hash_hex: str) -> str | None:
        """What is wrong, or None when the whole log verifies and its row at `position` (a
        digest's) has that hash: rows removed from the end, or a log rewritten with its
        chain recomputed, fail here though they pass verify()."""
        broken = self.verify()
        if broken is not None:
            return f"row {broken} was changed, removed or reordered"
        if position == 0:
            return None if hash_hex == GENESIS.hex() else "the digest's access log tip is not an empty log's"
        with self.db.reading() as cur:
            cur.execute("SELECT hash FROM carelane_access WHERE position = %s", (position,))
            row = cur.fetchone()
        if row is None:
            return f"no row at the digest's position {position}: rows removed from the end"
        if bytes(row[0]).hex() != hash_hex:
            return f"row {position} differs from the digest: the log was rewritten with its chain recomputed"
        return None

    def verify(self) -> int | None:
        """The first position whose row or order does not match the chain; None if intact."""
        previous, expected = GENESIS, 1
        with self.db.reading() as cur:
            cur.execute("SELECT position, at, key_id, role, route, patient_id, hash FROM carelane_access ORDER BY 1")
            for *fields, digest in cur.fetchall():
                row = Access(*fields)
                previous = link(previous, row)
                if row.position != expected or bytes(digest) != previous:
                    return expected
                expected += 1
        return None


def digest_of(recorder: Any, views: ViewDB, key: bytes | None) -> chain.Digest:
    """The store's digest: the event chain's tip and the access log's, signed with `key`
    (`carelane digest`, and the digest kept beside a backup)."""
    position, value = AccessLog(views).tip()
    taken = msgspec.structs.replace(chain.tip(recorder), access=chain.Tip(position, value.hex()))
    return chain.signed(taken, key)
