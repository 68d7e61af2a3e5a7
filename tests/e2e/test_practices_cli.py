"""`carelane practices add` / `list` and a file holding several practices' lines, through
the real command line on both stores: each line recorded in its practice's store by worker
processes, every line answered in the file's order with its own number, a line for an
unknown practice refused UNKNOWN_PRACTICE, and single-practice commands told to name one."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec

from tests.factories import claim, enrolled, minutes, practice
from tests.tenants import home

__all__ = ["home"]
ENCODE = msgspec.json.Encoder().encode


def _run(home: str, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "adapters.cli", "--db", home, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)


def _line(fact: object, practice_id: str | None) -> bytes:
    data = msgspec.json.decode(ENCODE(fact))
    return ENCODE(data if practice_id is None else data | {"practice_id": practice_id})


def test_a_file_of_two_practices_is_routed_and_answered_in_order(home: str, tmp_path: Path) -> None:
    practices = tmp_path / "practices.ndjson"
    practices.write_bytes(b"\n".join(ENCODE(practice(practice_id=p, name=f"Clinic {p}")) for p in "AB") + b"\n")
    added = _run(home, "practices", "add", str(practices))
    assert added.returncode == 0, added.stderr
    listed = _run(home, "practices", "list")
    assert "A" in listed.stdout and "B" in listed.stdout and "2 practices" in listed.stdout
    lines = [_line(f, p) for p in "AB" for f in [*enrolled("R1"), *minutes(45, "R1"), claim(f"C{p}", "R1")]]
    lines.insert(3, _line(enrolled("R2")[0], "NOPE"))
    facts = tmp_path / "month.ndjson"
    facts.write_bytes(b"\n".join(lines) + b"\n")
    report = tmp_path / "report.ndjson"
    done = _run(home, "ingest", str(facts), "--report", str(report), "--workers", "2")
    assert done.returncode == 3, done.stderr  # one line for no practice here, one claim taken elsewhere
    answers = [msgspec.json.decode(x) for x in report.read_bytes().splitlines()]
    assert [a["line"] for a in answers] == list(range(1, len(lines) + 1))
    assert answers[3]["status"] == "refused" and [r["code"] for r in answers[3]["reasons"]] == ["UNKNOWN_PRACTICE"]
    assert "'NOPE'" in answers[3]["reasons"][0]["message"]
    refused = [a for a in answers if a["status"] == "refused" and a["line"] != 4]
    assert len(refused) == 1 and refused[0]["reasons"][0]["code"] == "PROVIDER_CONFLICT"
    again = _run(home, "ingest", str(facts), "--report", str(report))
    assert [msgspec.json.decode(x)["status"] for x in report.read_bytes().splitlines()] == [
        a["status"] for a in answers
    ]  # a resend gets the same answers
    assert again.returncode == 3
    ambiguous = _run(home, "worklist", "--month", "2026-03")
    assert ambiguous.returncode == 1 and "--practice" in ambiguous.stderr and "Traceback" not in ambiguous.stderr
    for p, claimed in (("A", True), ("B", False)):
        rows = msgspec.json.decode(
            _run(home, "worklist", "--month", "2026-03", "--format", "json", "--practice", p).stdout
        )
        assert [r["patient_id"] for r in rows] == ["R1"] and bool(rows[0]["claimed"]) is claimed


def test_one_practice_needs_no_naming(home: str, tmp_path: Path) -> None:
    practices = tmp_path / "practices.ndjson"
    practices.write_bytes(ENCODE(practice(practice_id="SOLO")) + b"\n")
    assert _run(home, "practices", "add", str(practices)).returncode == 0
    facts = tmp_path / "facts.ndjson"
    facts.write_bytes(b"\n".join(ENCODE(f) for f in [*enrolled("R1"), *minutes(25, "R1")]) + b"\n")
    assert _run(home, "ingest", str(facts)).returncode == 0
    rows = msgspec.json.decode(_run(home, "worklist", "--month", "2026-03", "--format", "json").stdout)
    assert [r["billable"][0]["code"] for r in rows] == ["99490"]
    unknown = _run(home, "--practice", "OTHER", "worklist", "--month", "2026-03")
    assert unknown.returncode == 1 and "UNKNOWN_PRACTICE" in unknown.stderr


def test_a_billing_companys_key_is_listed_and_revoked(home: str, tmp_path: Path) -> None:
    practices = tmp_path / "practices.ndjson"
    practices.write_bytes(b"\n".join(ENCODE(practice(practice_id=p)) for p in "AB") + b"\n")
    assert _run(home, "practices", "add", str(practices)).returncode == 0
    made = _run(home, "keys", "add", "--role", "admin", "--name", "ops", "--practices", "all")
    assert made.returncode == 0, made.stderr
    key_id = made.stdout.split()[1]
    listed = _run(home, "--practice", "A", "keys", "list")
    assert key_id in listed.stdout and "*" in listed.stdout
    assert _run(home, "--practice", "B", "keys", "revoke", key_id).returncode == 0
    after = _run(home, "--practice", "A", "keys", "list").stdout.splitlines()
    assert "active" not in next(line for line in after if key_id in line)
    assert _run(home, "keys", "add", "--role", "admin", "--name", "x", "--practices", "ZZ").returncode == 1


def test_practice_on_a_store_without_a_catalog_works_as_before(tmp_path: Path) -> None:
    """One store, no catalog: --practice (or CARELANE_PRACTICE) names one of its registered
    practices for export-837, and other commands run as they always did."""
    store = f"sqlite:///{tmp_path / 'one.db'}"
    facts = tmp_path / "facts.ndjson"
    facts.write_bytes(b"\n".join(ENCODE(f) for f in [practice(practice_id="PR-1"), *enrolled("R1")]) + b"\n")
    assert _run(store, "ingest", str(facts)).returncode == 0
    listed = _run(store, "--practice", "PR-1", "worklist", "--month", "2026-03")
    assert listed.returncode == 0, listed.stderr
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["one.db"]  # no practice store made


def test_a_practice_id_that_cannot_name_a_path_or_store_is_invalid(home: str, tmp_path: Path) -> None:
    """An id becomes `/practices/{id}` and a store's name: a slash, a dot-dot, a space or a
    look-alike letter is answered invalid, naming the line and field (never the value), and
    the good line beside them is registered."""
    bad = ["A/B", "../x", "a b", "\uff21\uff22", "-lead", "x" * 65]
    practices = tmp_path / "practices.ndjson"
    practices.write_bytes(b"\n".join(ENCODE(practice(practice_id=p)) for p in [*bad, "GOOD.1_a-b"]) + b"\n")
    added = _run(home, "practices", "add", str(practices))
    assert added.returncode == 2, added.stderr
    assert [line.split(":")[0] for line in added.stderr.splitlines()] == [f"line {n}" for n in range(1, len(bad) + 1)]
    assert all("$.practice_id" in line and "../x" not in line for line in added.stderr.splitlines())
    assert "Traceback" not in added.stderr
    listed = _run(home, "practices", "list")
    assert "GOOD.1_a-b" in listed.stdout and "A/B" not in listed.stdout
