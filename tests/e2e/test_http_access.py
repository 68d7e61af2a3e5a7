"""Who read what (45 CFR 164.312(b)) and how the server is doing: every read of a patient's
record over HTTP lands in an append-only, hash-chained access log that compliance can query
(route and `carelane access`); `/metrics` speaks Prometheus to admins only."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from tests.e2e.test_cli import carelane
from tests.e2e.test_http import ENC, Server, keyed_server, serve
from tests.factories import claim, enrolled, minutes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    url = f"sqlite:///{tmp_path_factory.mktemp('access') / 'ledger.db'}"
    srv = keyed_server(url, logs=False)
    record = [*enrolled("P1"), *minutes(45), *enrolled("P2"), *minutes(25, "P2", staff="RN-2")]
    body = b"\n".join(ENC.encode(x) for x in record)
    assert srv.call("POST", "/facts", "recorder", content=body).status_code == 200
    srv.url = url  # type: ignore[attr-defined]  # the store, for the CLI and raw SQL below
    yield srv
    srv.process.terminate()
    srv.process.communicate(timeout=20)


def test_every_read_of_a_patients_record_is_logged_and_queryable(server: Server) -> None:
    """An audit packet is one read of its patient; a worklist is a read of each patient in it.
    Compliance finds them by patient, with the key, role and route; so does the CLI."""
    assert server.call("GET", "/audit/P1?from=2026-03&to=2026-03", "auditor").status_code == 200
    assert server.call("GET", "/worklist?month=2026-03", "biller").status_code == 200
    rows = server.call("GET", "/access?patient=P1", "compliance").json()
    assert [(r["role"], r["route"]) for r in rows] == [
        ("auditor", "GET /audit/{patient_id:str}"), ("biller", "GET /worklist"),
    ]  # fmt: skip
    assert all(r["key_id"] and r["patient_id"] == "P1" for r in rows)
    p2 = server.call("GET", "/access?patient=P2", "compliance").json()
    assert [r["route"] for r in p2] == ["GET /worklist"]
    assert server.call("GET", "/access", "biller").status_code == 403
    url = server.url  # type: ignore[attr-defined]
    cli = carelane("access", "--patient", "P1", "--format", "json", db=url)
    assert cli.returncode == 0 and [r["route"] for r in msgspec.json.decode(cli.stdout)] == [r["route"] for r in rows]
    table = carelane("access", db=url)
    assert table.returncode == 0 and "Access log: 3 reads" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 100


def test_the_access_log_is_append_only_and_its_chain_catches_an_edit(server: Server) -> None:
    """UPDATE and DELETE are refused by the database; someone who drops the guard and edits a
    row breaks the log's own chain, which `carelane access --verify` reports."""
    server.call("GET", "/audit/P2?from=2026-03&to=2026-03", "auditor")
    url = server.url  # type: ignore[attr-defined]
    assert carelane("access", "--verify", db=url).returncode == 0
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE carelane_access SET patient_id = 'P9' WHERE position = 1")
    with sqlite3.connect(path) as conn, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM carelane_access WHERE position = 1")
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER carelane_access_no_update")
        conn.execute("UPDATE carelane_access SET key_id = 'someone-else' WHERE position = 2")
    broken = carelane("access", "--verify", db=url)
    assert broken.returncode == 1 and "row 2" in broken.stderr and "Traceback" not in broken.stderr


def test_metrics_are_prometheus_text_for_admins_only(server: Server) -> None:
    """Requests and latency by route, facts by status and refusals by reason, projection lag
    and the chain's tip; 401 without a key, 403 for any role but admin."""
    refused = ENC.encode(claim("C-EARLY", codes=("99491",)))
    server.call("POST", "/facts", "biller", content=refused)
    server.call("GET", "/worklist?month=2026-03", "biller")
    assert server.call("GET", "/metrics", None).status_code == 401
    assert server.call("GET", "/metrics", "compliance").status_code == 403
    answer = server.call("GET", "/metrics", "admin")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    text = answer.text

    def value(pattern: str) -> float:
        found = re.search(pattern + r" ([0-9.e+]+)$", text, re.MULTILINE)
        assert found, pattern
        return float(found.group(1))

    assert value(r'carelane_http_requests_total\{method="GET",route="/worklist",status="200"\}') >= 1
    assert value(r'carelane_http_request_seconds_count\{route="/worklist"\}') >= 1
    assert value(r'carelane_facts_total\{status="accepted"\}') >= 10
    assert value(r'carelane_refusals_total\{reason="[A-Z_]+"\}') >= 1  # the early 99491's reasons
    assert value(r"carelane_chain_tip_position") > 0 and value(r"carelane_projection_lag_events") >= 0


def test_access_rows_hold_no_more_than_who_read_what(tmp_path: Path) -> None:
    """The log's rows: position, when, key id, role, route, patient; never a key or a fact."""
    from adapters.access import Access

    assert Access.__struct_fields__ == ("position", "at", "key_id", "role", "route", "patient_id")


def test_a_client_that_never_finishes_its_headers_is_cut_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slowloris: headers trickled in, never finished, hold no connection past the header
    timeout (1 s here), while a whole request on another connection is answered."""
    import socket
    import time

    import httpx

    monkeypatch.setenv("CARELANE_HEADER_TIMEOUT", "1")
    proc, base = serve(f"sqlite:///{tmp_path / 'slow.db'}", logs=False)
    try:
        port = int(base.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as slow:
            slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            started = time.monotonic()
            for _ in range(4):  # a byte now and then: uvicorn's keep-alive timer alone would wait
                time.sleep(0.3)
                with contextlib.suppress(OSError):
                    slow.sendall(b"X")
            assert httpx.get(base + "/health", timeout=5).status_code == 200
            assert slow.recv(1024) == b""  # closed by the server
            assert time.monotonic() - started < 5
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
