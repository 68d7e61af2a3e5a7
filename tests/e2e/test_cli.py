"""The command line as a user drives it: exit codes, summary, report file, stdin, demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from adapters.keys import Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from tests.factories import EST, one_of_each, patient, time_entry

ENC = msgspec.json.Encoder()


def carelane(
    *args: str, db: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"CARELANE_DB": db}
    return subprocess.run(
        [sys.executable, "-m", "adapters.cli", *args],
        input=stdin.decode() if stdin else None,
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def write(path: Path, lines: Sequence[bytes]) -> Path:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def test_all_accepted_exits_0_and_a_rerun_records_nothing_new(store_url: str, tmp_path: Path) -> None:
    """Exit 0; the summary counts lines; a second run says every line was already recorded."""
    facts_file = write(tmp_path / "facts.ndjson", [ENC.encode(x) for x in one_of_each()])
    first = carelane("ingest", str(facts_file), db=store_url)
    assert first.returncode == 0, first.stderr
    n = len(one_of_each())
    assert f"{n} lines: {n} accepted (0 already recorded), 0 refused, 0 invalid" in first.stdout
    second = carelane("ingest", str(facts_file), db=store_url)
    assert second.returncode == 0 and f"{n} accepted ({n} already recorded)" in second.stdout


def test_report_and_exit_codes(store_url: str, tmp_path: Path) -> None:
    """Exit 3 when some lines are refused, 2 when some are invalid; one report row per line."""
    refusing = write(tmp_path / "r.ndjson", [ENC.encode(patient("P1")), ENC.encode(time_entry("E1", pid="P404"))])
    report = tmp_path / "report.ndjson"
    result = carelane("ingest", str(refusing), "--report", str(report), db=store_url)
    assert result.returncode == 3, result.stderr
    assert "UNKNOWN_PATIENT" in result.stderr
    rows = [msgspec.json.decode(x) for x in report.read_bytes().splitlines()]
    assert [(r["line"], r["status"]) for r in rows] == [(1, "accepted"), (2, "refused")]
    assert rows[1]["reasons"][0]["code"] == "UNKNOWN_PATIENT"
    piped = carelane("ingest", str(refusing), "--report", "-", db=store_url)  # answers on stdout for a pipe
    assert [msgspec.json.decode(x)["status"] for x in piped.stdout.splitlines()] == ["accepted", "refused"]
    assert "2 lines: 1 accepted (1 already recorded), 1 refused" in piped.stderr and not Path("-").exists()

    broken = write(
        tmp_path / "b.ndjson",
        [ENC.encode(patient("P2")), b'{"type":"Nope"}', ENC.encode(time_entry("E2", pid="P404"))],
    )
    result = carelane("ingest", str(broken), db=store_url)
    assert result.returncode == 2
    assert "b.ndjson: line 2: $.type: unknown fact type 'Nope'" in " ".join(result.stderr.split())
    assert all(len(line) <= 80 for line in result.stderr.splitlines()), result.stderr  # wrapped, indented


def test_stdin_and_claim_batches(sqlite_url: str, tmp_path: Path) -> None:
    """'-' reads stdin; `carelane claim` takes only ClaimSubmitted lines through the same gate."""
    result = carelane("ingest", "-", db=sqlite_url, stdin=ENC.encode(patient("P1")) + b"\n")
    assert result.returncode == 0 and "1 accepted" in result.stdout
    batch = write(
        tmp_path / "claims.ndjson",
        [
            b'{"type":"ClaimSubmitted","claim_id":"C1","patient_id":"P1","billing_provider_npi":"1234567893",'
            b'"service_month":"2026-03","place_of_service":"11","lines":[{"code":"99999","units":1}]}',
            ENC.encode(patient("P2")),
        ],
    )
    result = carelane("claim", str(batch), db=sqlite_url)
    assert result.returncode == 2
    assert "CODE_UNKNOWN" in result.stderr and "expected ClaimSubmitted, got PatientRegistered" in result.stderr


def test_a_bad_store_url_is_a_clear_error(tmp_path: Path) -> None:
    """A store URL of an unknown kind is named, with exit 1 and no traceback."""
    facts_file = write(tmp_path / "f.ndjson", [ENC.encode(patient("P1"))])
    result = carelane("ingest", str(facts_file), db="mysql://x/y")
    assert result.returncode == 1
    assert "must start with sqlite:/// or postgresql://" in result.stderr and "Traceback" not in result.stderr


def test_missing_file_is_named(tmp_path: Path, sqlite_url: str) -> None:
    """A file that does not exist is named before anything is recorded."""
    result = carelane("ingest", str(tmp_path / "nope.ndjson"), db=sqlite_url)
    assert result.returncode == 2 and "nope.ndjson" in result.stderr


def test_demo_builds_a_practice_and_shows_what_happened(tmp_path: Path) -> None:
    """`carelane demo` runs on a fresh embedded store and prints readable tables with refusals."""
    result = carelane("demo", "--patients", "12", db="", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert (
        "What the ledger did with each fact" in out
        and "Refused and invalid facts" in out
        and "Claims the gate refused" in out
    )
    for code in ("TIME_OVERLAP", "ID_REUSED", "UNKNOWN_PATIENT", "FUTURE_DATED", "CODE_UNKNOWN"):
        assert code in out
    assert (tmp_path / "carelane-demo.db").exists()
    assert [line for line in out.splitlines() if len(line) > 80] == []  # readable at 80 columns
    # It ends with the way into the workbench, and the key it prints signs in there.
    token = out.rstrip().splitlines()[-1].strip()
    assert "carelane serve --db sqlite:///carelane-demo.db" in out and "/app" in out
    url = f"sqlite:///{tmp_path / 'carelane-demo.db'}"
    key = Keys(open_views(open_ledger(url), url)).check(token)
    assert key is not None and key.role == "admin"
    again = carelane("demo", "--patients", "12", db="", cwd=tmp_path)
    assert again.returncode == 0 and again.stdout.count("TIME_OVERLAP") == out.count("TIME_OVERLAP")


def _big_file(path: Path, patients: int, entries: int) -> Path:
    lines = [ENC.encode(patient(f"P{i}")) for i in range(patients)]
    start = datetime(2026, 3, 2, 8, 0, tzinfo=EST)
    for n in range(entries):
        lines.append(
            ENC.encode(
                time_entry(
                    f"E{n}",
                    f"P{n % patients}",
                    at=start + timedelta(minutes=10 * n),
                    minutes=5,
                    staff_id=f"RN-{n % 3}",
                )
            )
        )
    return write(path, lines)


@pytest.mark.parametrize("args", [["--help"], ["ingest", "--help"], ["demo", "--help"]])
def test_help_is_available(args: list[str], sqlite_url: str) -> None:
    """Every command explains itself."""
    result = carelane(*args, db=sqlite_url)
    assert result.returncode == 0 and "Usage:" in result.stdout


def _ready_practice(tmp_path: Path) -> Path:
    from tests.factories import enrolled, minutes

    lines = [ENC.encode(x) for x in enrolled("P1") + minutes(45) + enrolled("P2") + minutes(95, "P2", staff="RN-2")]
    return write(tmp_path / "practice.ndjson", lines)


def test_worklist_in_every_format(sqlite_url: str, tmp_path: Path) -> None:
    """`carelane worklist` prints the contract's JSON, a CSV with a header, and a readable table."""
    assert carelane("ingest", str(_ready_practice(tmp_path)), db=sqlite_url).returncode == 0
    as_json = carelane("worklist", "--month", "2026-03", "--format", "json", db=sqlite_url)
    assert as_json.returncode == 0, as_json.stderr
    rows = msgspec.json.decode(as_json.stdout)
    first = next(r for r in rows if r["patient_id"] == "P1")
    assert {
        "patient_id",
        "month",
        "lane",
        "billing_provider_npi",
        "minutes",
        "device_days",
        "billable",
        "blocked",
        "claimed",
        "estimated_total",
    } <= set(first)
    assert first["billable"] == [
        {"code": "99490", "units": 1, "amount": "66.00"},
        {"code": "99439", "units": 1, "amount": "50.00"},
    ]
    assert first["estimated_total"] == "116.00"
    as_csv = carelane("worklist", "--month", "2026-03", "--format", "csv", db=sqlite_url)
    assert as_csv.stdout.splitlines()[0].startswith("patient_id,month,lane")
    assert len(as_csv.stdout.splitlines()) == 3
    table = carelane("worklist", "--month", "2026-03", db=sqlite_url)
    assert "Worklist: 2 patient-months" in table.stdout and "99439 UNDER_THRESHOLD" in table.stdout
    other = carelane("worklist", "--month", "2026-03", "--provider", "1245319599", "--format", "json", db=sqlite_url)
    assert msgspec.json.decode(other.stdout) == []
    bad = carelane("worklist", "--month", "March", db=sqlite_url)
    assert bad.returncode == 2 and "expected YYYY-MM" in bad.stderr


def test_practice_fee_schedule_and_report(sqlite_url: str, tmp_path: Path) -> None:
    """A practice's CSV fee schedule prices the worklist; a bad one is named by line and column;
    the report totals work RVUs and dollars per practitioner and program."""
    assert carelane("ingest", str(_ready_practice(tmp_path)), db=sqlite_url).returncode == 0
    fees = tmp_path / "fees.csv"
    fees.write_text("code,fee,work_rvu\n99490,70.50,1.00\n99439,$52.25,0.70\n")
    rows = msgspec.json.decode(
        carelane("worklist", "--month", "2026-03", "--format", "json", "--fees", str(fees), db=sqlite_url).stdout
    )
    p1 = next(r for r in rows if r["patient_id"] == "P1")
    assert p1["estimated_total"] == "122.75" and p1["fee_schedule"] == "practice schedule fees.csv"
    broken = tmp_path / "broken.csv"
    broken.write_text("code,fee\n99490,seventy\n")
    result = carelane("worklist", "--month", "2026-03", "--fees", str(broken), db=sqlite_url)
    assert result.returncode == 1 and "broken.csv: line 2: fee: expected a number" in result.stderr
    report = msgspec.json.decode(carelane("report", "--month", "2026-03", "--format", "json", db=sqlite_url).stdout)
    assert report == [
        {
            "billing_provider_npi": "1234567893",
            "program": "CCM",
            "claimed_units": 0,
            "claimed_work_rvu": "0.00",
            "claimed_amount": "0.00",
            "billable_units": 5,
            "billable_work_rvu": "4.10",
            "billable_amount": "282.00",
            "paid_amount": "0.00",
            "underpaid_amount": "0.00",
        }
    ]


def test_an_interrupt_reports_every_line_answered(sqlite_url: str, tmp_path: Path) -> None:
    """Ctrl-C during a file of many batches: exit 130, and the summary counts the lines that
    were answered (as the report file has them), not "0 lines"."""
    big = _big_file(tmp_path / "big.ndjson", patients=40, entries=6000)
    report = tmp_path / "report.ndjson"
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.cli", "ingest", str(big), "--report", str(report)],
        env=os.environ | {"CARELANE_DB": sqlite_url, "CARELANE_BATCH": "100"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not report.exists() or report.stat().st_size < 20_000):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    answered = len(report.read_text().splitlines())
    assert proc.returncode == 130 and "interrupted" in err, err[-500:]
    assert 0 < answered < 6040 and f"{answered} lines: " in err, (answered, err[-500:])


BAD_INSTANTS = [
    (["access", "--since", "yesterday"], "--since"),
    (["events", "--recorded-after", "2026-04-01"], "--recorded-after"),
    (["audit", "P1", "--from", "2026-03", "--to", "2026-03", "--as-of", "soon"], "--as-of"),
]


@pytest.mark.parametrize(("args", "option"), BAD_INSTANTS)
def test_a_bad_instant_names_its_own_option(args: list[str], option: str, tmp_path: Path) -> None:
    result = carelane(*args, db=f"sqlite:///{tmp_path / 'l.db'}")
    assert result.returncode == 2 and f"Invalid value for {option}" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
