"""The tenant catalog: which practices a billing company's ledger serves, and where each
practice's store is (its own SQLite file, or its own PostgreSQL schema, on any server).

The catalog lives in the home store (`--db`), beside the first practice's own tables: the
first practice added keeps the home store, so a single practice never names anything and a
ledger that grows a second practice keeps every fact it had. Later practices get a store of
their own, named from the home's, or from a template (`{practice}`) on another server.

The catalog holds routing only: practice ids, store URLs, which practice a key belongs to
(so a key used on another practice's routes is told 403, not 401), the keys that span
practices, and the cross-practice claim index (adapters.claim_index).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import psycopg
from psycopg import sql

from adapters.store import Store, StoreError, parse, redact, store_url
from adapters.viewdb import PostgresViews, SQLiteViews

TABLES = (
    "CREATE TABLE IF NOT EXISTS carelane_tenants (practice_id TEXT PRIMARY KEY, url TEXT NOT NULL UNIQUE, "
    "added_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS carelane_catalog_secret (id INTEGER PRIMARY KEY, secret TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS carelane_key_homes (key_id TEXT PRIMARY KEY, practice_id TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS carelane_claim_slots (mbi_hash TEXT NOT NULL, slot TEXT NOT NULL, "
    "month TEXT NOT NULL, practice_id TEXT NOT NULL, program TEXT NOT NULL, PRIMARY KEY (mbi_hash, slot, month))",
    "CREATE TABLE IF NOT EXISTS carelane_claim_holds (practice_id TEXT NOT NULL, claim_id TEXT NOT NULL, "
    "mbi_hash TEXT NOT NULL, slot TEXT NOT NULL, month TEXT NOT NULL, attempt TEXT NOT NULL, "
    "held_at TEXT NOT NULL, PRIMARY KEY (practice_id, claim_id, mbi_hash, slot, month, attempt))",
    # reconcile reads a practice's holds by age
    "CREATE INDEX IF NOT EXISTS carelane_claim_holds_age ON carelane_claim_holds (practice_id, held_at)",
)


CatalogDB = SQLiteViews | PostgresViews


def no_practice(practice_id: str) -> str:
    """The one wording of UNKNOWN_PRACTICE, wherever a practice is named and not found."""
    return f"UNKNOWN_PRACTICE: no practice {practice_id[:64]!r} here; see `carelane practices list`"


class TenantError(Exception):
    """A practice that cannot be resolved; the message says why, in one line."""


@dataclass(frozen=True)
class Tenant:
    practice_id: str
    url: str


def open_catalog_db(home: str, *, create: bool) -> CatalogDB | None:
    """A connection to the home store's catalog tables; None when there is no catalog and
    `create` is false (a read never creates a store or a table)."""
    store = parse(home)
    try:
        return _open(store, home, create=create)
    except psycopg.OperationalError as e:
        raise StoreError(f"cannot reach PostgreSQL for {redact(home)}: {str(e).strip().splitlines()[0]}") from None


def _open(store: Store, home: str, *, create: bool) -> CatalogDB | None:
    if store.kind == "sqlite":
        assert store.sqlite_path is not None
        if not create and not os.path.exists(store.sqlite_path):
            return None
        db: CatalogDB = SQLiteViews(store.sqlite_path)
    else:
        if create:
            with psycopg.connect(store.pg_conninfo or "", autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(store.pg_schema)))
        db = PostgresViews(store, "carelane_catalog")
    if create:
        with db.transaction() as cur:
            for statement in TABLES:
                cur.execute(statement)
    elif not _has_catalog(db, store.kind):
        db.close()
        return None
    return db


def _has_catalog(db: CatalogDB, kind: str) -> bool:
    with db.reading() as cur:
        if kind == "sqlite":
            cur.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'carelane_tenants'")
        else:
            cur.execute("SELECT to_regclass('carelane_tenants') IS NOT NULL WHERE true")
        row = cur.fetchone()
    return bool(row and row[0])


class Catalog:
    """The practices of the home store at `home` (a store URL)."""

    def __init__(self, home: str, db: CatalogDB) -> None:
        self.home, self.db = home, db

    @classmethod
    def open(cls, home: str | None = None, *, create: bool = False) -> Catalog | None:
        url = store_url(home)
        db = open_catalog_db(url, create=create)
        return None if db is None else cls(url, db)

    def close(self) -> None:
        self.db.close()

    def tenants(self) -> list[Tenant]:
        with self.db.reading() as cur:
            cur.execute("SELECT practice_id, url FROM carelane_tenants ORDER BY added_at, practice_id")
            return [Tenant(*row) for row in cur.fetchall()]

    def tenant(self, practice_id: str) -> Tenant | None:
        return next((t for t in self.tenants() if t.practice_id == practice_id), None)

    def add(self, practice_id: str, template: str | None = None) -> Tenant:
        """Place a practice: the first keeps the home store; the others get their own, from
        `template` (a store URL with `{practice}`) or named after the home's. Adding a
        practice already placed changes nothing."""
        with self.db.transaction() as cur:
            cur.execute("SELECT practice_id, url FROM carelane_tenants WHERE practice_id = %s", (practice_id,))
            found = cur.fetchone()
            if found is not None:
                return Tenant(*found)
            if (problem := id_problem(practice_id)) is not None:  # checked where a practice is placed
                raise TenantError(problem)
            cur.execute("SELECT COUNT(*) FROM carelane_tenants")
            first = cur.fetchone()[0] == 0
            url = self.home if first and template is None else place(self.home, practice_id, template)
            if too_long(url):  # a bad template is refused before anything is recorded
                raise TenantError(f"--at: the schema name for {practice_id[:64]!r} is over 63 bytes; shorten it")
            cur.execute("SELECT practice_id FROM carelane_tenants WHERE url = %s", (url,))
            if cur.fetchone() is not None:
                raise TenantError(f"the store for {practice_id[:64]!r} is another practice's already")
            cur.execute(
                "INSERT INTO carelane_tenants (practice_id, url, added_at) VALUES (%s, %s, %s)",
                (practice_id, url, datetime.now(UTC).isoformat(timespec="microseconds")),
            )
        return Tenant(practice_id, url)

    def resolve(self, practice_id: str | None) -> Tenant | None:
        """The practice a command or request is for: the one named, or the only one. None
        when the catalog is empty (the home store is the one ledger, as before tenancy)."""
        tenants = self.tenants()
        if practice_id is not None:
            found = next((t for t in tenants if t.practice_id == practice_id), None)
            if found is None:
                raise TenantError(no_practice(practice_id))
            return found
        if len(tenants) > 1:
            names = ", ".join(t.practice_id for t in tenants[:5]) + (", ..." if len(tenants) > 5 else "")
            raise TenantError(f"this ledger serves {len(tenants)} practices ({names}); name one with --practice ID")
        return tenants[0] if tenants else None

    def secret(self) -> bytes:
        """The catalog's own key for MBI hashes (made once; read without a write lock)."""
        with self.db.reading() as cur:
            cur.execute("SELECT secret FROM carelane_catalog_secret WHERE id = 1")
            found = cur.fetchone()
        if found is not None:
            return bytes.fromhex(found[0])
        with self.db.transaction() as cur:
            cur.execute("SELECT secret FROM carelane_catalog_secret WHERE id = 1")
            row = cur.fetchone()
            if row is None:
                made = secrets.token_hex(32)
                cur.execute(
                    "INSERT INTO carelane_catalog_secret (id, secret) VALUES (1, %s) ON CONFLICT DO NOTHING", (made,)
                )
                cur.execute("SELECT secret FROM carelane_catalog_secret WHERE id = 1")
                row = cur.fetchone()
        return bytes.fromhex(row[0])

    def key_home(self, key_id: str) -> str | None:
        with self.db.reading() as cur:
            cur.execute("SELECT practice_id FROM carelane_key_homes WHERE key_id = %s", (key_id,))
            row = cur.fetchone()
        return None if row is None else str(row[0])

    def note_key(self, key_id: str, practice_id: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "INSERT INTO carelane_key_homes (key_id, practice_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (key_id, practice_id),
            )


def place(home: str, practice_id: str, template: str | None) -> str:
    """A practice's own store URL: the template with `{practice}` filled, or beside the home
    store (`name.<practice>.db`; on PostgreSQL the schema `<home schema>_<practice>`)."""
    slug = slugify(practice_id)
    if template is not None:
        if "{practice}" not in template:
            raise TenantError("--at needs {practice} in it, e.g. postgresql://host2/carelane?schema=p_{practice}")
        return template.replace("{practice}", slug)
    store = parse(home)
    if store.kind == "sqlite":
        assert store.sqlite_path is not None
        path = Path(store.sqlite_path)
        return "sqlite:///" + str(path.with_name(f"{path.stem}.{slug}{path.suffix or '.db'}"))
    parts = urlparse(home)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = store.pg_schema if store.pg_schema != "public" else "practice"
    name = f"{base}_{slug}"
    if len(name.encode()) > PG_NAME:  # PostgreSQL's limit: keep a digest of the id, so two ids never share a schema
        name = name.encode()[:54].decode(errors="ignore") + "_" + hashlib.sha256(practice_id.encode()).hexdigest()[:8]
    query["schema"] = name
    return parts._replace(query=urlencode(query)).geturl()


PG_NAME = 63  # bytes: PostgreSQL cuts a longer name, and two names alike up to there are one schema


def too_long(url: str) -> bool:
    """A PostgreSQL store whose schema name PostgreSQL would cut (and so share with another)."""
    store = parse(url)
    return store.kind != "sqlite" and len(store.pg_schema.encode()) > PG_NAME


# A practice's id names its URL path (`/practices/{id}/...`) and its store, so it is kept to
# what both carry unchanged.
PRACTICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def id_problem(practice_id: str) -> str | None:
    """Why this id cannot be a practice of the catalog, naming the field, never the value."""
    if PRACTICE_ID.fullmatch(practice_id):
        return None
    return ("$.practice_id: a practice's id is 1 to 64 letters, digits, '.', '_' or '-', starting with a "
            "letter or digit (it names the practice's URL path and store)")  # fmt: skip


def slugify(practice_id: str) -> str:
    """A name for files and schemas: lower-case letters, digits and `_`; an id that had to
    change gets a short digest, so two ids never share a store."""
    slug = re.sub(r"[^a-z0-9_]", "_", practice_id.lower())[:40]
    if slug != practice_id:
        slug += "_" + hashlib.sha256(practice_id.encode()).hexdigest()[:8]
    return slug
