"""Sending again and crashing (issue 19): the resend policy is "a line already answered in a
submission gets the same answer" (domain.answered). A file killed mid-way with kill -9 and
run again, a file sent twice, and two ingests of one file at once all end with the answers
and the ledger of one clean run."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters.store import open_ledger
from adapters.synthetic import practice_lines
from tests.e2e.test_cli import write

BATCH = "40"  # small batches: a file of ~900 lines is ~20 of them, so a kill lands mid-file
MONTHS = ["2026-02", "2026-03"]
# When the ledger recorded something, not what; a message may say when (FUTURE_DATED).
VOLATILE = {"timestamp", "identified_at", "message"}


def practice(tmp_path: Path) -> Path:
    """A synthetic practice, ending with the lines a real feed sends now and then: among them
    T-OVERLAP (refused TIME_OVERLAP against T-DUPE) before a void of T-DUPE."""
    return write(tmp_path / "practice.ndjson", practice_lines(30, MONTHS, seed=11))


def ingest(path: Path, url: str, report: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = os.environ | {"CARELANE_DB": url, "CARELANE_BATCH": BATCH}
    cmd = [sys.executable, "-m", "adapters.cli", "ingest", str(path), "--report", str(report), *extra]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def answers(report: Path) -> list[tuple[int, str, list[str]]]:
    """Each line's answer, less where it was stored and whether it was stored before."""
    rows = [json.loads(x) for x in report.read_text().splitlines()]
    return [(r["line"], r["status"], [x["code"] for x in r.get("reasons") or ()]) for r in rows]


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def differences(got: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """The streams that differ, each with what it holds and what it should (for the message)."""
    keys = sorted(set(got) | set(want))
    return [f"{k}: {got.get(k)!r} != {want.get(k)!r}" for k in keys if got.get(k) != want.get(k)][:3]


def ledger_of(url: str) -> dict[str, list[tuple[int, str, Any]]]:
    """Every stream, each event as (version, topic, state), less when it was recorded."""
    ledger = open_ledger(url)
    try:
        streams: dict[str, list[tuple[int, str, Any]]] = {}
        for n in ledger.recorder.select_notifications(start=1, limit=1_000_000):
            state = _strip(msgspec.json.decode(n.state))
            streams.setdefault(str(n.originator_id), []).append((n.originator_version, n.topic, state))
        return {k: sorted(v) for k, v in streams.items()}
    finally:
        ledger.close()


@pytest.fixture
def clean(tmp_path: Path) -> tuple[Path, list[tuple[int, str, list[str]]], dict[str, Any]]:
    """The file, and the answers and ledger of one clean run of it."""
    path = practice(tmp_path)
    url, report = f"sqlite:///{tmp_path / 'clean.db'}", tmp_path / "clean.ndjson"
    assert ingest(path, url, report).wait(timeout=300) == 2  # some lines are invalid, some refused
    got = answers(report)
    assert ("refused", ["TIME_OVERLAP"]) in [(s, r) for _, s, r in got]
    return path, got, ledger_of(url)


def test_killed_mid_file_many_times_then_rerun_equals_a_clean_run(
    store_url: str, tmp_path: Path, clean: tuple[Path, list[Any], dict[str, Any]]
) -> None:
    """kill -9 at several points of a file of many batches, each time on a fresh store; the
    rerun answers every line as the clean run did, and the ledger is the clean run's."""
    path, expected_answers, expected_ledger = clean
    rng = random.Random(19)
    total = sum(len(v) for v in expected_ledger.values())
    for trial in range(3):
        url = store_url if trial == 0 else _fresh(store_url, tmp_path, trial)
        ledger = open_ledger(url)
        proc = ingest(path, url, tmp_path / f"killed-{trial}.ndjson")
        target = rng.randint(total // 10, total * 8 // 10)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if (ledger.recorder.max_notification_id() or 0) >= target:
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = ledger.recorder.max_notification_id() or 0
        ledger.close()
        assert 0 < partial < total, f"trial {trial}: the kill did not land mid-file ({partial} of {total})"
        report = tmp_path / f"rerun-{trial}.ndjson"
        assert ingest(path, url, report).wait(timeout=300) == 2
        assert answers(report) == expected_answers, f"trial {trial}: killed after {partial} events"
        assert not differences(ledger_of(url), expected_ledger), (
            trial,
            partial,
            differences(ledger_of(url), expected_ledger),
        )


def test_a_file_sent_twice_gets_the_same_answers_and_changes_nothing(
    store_url: str, tmp_path: Path, clean: tuple[Path, list[Any], dict[str, Any]]
) -> None:
    """Sent again, T-OVERLAP is refused TIME_OVERLAP again, though the void that followed it
    in the file has freed the slot; nothing new is recorded. --reconsider judges it afresh."""
    path, expected_answers, expected_ledger = clean
    for run in ("first", "second"):
        assert ingest(path, store_url, tmp_path / f"{run}.ndjson").wait(timeout=300) == 2
        assert answers(tmp_path / f"{run}.ndjson") == expected_answers
        assert not differences(ledger_of(store_url), expected_ledger)
    assert ingest(path, store_url, tmp_path / "again.ndjson", "--reconsider").wait(timeout=300) == 2
    reconsidered = dict((line, (status, codes)) for line, status, codes in answers(tmp_path / "again.ndjson"))
    overlap = next(n for n, raw in enumerate(path.read_bytes().splitlines(), 1) if b'"T-OVERLAP"' in raw)
    assert dict((n, (s, c)) for n, s, c in expected_answers)[overlap] == ("refused", ["TIME_OVERLAP"])
    assert reconsidered[overlap] == ("accepted", [])  # the void of T-DUPE freed the slot


def test_two_ingests_of_one_file_at_once_end_as_one_ingest(
    store_url: str, tmp_path: Path, clean: tuple[Path, list[Any], dict[str, Any]]
) -> None:
    """Two processes ingest the same file at the same moment; each answers every line as a
    clean run does, and the ledger is exactly one clean run's."""
    path, expected_answers, expected_ledger = clean
    procs = [ingest(path, store_url, tmp_path / f"twin-{i}.ndjson") for i in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [2, 2]
    for i in range(2):
        assert answers(tmp_path / f"twin-{i}.ndjson") == expected_answers
    assert not differences(ledger_of(store_url), expected_ledger)


def _fresh(store_url: str, tmp_path: Path, trial: int) -> str:
    """Another empty store of the same kind for the next trial."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / f'trial-{trial}.db'}"
    return store_url.replace("schema=", f"schema=k{trial}_", 1)
