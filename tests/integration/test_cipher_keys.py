"""A store opens only with the key it was written with, on SQLite and PostgreSQL: no key, a
wrong key, or a key for a store written in clear is one clear line, and nothing is read or
written (issue 19: facts stored in clear beside encrypted ones, a store made unreadable)."""

from __future__ import annotations

import pytest
from eventsourcing.cipher import AESCipher

from adapters.store import StoreError, open_ledger
from tests.conftest import Clock
from tests.e2e.test_cli import carelane
from tests.factories import patient
from tests.integration.test_integrity import run_sql

KEY, OTHER = AESCipher.create_key(32), AESCipher.create_key(32)


def count(url: str) -> int:
    return int(run_sql(url, "SELECT COUNT(*) FROM {schema}.stored_events")[0][0])


def opened(url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch, key: str | None) -> None:
    if key is None:
        monkeypatch.delenv("CARELANE_CIPHER_KEY", raising=False)
    else:
        monkeypatch.setenv("CARELANE_CIPHER_KEY", key)
    open_ledger(url, clock=clock).close()


def test_an_encrypted_store_refuses_no_key_and_a_wrong_key(
    store_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written under KEY: without a key, or with another, opening fails in one line naming
    CARELANE_CIPHER_KEY, and the store is unchanged; with KEY it opens and records."""
    monkeypatch.setenv("CARELANE_CIPHER_KEY", KEY)
    ledger = open_ledger(store_url, clock=clock)
    ledger.record(patient("P1"))
    ledger.close()
    before = count(store_url)
    for key in (None, OTHER):
        with pytest.raises(StoreError, match="CARELANE_CIPHER_KEY") as refused:
            opened(store_url, clock, monkeypatch, key)
        assert "\n" not in str(refused.value) and KEY not in str(refused.value)
    assert count(store_url) == before
    monkeypatch.setenv("CARELANE_CIPHER_KEY", KEY)
    again = open_ledger(store_url, clock=clock)
    again.record(patient("P2"))
    again.close()


def test_a_store_written_in_clear_refuses_a_key(store_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key given to a store written without one would mix encrypted and clear events."""
    monkeypatch.delenv("CARELANE_CIPHER_KEY", raising=False)
    ledger = open_ledger(store_url, clock=clock)
    ledger.record(patient("P1"))
    ledger.close()
    with pytest.raises(StoreError, match="written in clear"):
        opened(store_url, clock, monkeypatch, KEY)


def test_a_store_encrypted_before_the_key_check_is_probed(
    store_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An encrypted store with no key-check value yet (written before it existed) is checked
    against its first event: the right key opens it and writes the value; a wrong one fails."""
    monkeypatch.setenv("CARELANE_CIPHER_KEY", KEY)
    ledger = open_ledger(store_url, clock=clock)
    ledger.record(patient("P1"))
    ledger.close()
    run_sql(store_url, "DELETE FROM {schema}.carelane_keycheck")
    with pytest.raises(StoreError, match="does not open"):
        opened(store_url, clock, monkeypatch, OTHER)
    with pytest.raises(StoreError, match="is encrypted"):
        opened(store_url, clock, monkeypatch, None)
    opened(store_url, clock, monkeypatch, KEY)
    assert len(run_sql(store_url, "SELECT value FROM {schema}.carelane_keycheck")) == 1


def test_project_rebuild_with_a_wrong_key_empties_nothing(
    sqlite_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`carelane project --rebuild` with a wrong key fails before it touches the views."""
    monkeypatch.setenv("CARELANE_CIPHER_KEY", KEY)
    ledger = open_ledger(sqlite_url, clock=clock)
    ledger.record(patient("P1"))
    ledger.close()
    assert carelane("project", db=sqlite_url).returncode == 0
    rows = run_sql(sqlite_url, "SELECT COUNT(*) FROM view_events")[0][0]
    monkeypatch.setenv("CARELANE_CIPHER_KEY", OTHER)
    result = carelane("project", "--rebuild", db=sqlite_url)
    assert result.returncode != 0 and "Traceback" not in result.stderr and "CARELANE_CIPHER_KEY" in result.stderr
    assert run_sql(sqlite_url, "SELECT COUNT(*) FROM view_events")[0][0] == rows > 0
