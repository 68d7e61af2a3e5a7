"""Tamper evidence and encryption at rest, on SQLite and PostgreSQL: a changed byte, a
deleted event or stream, or a rewritten history is found; no PHI is stored in clear."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.cipher import AESCipher
from psycopg import sql

from adapters import chain
from adapters.store import open_ledger, parse
from domain.keys import patient_month_key
from domain.ledger import Ledger
from tests.conftest import Clock
from tests.factories import one_of_each


def run_sql(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Tamper with the store as someone with database access would."""
    store = parse(url)
    if store.kind == "sqlite":
        with sqlite3.connect(store.sqlite_path or "") as conn:
            return conn.execute(statement.replace("%s", "?").replace("{schema}.", ""), params).fetchall()
    with psycopg.connect(store.pg_conninfo or "", autocommit=True) as conn:
        text = statement.replace("{schema}", sql.Identifier(store.pg_schema).as_string(conn))
        cur = conn.execute(text.replace("stored_events", "carelane_events"), params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def run_sql_many(url: str, statements: list[tuple[str, tuple[Any, ...]]]) -> None:
    """run_sql for many statements on one connection (a restore of a whole store)."""
    store = parse(url)
    if store.kind == "sqlite":
        with sqlite3.connect(store.sqlite_path or "") as conn:
            for statement, params in statements:
                conn.execute(statement.replace("%s", "?").replace("{schema}.", ""), params)
        return
    with psycopg.connect(store.pg_conninfo or "") as conn:  # one transaction
        schema = sql.Identifier(store.pg_schema).as_string(conn)
        for statement, params in statements:
            text = statement.replace("{schema}", schema).replace("stored_events", "carelane_events")
            conn.execute(text, params)  # type: ignore[arg-type]


@pytest.fixture
def recorded(ledger: Ledger) -> Ledger:
    for fact in one_of_each():
        ledger.record(fact)
    return ledger


def positions(url: str) -> list[int]:
    store = parse(url)
    column = "rowid" if store.kind == "sqlite" else "notification_id"
    return [r[0] for r in run_sql(url, f"SELECT {column} FROM {{schema}}.stored_events ORDER BY 1")]


def test_an_untouched_ledger_verifies(recorded: Ledger) -> None:
    """The chain written with the events recomputes exactly."""
    assert chain.verify(recorded.recorder) is None
    assert chain.tip(recorded.recorder).position == recorded.recorder.max_notification_id() > len(one_of_each())


@pytest.mark.parametrize("which", [0, 17, -1])
def test_one_flipped_byte_in_any_event_breaks_the_chain_there(recorded: Ledger, store_url: str, which: int) -> None:
    """Changing one byte of a stored event's state is found at that event's position."""
    target = positions(store_url)[which]
    column = "rowid" if parse(store_url).kind == "sqlite" else "notification_id"
    (state,) = run_sql(store_url, f"SELECT state FROM {{schema}}.stored_events WHERE {column} = %s", (target,))[0]
    flipped = bytearray(state)
    flipped[len(flipped) // 2] ^= 0x01
    run_sql(store_url, f"UPDATE {{schema}}.stored_events SET state = %s WHERE {column} = %s", (bytes(flipped), target))
    broken = chain.verify(recorded.recorder)
    assert broken is not None and broken.position == target and "hash" in broken.problem


def test_a_flipped_byte_in_the_sqlite_file_is_found(tmp_path: Path, clock: Clock) -> None:
    """Editing the database file itself (not through SQL) is caught the same way."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = open_ledger(url, clock=clock)
    for fact in one_of_each():
        ledger.record(fact)
    ledger.close()
    with sqlite3.connect(tmp_path / "ledger.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray((tmp_path / "ledger.db").read_bytes())
    at = data.find(b"logged on the wrong patient")
    assert at > 0
    data[at] ^= 0x20
    (tmp_path / "ledger.db").write_bytes(bytes(data))
    broken = chain.verify(open_ledger(url, clock=clock).recorder)
    assert broken is not None and "hash" in broken.problem


def test_deleting_an_event_or_a_whole_stream_is_found(recorded: Ledger, store_url: str) -> None:
    """A deleted row leaves a chain entry with no event; so does a whole deleted stream."""
    target = positions(store_url)[5]
    column = "rowid" if parse(store_url).kind == "sqlite" else "notification_id"
    run_sql(store_url, f"DELETE FROM {{schema}}.stored_events WHERE {column} = %s", (target,))
    broken = chain.verify(recorded.recorder)
    assert broken is not None and broken.position == target and "missing" in broken.problem


def test_deleting_a_whole_stream_is_found(recorded: Ledger, store_url: str) -> None:
    """Removing every event of one patient-month (and its chain rows) still breaks the chain."""
    month = patient_month_key("P1", "2026-03")
    oid = month.hex if parse(store_url).kind == "sqlite" else str(month)
    column = "rowid" if parse(store_url).kind == "sqlite" else "notification_id"
    gone = [r[0] for r in run_sql(store_url, f"SELECT {column} FROM {{schema}}.stored_events WHERE originator_id = %s",
                                  (oid,))]  # fmt: skip
    assert len(gone) > 3
    after_gap = min(p for p in positions(store_url) if p > min(gone) and p not in gone)
    run_sql(store_url, "DELETE FROM {schema}.stored_events WHERE originator_id = %s", (oid,))
    for position in gone:
        run_sql(store_url, "DELETE FROM {schema}.carelane_chain WHERE position = %s", (position,))
    broken = chain.verify(recorded.recorder)
    assert broken is not None and broken.position == after_gap


def test_a_rewrite_with_a_recomputed_chain_fails_against_an_earlier_digest(recorded: Ledger, store_url: str) -> None:
    """Someone who edits an event and recomputes every chain hash passes `verify`, but not
    `verify --digest` with a digest kept from before."""
    kept = chain.tip(recorded.recorder, b"key")
    column = "rowid" if parse(store_url).kind == "sqlite" else "notification_id"
    target = positions(store_url)[3]
    (state,) = run_sql(store_url, f"SELECT state FROM {{schema}}.stored_events WHERE {column} = %s", (target,))[0]
    run_sql(
        store_url, f"UPDATE {{schema}}.stored_events SET state = %s WHERE {column} = %s", (bytes(state) + b" ", target)
    )
    rows = run_sql(store_url, f"SELECT {column}, originator_id, originator_version, topic, state "
                              f"FROM {{schema}}.stored_events ORDER BY 1")  # fmt: skip
    previous = chain.GENESIS
    for position, oid, version, topic, body in rows:
        previous = chain.link(previous, position, oid, version, topic, bytes(body))
        run_sql(store_url, "UPDATE {schema}.carelane_chain SET hash = %s WHERE position = %s", (previous, position))
    assert chain.verify(recorded.recorder) is None
    broken = chain.verify(recorded.recorder, kept)
    assert broken is not None and "digest" in broken.problem
    assert chain.check_hmac(kept, b"key") and not chain.check_hmac(kept, b"other")


@pytest.fixture
def encrypted() -> Iterator[None]:
    os.environ["CARELANE_CIPHER_KEY"] = AESCipher.create_key(32)
    yield
    del os.environ["CARELANE_CIPHER_KEY"]


def test_with_a_key_no_phi_is_stored_in_clear(encrypted: None, store_url: str, clock: Clock, tmp_path: Path) -> None:
    """A search of the raw store for a patient's birth date or Medicare id finds nothing, yet
    the ledger reads them back, and the chain still verifies."""
    ledger = open_ledger(store_url, clock=clock)
    for fact in one_of_each():
        ledger.record(fact)
    patient = ledger.month_view("P1", "2026-03")
    assert patient is not None and patient.patient.birth_date is not None
    assert chain.verify(ledger.recorder) is None
    ledger.close()
    store = parse(store_url)
    if store.kind == "sqlite":
        raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    else:
        raw = b"".join(bytes(r[0]) for r in run_sql(store_url, "SELECT state FROM {schema}.stored_events"))
    assert len(raw) > 1000
    for secret in (b"1948-05-17", b"19480517", b"1EG4-TE5-MK72"):
        assert secret not in raw
