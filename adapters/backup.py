"""Backup and restore of a whole store: events, hash chain, views, keys and the access log.

SQLite: the online backup API (`sqlite3.Connection.backup`), a consistent copy while the
store is in use. PostgreSQL: `pg_dump --format=custom` of the store's schema, restored with
`pg_restore` into a database where that schema does not exist yet (for a point in time
between backups, run a base backup and WAL archiving: README, "Backup and restore").

Before copying, the chain's tip and the access log's are taken as a digest (signed with
CARELANE_DIGEST_KEY when set) and written beside the backup (`FILE.digest`). A restore
verifies the restored store: the whole chain and access log, and that each passes through
that digest. If it does not, the restored copy
is removed and the restore fails: a backup edited since it was taken is never put in place.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path

import msgspec
import psycopg
from psycopg import sql

from adapters import chain
from adapters.access import AccessLog, digest_of
from adapters.store import Store, open_ledger, parse, redact
from adapters.viewdb import open_views


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why, in one line."""


def digest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".digest")


def backup(url: str, out: Path, key: bytes | None) -> chain.Digest:
    """Copy the store at `url` to `out`, with its digest beside it; the digest. An existing
    file is never overwritten (it may be the only copy of an earlier backup), and a backup
    that fails leaves nothing at `out`."""
    for path in (out, digest_path(out)):
        if path.exists():
            raise BackupError(f"{path} exists; a backup never overwrites a file: give a new name")
    if not out.parent.is_dir():
        raise BackupError(f"{out.parent}: no such folder")
    store = parse(url)
    ledger = open_ledger(url)
    views = open_views(ledger, url)
    try:
        taken = digest_of(ledger.recorder, views, key)
    finally:
        views.close()
        ledger.close()
    _publish(store, url, out, msgspec.json.encode(taken))
    return taken


def _publish(store: Store, url: str, out: Path, digest: bytes) -> None:
    """Copy into a temporary file of this run's own, then link it to `out` and write the
    digest, each only if no file has that name (another run's may have appeared meanwhile):
    whatever fails, only files this run made are removed."""
    handle, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".partial")
    os.close(handle)
    partial, made = Path(name), []
    try:
        _copy(store, url, partial)
        os.link(partial, out)
        made.append(out)
        with open(digest_path(out), "xb") as kept:
            made.append(digest_path(out))
            kept.write(digest)
    except FileExistsError as e:
        raise BackupError(f"{e.filename} appeared meanwhile; a backup never overwrites a file") from None
    except (sqlite3.Error, OSError) as e:
        raise BackupError(f"{out}: the copy failed ({e})") from None
    finally:
        partial.unlink(missing_ok=True)
        if len(made) < 2:  # not finished: what this run made goes
            for path in made:
                path.unlink(missing_ok=True)


def _copy(store: Store, url: str, out: Path) -> None:
    if store.kind == "sqlite":
        assert store.sqlite_path is not None
        with closing(sqlite3.connect(store.sqlite_path)) as source, closing(sqlite3.connect(out)) as target:
            source.backup(target)  # pages copied under SQLite's own locking: a consistent copy
            target.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    else:
        _run(["pg_dump", "--format=custom", f"--schema={store.pg_schema}", f"--file={out}",
              f"--dbname={store.pg_conninfo}"], url)  # fmt: skip


def restore(source: Path, url: str, key: bytes | None, digest_file: Path | None = None) -> chain.Digest:
    """Put the backup `source` in place as the store at `url` (which must not exist yet),
    then verify it against the digest taken with the backup. Nothing stays in place if it
    does not verify."""
    expected = _read_digest(digest_file or digest_path(source))
    if not chain.check_hmac(expected, key):
        raise BackupError("the backup's digest has no valid HMAC for CARELANE_DIGEST_KEY: it may not be the one taken")
    store = parse(url)
    if store.kind == "sqlite":
        _restore_sqlite(source, store)
    else:
        _restore_postgres(source, store, url)
    try:
        problem = _verified(url, expected)
    except Exception as e:  # it does not even open (a key missing, a partial restore): remove it too
        _remove(store)
        raise BackupError(f"the restored store does not open ({e}); nothing was put in place") from None
    if problem is not None:
        _remove(store)
        raise BackupError(f"the restored store does not verify ({problem}); nothing was put in place")
    return expected


def _read_digest(path: Path) -> chain.Digest:
    try:
        return msgspec.json.decode(path.read_bytes(), type=chain.Digest)
    except FileNotFoundError:
        raise BackupError(f"{path}: no digest beside the backup (give one with --digest)") from None
    except msgspec.MsgspecError as e:
        raise BackupError(f"{path}: not a digest ({e})") from None


def _verified(url: str, expected: chain.Digest) -> str | None:
    """What is wrong with the restored store, against the digest: its event chain, then its
    access log (when the digest holds the log's tip; one taken before 2026-12 does not)."""
    ledger = open_ledger(url)
    views = open_views(ledger, url)
    try:
        broken = chain.verify(ledger.recorder, expected)
        if broken is not None:
            return f"position {broken.position}: {broken.problem}"
        if expected.access is not None:
            problem = AccessLog(views).through(expected.access.position, expected.access.hash)
            return None if problem is None else f"access log: {problem}"
        return None
    finally:
        views.close()
        ledger.close()


def _restore_sqlite(source: Path, store: Store) -> None:
    assert store.sqlite_path is not None
    target = Path(store.sqlite_path)
    if target.exists() and target.stat().st_size > 0:
        raise BackupError(f"{target}: a store is already there; restore into a new file")
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as partial:
        pass
    try:  # through SQLite, not a file copy: what the backup holds, journal included
        with sqlite3.connect(source) as src, sqlite3.connect(partial.name) as dst:
            src.execute("SELECT count(*) FROM sqlite_master").fetchone()
            src.backup(dst)
    except sqlite3.DatabaseError:
        Path(partial.name).unlink(missing_ok=True)
        raise BackupError(f"{source}: not a SQLite backup") from None
    os.replace(partial.name, target)  # all or nothing


def _restore_postgres(source: Path, store: Store, url: str) -> None:
    assert store.pg_conninfo is not None
    with psycopg.connect(store.pg_conninfo, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (store.pg_schema,)).fetchone()
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s", (store.pg_schema,)).fetchone()
    if found and (store.pg_schema != "public" or (tables and tables[0])):  # every database has an empty public
        raise BackupError(f"schema {store.pg_schema} already exists; restore into a new one")
    listing = _run(["pg_restore", "--list", str(source)], url)
    schemas = {line.split()[-2] for line in listing.splitlines() if " SCHEMA - " in line}
    if schemas and store.pg_schema not in schemas:
        raise BackupError(f"the backup holds schema {', '.join(sorted(schemas))}; restore it with ?schema= that name")
    try:
        _run(["pg_restore", "--no-owner", f"--dbname={store.pg_conninfo}", str(source)], url)
    except BackupError:
        _remove(store)  # a partial schema would refuse every later restore
        raise


def _remove(store: Store) -> None:
    if store.kind == "sqlite":
        assert store.sqlite_path is not None
        for suffix in ("", "-wal", "-shm"):
            Path(store.sqlite_path + suffix).unlink(missing_ok=True)
        return
    assert store.pg_conninfo is not None
    with psycopg.connect(store.pg_conninfo, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(store.pg_schema)))


def _run(command: list[str], url: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL's client tools)") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise BackupError(f"{command[0]} for {redact(url)}: {last}")
    return done.stdout
