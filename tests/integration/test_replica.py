"""Reads served from a PostgreSQL streaming replica (issue 16): facts recorded on a primary,
read with the real CLI on its hot standby. The standby answers the worklist, the event
stream and the audit packet exactly as the primary does; it creates and writes nothing, and
a command that must write there fails in one line, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from eventsourcing.cipher import AESCipher

from adapters.replica import ReadOnlyStore
from adapters.store import open_ledger
from domain import facts as f
from tests.factories import enrolled, minutes, patient
from tests.pg_standby import standby_pair, wait_for_catch_up

pytestmark = pytest.mark.postgres

CARELANE = str(Path(sys.executable).with_name("carelane"))  # the venv's console script
MONTH = "2026-03"
ENC = msgspec.json.Encoder()
# Two CCM patients for March: 45 and 25 minutes.
FACTS = [*enrolled("P1"), *minutes(45, "P1"), *enrolled("P2"), *minutes(25, "P2", staff="RN-2")]


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[str, str]]:
    """(primary_url, standby_url); the clusters are dropped after the module, pass or fail."""
    with standby_pair() as urls:
        yield urls


def carelane(db: str, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CARELANE_DB", "CARELANE_CIPHER_KEY")}
    env |= {"CARELANE_CIPHER_KEY": key} if key else {}
    return subprocess.run([CARELANE, "--db", db, *args], capture_output=True, text=True, env=env, timeout=120)


def ok(db: str, *args: str, key: str | None = None) -> str:
    done = carelane(db, *args, key=key)
    assert done.returncode == 0, done.stderr
    return done.stdout


def record(db: str, path: Path, items: Sequence[f.Fact], key: str | None = None) -> None:
    """Ingest facts on the primary with the CLI, then bring its views up to date."""
    path.write_bytes(b"".join(ENC.encode(x) + b"\n" for x in items))
    ok(db, "ingest", str(path), key=key)
    ok(db, "project", key=key)


def worklist(db: str, *extra: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = msgspec.json.decode(ok(db, "worklist", "--month", MONTH, "--format", "json", *extra))
    return rows


def one_line_error(done: subprocess.CompletedProcess[str], words: str) -> None:
    assert done.returncode == 1, done.stdout
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and words in done.stderr, done.stderr


def events_stored(db: str) -> int:
    with psycopg.connect(db, connect_timeout=5) as conn:
        row = conn.execute("SELECT COUNT(*) FROM public.carelane_events").fetchone()
    return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def recorded(pair: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """FACTS recorded and projected on the primary, replayed on the standby."""
    primary, standby = pair
    record(primary, tmp_path_factory.mktemp("replica") / "facts.ndjson", FACTS)
    wait_for_catch_up(primary, standby)
    return primary, standby


def test_standby_worklist_equals_the_primarys(recorded: tuple[str, str]) -> None:
    """`worklist --no-refresh` on the standby prints the primary's worklist, row for row."""
    primary, standby = recorded
    on_primary = worklist(primary)
    assert [(r["patient_id"], [b["code"] for b in r["billable"]]) for r in on_primary] == [
        ("P1", ["99490", "99439"]),  # 45 minutes: the base code and one 20-minute add-on (G-05)
        ("P2", ["99490"]),
    ]
    assert worklist(standby, "--no-refresh") == on_primary
    said = carelane(standby, "worklist", "--month", MONTH, "--no-refresh").stderr  # the primary logged its read
    assert "note: this read is not in the access log (a read-only replica)" in said


def test_standby_events_and_audit_equal_the_primarys(recorded: tuple[str, str]) -> None:
    """`events` and `audit` read the same stream on the standby as on the primary."""
    primary, standby = recorded
    on_primary = ok(primary, "events")
    assert [msgspec.json.decode(line)["fact"]["type"] for line in on_primary.splitlines()] == [
        type(x).__name__ for x in FACTS
    ]
    assert ok(standby, "events") == on_primary
    audit = ("audit", "P1", "--from", MONTH, "--to", MONTH)
    packets = [msgspec.json.decode(ok(db, *audit)) for db in (standby, primary)]
    for packet in packets:  # the instants it was made at differ; the content must not
        del packet["as_of"], packet["generated_at"]
    assert packets[0] == packets[1] and packets[0]["events_read"] == 13


def test_ingest_on_the_standby_fails_in_one_line(recorded: tuple[str, str], tmp_path: Path) -> None:
    """A write sent to the standby is refused with one clear line; nothing is recorded."""
    primary, standby = recorded
    before = events_stored(standby)
    new = tmp_path / "new.ndjson"
    new.write_bytes(ENC.encode(patient("P9")) + b"\n")
    one_line_error(carelane(standby, "ingest", str(new)), "this store is a read-only replica")
    assert events_stored(standby) == before == events_stored(primary)


def test_a_lagging_view_is_read_as_it_is_or_refused_in_one_line(pair: tuple[str, str], tmp_path: Path) -> None:
    """Facts recorded on the primary but not yet projected: the standby's `--no-refresh` read
    shows the view as it stands; a refreshing read says, in one line, to project on the
    primary. Once the primary projects, the standby shows the new minutes. (A schema of its
    own, so the other tests' stream stays as they expect.)"""
    primary, standby = (f"{url}?schema=lagging" for url in pair)
    record(primary, tmp_path / "first.ndjson", [*enrolled("P1"), *minutes(25, "P1")])
    path = tmp_path / "more.ndjson"
    path.write_bytes(b"".join(ENC.encode(x) + b"\n" for x in minutes(20, "P1", staff="RN-3", day=9)))
    ok(primary, "ingest", str(path))
    wait_for_catch_up(*pair)
    assert [r["minutes"]["CCM"]["clinical_staff"] for r in worklist(standby, "--no-refresh")] == [25]
    one_line_error(carelane(standby, "worklist", "--month", MONTH), "views are behind the log")
    ok(primary, "project")
    wait_for_catch_up(*pair)
    assert [r["minutes"]["CCM"]["clinical_staff"] for r in worklist(standby, "--no-refresh")] == [45]


def test_a_store_opened_read_only_refuses_writes(recorded: tuple[str, str]) -> None:
    """`open_ledger(read_only=True)` on the primary reads, and refuses to record."""
    primary, _ = recorded
    ledger = open_ledger(primary, read_only=True)
    try:
        with pytest.raises(ReadOnlyStore, match="read-only replica"):
            ledger.record(patient("P8"))
    finally:
        ledger.close()


def test_an_encrypted_store_is_read_on_the_standby_only_with_its_key(pair: tuple[str, str], tmp_path: Path) -> None:
    """The key check runs on the standby without writing: with the key it reads the
    primary's worklist; with another key, one line naming CARELANE_CIPHER_KEY."""
    key = AESCipher.create_key(32)
    primary, standby = (f"{url}?schema=sealed" for url in pair)
    record(primary, tmp_path / "sealed.ndjson", [*enrolled("P1"), *minutes(30, "P1")], key=key)
    wait_for_catch_up(*pair)
    sealed = ("worklist", "--month", MONTH, "--format", "json", "--no-refresh")
    assert ok(standby, *sealed, key=key) == ok(primary, *sealed, key=key)
    one_line_error(carelane(standby, *sealed, key=AESCipher.create_key(32)), "CARELANE_CIPHER_KEY")
