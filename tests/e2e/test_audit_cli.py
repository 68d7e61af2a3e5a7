"""The auditor's and the compliance officer's commands as they run them: the HTML packet
renders in headless Chromium with every claim's evidence; events stream as NDJSON;
`project --follow` keeps views current and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
import pytest

from adapters.synthetic import last_full_month, months_ending
from tests.conftest import REQUIRE_PG
from tests.e2e.test_cli import carelane, write
from tests.factories import enrolled, minutes

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip


def _chromium() -> str:
    if CHROMIUM is None:
        if REQUIRE_PG:  # CI: .ci/run installs Chromium, so its absence is a failure there
            pytest.fail("chromium is not installed")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    return CHROMIUM


def test_the_html_packet_of_a_demo_patient_renders_in_chromium(tmp_path: Path) -> None:
    """Headless Chromium loads the packet; its DOM has a table per month and every claim with
    its evidence; a screenshot is drawn."""
    browser = _chromium()
    assert carelane("demo", "--patients", "6", db="", cwd=tmp_path).returncode == 0
    first, second = months_ending(last_full_month(__import__("datetime").date.today()), 2)
    db = "sqlite:///carelane-demo.db"
    as_json = carelane("audit", "P00001", "--from", first, "--to", second, db=db, cwd=tmp_path)
    packet = msgspec.json.decode(as_json.stdout)
    claims = [c["claim_id"] for s in packet["sections"] for c in s["claims"]]
    assert claims, "the demo bills its first month"
    page = tmp_path / "packet.html"
    result = carelane("audit", "P00001", "--from", first, "--to", second, "--format", "html", "--out", str(page),
                      db=db, cwd=tmp_path)  # fmt: skip
    assert result.returncode == 0, result.stderr
    profile = tmp_path / "chromium"
    dom = subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout  # fmt: skip
    assert f'id="month-{first}"' in dom and f'id="month-{second}"' in dom
    for claim_id in claims:
        assert f'id="claim-{claim_id}"' in dom
    assert dom.count("as it stood when the claim was submitted") == len(claims)
    assert packet["digest"] in dom
    shot = tmp_path / "packet.png"
    subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", "--window-size=1200,1600",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)  # fmt: skip
    assert shot.exists() and shot.stat().st_size > 20_000


def test_events_command_streams_ndjson(sqlite_url: str, tmp_path: Path) -> None:
    """`carelane events --patient --type` prints one JSON object per matching fact."""
    enc = msgspec.json.Encoder()
    lines = [enc.encode(x) for x in enrolled("P1") + minutes(25) + enrolled("P2")]
    assert carelane("ingest", str(write(tmp_path / "f.ndjson", lines)), db=sqlite_url).returncode == 0
    result = carelane("events", "--patient", "P1", "--type", "TimeLogged", "--from", "2026-03", db=sqlite_url)
    rows = [msgspec.json.decode(x) for x in result.stdout.splitlines()]
    assert result.returncode == 0 and len(rows) == 2
    assert {r["fact"]["type"] for r in rows} == {"TimeLogged"} and rows[0]["position"] < rows[1]["position"]
    bad = carelane("events", "--type", "Nonsense", db=sqlite_url)
    assert bad.returncode == 2


def test_project_follow_keeps_views_current_and_stops_on_sigterm(sqlite_url: str, tmp_path: Path) -> None:
    """A follower picks up facts recorded after it started, and exits 0 on SIGTERM."""
    enc = msgspec.json.Encoder()
    assert carelane("ingest", str(write(tmp_path / "a.ndjson", [enc.encode(x) for x in enrolled("P1")])),
                    db=sqlite_url).returncode == 0  # fmt: skip
    env = os.environ | {"CARELANE_DB": sqlite_url}
    follower = subprocess.Popen([sys.executable, "-m", "adapters.cli", "project", "--follow"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        time.sleep(3)
        assert carelane("ingest", str(write(tmp_path / "b.ndjson", [enc.encode(x) for x in minutes(25)])),
                        db=sqlite_url).returncode == 0  # fmt: skip
        deadline = time.monotonic() + 30
        rows: list[object] = []
        while time.monotonic() < deadline and not rows:
            out = carelane("worklist", "--month", "2026-03", "--format", "json", "--no-refresh", db=sqlite_url)
            rows = msgspec.json.decode(out.stdout) if out.returncode == 0 else []
            time.sleep(0.5)
        assert rows, "the follower never projected the new facts"
    finally:
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=30)
    assert follower.returncode == 0 and "stopped" in err


def test_project_killed_mid_batch_then_restarted_equals_a_rebuild(sqlite_url: str, tmp_path: Path) -> None:
    """kill -9 of `project --follow` while it works; a restart brings views to exactly what a
    rebuild from zero gives."""
    import sqlite3

    from adapters.synthetic import practice_lines
    from adapters.viewdb import open_views
    from projections import runner, views
    from tests.integration.test_projections import snapshot

    big = write(tmp_path / "big.ndjson", practice_lines(40, ["2026-02", "2026-03"], seed=11))
    assert carelane("ingest", str(big), db=sqlite_url).returncode in (2, 3)
    env = os.environ | {"CARELANE_DB": sqlite_url}
    worker = subprocess.Popen([sys.executable, "-m", "adapters.cli", "project", "--follow"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    path = sqlite_url.removeprefix("sqlite:///")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(path) as conn:
                if conn.execute("SELECT COUNT(*) FROM view_tracking").fetchone()[0] >= 1:
                    break
        except sqlite3.OperationalError:
            pass
        time.sleep(0.02)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert carelane("project", db=sqlite_url).returncode == 0
    from adapters.store import open_ledger

    ledger = open_ledger(sqlite_url)
    db = open_views(ledger, sqlite_url)
    restarted = snapshot(db)
    runner.rebuild(db, views.ALL)
    runner.catch_up(ledger, db, views.ALL)
    assert snapshot(db) == restarted and restarted["view_worklist"]


def test_command_line_reads_of_a_patients_record_are_in_the_access_log(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """audit, worklist and events from the command line are logged as reads over HTTP are:
    the operating-system user as `cli:NAME` (from the system, not $LOGNAME, which anyone can
    set), role `cli`, the command, each patient shown."""
    monkeypatch.setenv("LOGNAME", "dr.someone-else")
    monkeypatch.setenv("USER", "dr.someone-else")
    enc = msgspec.json.Encoder()
    lines = [enc.encode(x) for x in enrolled("P1") + minutes(25) + enrolled("P2")]
    assert carelane("ingest", str(write(tmp_path / "f.ndjson", lines)), db=store_url).returncode == 0
    assert carelane("audit", "P1", "--from", "2026-03", "--to", "2026-03", db=store_url).returncode == 0
    assert carelane("audit", "NOBODY", "--from", "2026-03", "--to", "2026-03", db=store_url).returncode == 1
    assert carelane("worklist", "--month", "2026-03", db=store_url).returncode == 0
    assert carelane("events", "--patient", "P2", db=store_url).returncode == 0
    logged = carelane("access", "--format", "json", db=store_url)
    rows = [(r["role"], r["route"], r["patient_id"]) for r in msgspec.json.decode(logged.stdout)]
    assert rows == [("cli", "carelane audit", "P1"), ("cli", "carelane worklist", "P1"),  # P2 has no row yet
                    ("cli", "carelane events", "P2")]  # fmt: skip
    assert {r["key_id"] for r in msgspec.json.decode(logged.stdout)} == {f"cli:{pwd.getpwuid(os.geteuid()).pw_name}"}
    assert carelane("access", "--verify", db=store_url).returncode == 0
    every = msgspec.json.decode(logged.stdout)
    assert (
        msgspec.json.decode(carelane("access", "--from", "2026-01", "--format", "json", db=store_url).stdout) == every
    )
    assert msgspec.json.decode(carelane("access", "--to", "2026-01-31", "--format", "json", db=store_url).stdout) == []
    bad = carelane("access", "--from", "March", db=store_url)
    assert bad.returncode == 2 and "Invalid value for --from: expected YYYY-MM-DD" in bad.stderr
