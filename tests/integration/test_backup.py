"""Backup and restore on both stores: a backup taken while the store is in use restores into a
new store that verifies against the digest taken with it; a backup or digest changed since is
refused, and nothing stays in place; a restore never overwrites a store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import msgspec
import pytest

from adapters import backup, chain
from adapters.store import open_ledger, parse
from domain.ledger import Ledger
from tests.conftest import Clock
from tests.factories import minutes, one_of_each
from tests.integration.test_integrity import run_sql


def _target(store_url: str, tmp_path: Path, name: str) -> str:
    """A store of the same kind that does not exist yet."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / f'{name}.db'}"
    return store_url  # PostgreSQL: the same schema name, dropped first (a dump restores its own schema)


def _drop(url: str) -> None:
    store = parse(url)
    if store.kind == "postgres":
        run_sql(url, "DROP SCHEMA {schema} CASCADE")


def test_a_backup_restores_and_verifies_against_its_digest(ledger: Ledger, store_url: str, tmp_path: Path) -> None:
    for fact in one_of_each():
        ledger.record(fact)
    out = tmp_path / "store.backup"
    taken = backup.backup(store_url, out, None)
    assert taken.position > 0 and backup.digest_path(out).exists()
    ledger.record(minutes(10, staff="RN-LATE", day=20)[0])  # after the backup: not in it
    ledger.close()
    target = _target(store_url, tmp_path, "restored")
    _drop(target)
    assert backup.restore(out, target, None) == taken
    restored = open_ledger(target, clock=Clock())
    try:
        assert chain.verify(restored.recorder, taken) is None
        assert (restored.recorder.max_notification_id() or 0) == taken.position
        assert restored.month_view("P1", "2026-03") is not None
    finally:
        restored.close()
    with pytest.raises(backup.BackupError, match="already"):
        backup.restore(out, target, None)  # never over a store


def test_a_backup_never_overwrites_a_file(ledger: Ledger, store_url: str, tmp_path: Path) -> None:
    for fact in one_of_each():
        ledger.record(fact)
    out = tmp_path / "monday.backup"
    backup.backup(store_url, out, None)
    kept, digest = out.read_bytes(), backup.digest_path(out).read_bytes()
    ledger.record(minutes(10, staff="RN-LATE", day=20)[0])
    with pytest.raises(backup.BackupError, match="exists; a backup never overwrites"):
        backup.backup(store_url, out, None)  # Monday's backup may be the only copy
    assert out.read_bytes() == kept and backup.digest_path(out).read_bytes() == digest
    lone = tmp_path / "lone.backup"
    backup.digest_path(lone).write_bytes(b"{}")  # a digest left beside the name counts too
    with pytest.raises(backup.BackupError, match=r"lone\.backup\.digest exists"):
        backup.backup(store_url, lone, None)
    assert not lone.exists()
    with pytest.raises(backup.BackupError, match="no such folder"):
        backup.backup(store_url, tmp_path / "missing" / "x.backup", None)
    notes = tmp_path / "tuesday.backup.partial"
    notes.write_text("a file of the user's own")  # never taken for a work file, nor removed
    backup.backup(store_url, tmp_path / "tuesday.backup", None)
    assert notes.read_text() == "a file of the user's own"
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work file left behind


def test_a_changed_backup_or_digest_is_refused_and_nothing_stays(
    ledger: Ledger, store_url: str, tmp_path: Path
) -> None:
    for fact in one_of_each():
        ledger.record(fact)
    out = tmp_path / "store.backup"
    taken = backup.backup(store_url, out, b"k" * 32)
    ledger.close()
    target = _target(store_url, tmp_path, "edited")
    _drop(target)
    if store_url.startswith("sqlite"):
        with sqlite3.connect(out) as conn:  # an edit of the backup itself
            conn.execute("UPDATE stored_events SET state = CAST(REPLACE(CAST(state AS TEXT), '1948', '1949') AS BLOB)")
    else:  # a dump is compressed; an edited digest stands for a history rewritten since
        forged = msgspec.structs.replace(taken, hash="00" * 32)
        backup.digest_path(out).write_bytes(msgspec.json.encode(forged))
    with pytest.raises(backup.BackupError):
        backup.restore(out, target, b"k" * 32)
    store = parse(target)
    if store.kind == "sqlite":
        assert not Path(store.sqlite_path or "").exists()
    else:
        assert not run_sql(target, "SELECT 1 FROM pg_namespace WHERE nspname = %s", (store.pg_schema,))
    unsigned = tmp_path / "unsigned.digest"
    unsigned.write_bytes(msgspec.json.encode(msgspec.structs.replace(taken, hmac=None)))
    with pytest.raises(backup.BackupError, match="HMAC"):
        backup.restore(out, target, b"k" * 32, unsigned)


def test_a_backups_digest_holds_the_access_log_and_a_restore_checks_it(
    ledger: Ledger, store_url: str, tmp_path: Path
) -> None:
    """Reads of patients' records are part of what a backup keeps: rows removed from the end
    of the backup's access log (its guard dropped, so its own chain still verifies) are
    found on restore, against the digest taken with the backup."""
    from adapters.access import AccessLog
    from adapters.viewdb import open_views

    for fact in one_of_each():
        ledger.record(fact)
    views = open_views(ledger, store_url)
    AccessLog(views).record("k1", "auditor", "GET /audit/{patient_id:str}", ["P1", "P2", "P3"])
    views.close()
    out = tmp_path / "store.backup"
    taken = backup.backup(store_url, out, None)
    ledger.close()
    assert taken.access is not None and taken.access.position == 3
    target = _target(store_url, tmp_path, "reads")
    _drop(target)
    if store_url.startswith("sqlite"):
        with sqlite3.connect(out) as conn:  # an edit of the backup itself
            conn.execute("DROP TRIGGER carelane_access_no_delete")
            conn.execute("DELETE FROM carelane_access WHERE position = 3")
    else:  # a dump is compressed; a digest past the log's end stands for rows removed since
        later = msgspec.structs.replace(taken, access=chain.Tip(4, taken.access.hash))
        backup.digest_path(out).write_bytes(msgspec.json.encode(later))
    with pytest.raises(backup.BackupError, match="access log: no row at the digest's position"):
        backup.restore(out, target, None)
