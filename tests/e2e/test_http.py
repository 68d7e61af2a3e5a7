"""The HTTP API driven over loopback against a real server: each endpoint as each role,
allowed and refused; bad input is 4xx, never 5xx; schemathesis finds no 5xx and no response
that breaks the OpenAPI document."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from adapters.keys import ROLES, Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from adapters.x12_fake_835 import remit_835
from domain import facts as f
from tests.factories import claim, demographics, enrolled, minutes, practice

ENC = msgspec.json.Encoder()


@dataclass
class Server:
    base: str
    keys: dict[str, str]
    process: subprocess.Popen[str]

    def call(self, method: str, path: str, role: str | None, **kw: object) -> httpx.Response:
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if role is not None:
            headers["X-API-Key"] = self.keys[role]
        return httpx.request(method, self.base + path, headers=headers, timeout=60, **kw)  # type: ignore[arg-type]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, *, logs: bool | Path) -> tuple[subprocess.Popen[str], str]:
    """`carelane serve` on a free loopback port, once it answers /health. Its log goes to a
    pipe (`logs=True`, for a short test that reads it at the end), to a file (a long load
    would fill a pipe), or nowhere."""
    port = _free_port()
    env = os.environ | {"CARELANE_DB": url, "CARELANE_LOG_LEVEL": "INFO"}
    with contextlib.ExitStack() as stack:
        out: Any = subprocess.PIPE if logs is True else subprocess.DEVNULL
        if isinstance(logs, Path):
            out = stack.enter_context(open(logs, "w"))
        proc = subprocess.Popen([sys.executable, "-m", "adapters.cli", "serve", "--port", str(port)], env=env,
                                stdout=out, stderr=out, text=True)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/health", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.1)
    return proc, base


def keyed_server(url: str, *, logs: bool | Path) -> Server:
    """`carelane serve` on the store at `url`, with a key for every role and a revoked one."""
    ledger = open_ledger(url)
    keys = Keys(open_views(ledger, url))
    tokens = {role: keys.add(f"test-{role}", role)[1] for role in ROLES}
    info, revoked = keys.add("gone", "admin")
    keys.revoke(info.id)
    tokens["revoked"] = revoked
    proc, base = serve(url, logs=logs)
    return Server(base, tokens, proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = keyed_server(f"sqlite:///{tmp_path_factory.mktemp('http') / 'ledger.db'}", logs=True)
    yield srv
    srv.process.terminate()
    srv.process.communicate(timeout=20)


def _facts() -> bytes:
    return b"\n".join(ENC.encode(x) for x in [*enrolled("P1"), *minutes(45)])


def test_recording_facts_and_the_whole_billing_flow(server: Server) -> None:
    """recorder posts facts; biller reads the worklist, claims and exports the 837P; auditor
    and compliance read the audit packet, events and refusals."""
    answer = server.call("POST", "/facts", "recorder", content=_facts())
    assert answer.status_code == 200 and {r["status"] for r in answer.json()} == {"accepted"}
    as_array = server.call("POST", "/facts", "recorder", json=[msgspec.to_builtins(x) for x in enrolled("P1")[:2]])
    assert [r["status"] for r in as_array.json()] == ["accepted", "accepted"]
    rows = server.call("GET", "/worklist?month=2026-03", "biller").json()
    assert rows[0]["billable"] == [{"code": "99490", "units": 1, "amount": "66.00"},
                                   {"code": "99439", "units": 1, "amount": "50.00"}]  # fmt: skip
    claimed = server.call("POST", "/claims", "biller", content=ENC.encode(claim("C1", codes=("99490", "99439"))))
    assert claimed.json()[0]["status"] == "accepted"
    again = server.call("POST", "/claims", "biller", content=ENC.encode(claim("C2")))
    assert again.json()[0]["reasons"][0]["code"] == "DUPLICATE_CLAIM"
    refused = server.call("GET", "/export/837?month=2026-03", "biller")
    assert refused.status_code == 422 and "no practice is registered" in refused.json()["detail"]
    who = server.call(
        "POST", "/facts", "recorder", content=b"\n".join(ENC.encode(x) for x in [practice(), demographics()])
    )
    assert [r["status"] for r in who.json()] == ["accepted", "accepted"]
    x12 = server.call("POST", "/export/837?month=2026-03", "biller")
    assert x12.status_code == 200 and x12.text.startswith("ISA*") and "CLM*C1*116" in x12.text
    assert x12.headers["x-batch-id"] == "B000000001" and "*0*T*:" in x12.text.splitlines()[0]
    real = server.call("POST", "/export/837?month=2026-03&production=true", "biller")  # a test file left C1 due
    assert real.status_code == 200 and "CLM*C1*116" in real.text and "*0*P*:" in real.text.splitlines()[0]
    assert server.call("GET", "/export/837?month=2026-03", "biller").status_code == 404  # sent once
    resent = server.call("GET", "/export/837?batch=B000000002", "biller")
    assert resent.status_code == 200 and resent.text == real.text
    assert server.call("GET", "/export/837?batch=B000000002", "recorder").status_code == 403
    packet = server.call("GET", "/audit/P1?from=2026-03&to=2026-03", "auditor").json()
    assert packet["sections"][0]["claims"][0]["claim_id"] == "C1"
    page = server.call("GET", "/audit/P1?from=2026-03&to=2026-03", "compliance", headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html") and "id='claim-C1'" in page.text
    found = server.call("GET", "/events?patient=P1&type=TimeLogged", "auditor").json()
    assert len(found) == 3 and all(e["type"] == "TimeLogged" for e in found)
    refusals = server.call("GET", "/refusals?reason=DUPLICATE_CLAIM", "compliance").json()
    assert [r["claim_id"] for r in refusals] == ["C2"]
    assert server.call("GET", "/health", None).json()["status"] == "ok"


ROUTES = [
    ("POST", "/facts", {"recorder", "biller"}),
    ("POST", "/claims", {"biller"}),
    ("GET", "/worklist?month=2026-03", {"biller"}),
    ("GET", "/export/837?month=2026-01", {"biller"}),
    ("POST", "/remits", {"biller"}),
    ("POST", "/devices/readings", {"recorder"}),
    ("GET", "/pace?month=2026-03", {"biller"}),
    ("GET", "/eligible?month=2026-03", {"biller"}),
    ("GET", "/self-audit?from=2026-03&to=2026-03", {"compliance"}),
    ("GET", "/closes?month=2026-03", {"compliance", "auditor"}),
    ("GET", "/denials?month=2026-03", {"biller"}),
    ("GET", "/audit/P1?from=2026-03&to=2026-03", {"auditor", "compliance"}),
    ("GET", "/events", {"auditor", "compliance"}),
    ("GET", "/refusals", {"compliance"}),
    ("GET", "/access", {"compliance"}),
    ("GET", "/metrics", set()),  # admin only
]


def test_the_payers_answers_over_http(server: Server) -> None:
    """POST /remits records a 999, 277CA or 835 (once; the same body again records nothing);
    an unreadable body is a 422 naming why; GET /denials explains what was not paid."""
    facts = [*enrolled("P7"), demographics("P7"), *minutes(25, "P7", staff="RN-7"), claim("C7", "P7")]
    recorded = server.call("POST", "/facts", "recorder", content=b"\n".join(ENC.encode(x) for x in facts[:-1]))
    assert {r["status"] for r in recorded.json()} == {"accepted"}
    assert server.call("POST", "/claims", "biller", content=ENC.encode(facts[-1])).json()[0]["status"] == "accepted"
    sent = server.call("POST", "/export/837?month=2026-03&production=true", "biller")
    assert sent.status_code == 200, sent.text
    remit = remit_835(sent.text, {"C7": "denied-97"}, trace="EFT-HTTP")
    first = server.call("POST", "/remits", "biller", content=remit.encode())
    assert first.status_code == 200 and first.json()["recorded"] == 1 and first.json()["kind"] == "835"
    again = server.call("POST", "/remits", "biller", content=remit.encode())
    assert again.json()["already"] is True and again.json()["recorded"] == 0
    junk = server.call("POST", "/remits", "biller", content=b"ISA*garbage~")
    assert junk.status_code == 422 and "X12" in junk.json()["detail"]
    rows = server.call("GET", "/denials?month=2026-03", "biller").json()
    assert [(r["claim_id"], r["status"], r["adjustments"][0]["code"]) for r in rows] == [("C7", "denied", "97")]


def test_device_readings_by_webhook_become_one_fact_per_device_day(server: Server) -> None:
    """30 readings over 3 local days: 3 DataTransmitted recorded, the rest answered as
    already recorded; a reading late in the evening belongs to the practice's day, not UTC's;
    a bad reading is named and the others still count."""
    setup = f.DeviceSetup(patient_id="P8", device_id="BP-8", program=f.DeviceProgram.RPM,
                          category=f.DeviceCategory.PHYSIOLOGIC, setup_on=date(2026, 3, 1))  # fmt: skip
    facts = [*enrolled("P8", f.Program.RPM), setup]
    assert {r["status"] for r in server.call("POST", "/facts", "recorder", content=b"\n".join(
        ENC.encode(x) for x in facts)).json()} == {"accepted"}  # fmt: skip
    readings: list[dict[str, str]] = [
        {"patient_id": "P8", "device_id": "BP-8", "reading_kind": "bp",
         "measured_at": f"2026-03-{2 + n % 3:02d}T{8 + n % 10:02d}:00:00-05:00"} for n in range(30)
    ]  # fmt: skip
    readings.append({"patient_id": "P8", "device_id": "BP-8", "measured_at": "2026-03-06T03:30:00+00:00"})
    readings.append({"patient_id": "P8", "device_id": "BP-8", "measured_at": "not a time"})
    answers = server.call("POST", "/devices/readings", "recorder", json=readings).json()
    recorded = [a for a in answers if a["status"] == "accepted" and not a.get("duplicate")]
    assert len(recorded) == 4 and sum(a.get("duplicate", False) for a in answers) == 27
    assert answers[-1]["status"] == "invalid" and answers[-1]["item"] == "reading 32"
    assert "measured_at" in answers[-1]["error"] and "not a time" not in answers[-1]["error"]
    rows = server.call("GET", "/worklist?month=2026-03", "biller").json()
    (row,) = [r for r in rows if r["patient_id"] == "P8"]
    assert row["device_days"] == {"BP-8": 4}  # 2, 3 and 4 March, and 5 March in New York
    assert server.call("POST", "/devices/readings", "biller", json=readings[:1]).status_code == 403


@pytest.mark.parametrize(("method", "path", "allowed"), ROUTES)
def test_each_role_is_allowed_or_refused(server: Server, method: str, path: str, allowed: set[str]) -> None:
    """401 without a key or with a revoked one; 403 for a role that may not; admin may do all."""
    body = {"content": b""} if method == "POST" else {}
    assert server.call(method, path, None, **body).status_code == 401
    assert server.call(method, path, "revoked", **body).status_code == 401
    for role in ROLES:
        status = server.call(method, path, role, **body).status_code
        if role in allowed or role == "admin":
            assert status in (200, 400, 404, 422), (role, path, status)  # an empty body is no file or reading
        else:
            assert status == 403, (role, path, status)


def test_claim_facts_are_the_billers_and_record_facts_the_recorders(server: Server) -> None:
    """A recorder key cannot submit, adjudicate or void a claim through /facts, and a biller
    key cannot record clinical facts there: each such line is invalid, naming the role."""
    server.call("POST", "/facts", "recorder", content=_facts())
    lines = [claim("C7"), f.ClaimVoided(claim_id="C7", reason="x", by="B"), enrolled("P9")[0]]
    body = b"\n".join(ENC.encode(x) for x in lines)
    by_recorder = server.call("POST", "/facts", "recorder", content=body).json()
    assert [r["status"] for r in by_recorder] == ["invalid", "invalid", "accepted"]
    assert "needs the biller role" in by_recorder[0]["error"]
    by_biller = server.call("POST", "/facts", "biller", content=body).json()
    assert [r["status"] == "invalid" for r in by_biller] == [False, False, True]  # judged, judged, not taken
    assert "needs the recorder role" in by_biller[2]["error"]


def test_bad_requests_are_4xx_naming_the_problem(server: Server) -> None:
    """Malformed input is answered 4xx with the problem named; nothing is half-recorded."""
    before = server.call("GET", "/health", None).json()["position"]
    cases = [
        ("GET", "/worklist?month=March", "biller", "month"),
        ("GET", "/worklist", "biller", "month"),
        ("GET", "/audit/P1?from=2026-03&to=2026-01", "auditor", "before"),
        ("GET", "/audit/NOBODY?from=2026-03&to=2026-03", "auditor", "NOBODY"),
        ("GET", "/audit/P1?from=2026-03&to=2026-03&as_of=2099-01-01T00:00:00Z", "auditor", "is in the future"),
        ("GET", "/events?type=Bogus", "auditor", "Bogus"),
        ("GET", "/refusals?reason=NOPE", "compliance", "reason"),
        ("POST", "/facts", "recorder", "JSON array"),
        ("GET", "/export/837?month=2026-13", "biller", "a month as YYYY-MM"),
        ("GET", "/denials?month=abc", "biller", "a month as YYYY-MM"),
        ("GET", "/export/837?batch=B42", "biller", "no export batch B42"),
        ("POST", "/facts", "recorder", "body over 20 MB, the limit for /facts; send several"),
        ("POST", "/devices/readings", "recorder", "body over 5 MB, the limit for /devices/readings"),
    ]
    for method, path, role, word in cases:
        limit = {"/facts": 20 * 2**20, "/devices/readings": 5 * 2**20}.get(path) if "MB" in word else None
        big = b" " * (limit + 2**20) if limit else b"[1, 2"  # past the route's own limit
        body = {"content": big} if method == "POST" else {}
        response = server.call(method, path, role, **body)
        assert 400 <= response.status_code < 500 and word in response.text, (path, response.status_code, response.text)
        assert "regex" not in response.text and "\\d" not in response.text, (path, response.text)
    assert server.call("GET", "/health", None).json()["position"] == before


def test_requests_are_logged_with_key_id_never_the_key(server: Server) -> None:
    """The server's log names the key's id and role and the route; the key itself never
    appears, nor the patient id of an audit request (kept as a hash)."""
    server.call("GET", "/refusals", "compliance")
    server.call("GET", "/audit/PX-SECRET-7?from=2026-03&to=2026-03", "auditor")
    server.process.terminate()
    _, err = server.process.communicate(timeout=20)
    server.process = subprocess.Popen(["true"], text=True)  # the fixture's teardown terminates this instead
    lines = [msgspec.json.decode(x) for x in err.splitlines() if x.startswith("{")]
    assert err.startswith("Carelane on http://127.0.0.1:")  # where it listens, said once at start
    assert "note: facts are stored unencrypted (CARELANE_CIPHER_KEY is not set)" in err.splitlines()[1]
    assert any(x.get("role") == "compliance" and x.get("key_id") for x in lines)
    audit = [x for x in lines if x.get("role") == "auditor" and x.get("path", "").startswith("/audit/")]
    assert audit and audit[0]["path"].startswith("/audit/{patient_id") and audit[0]["patient_id"].startswith("p:")
    assert "PX-SECRET-7" not in err
    for token in server.keys.values():
        assert token not in err and token.split("_", 2)[2] not in err


def test_schemathesis_finds_no_5xx_and_no_schema_violation(tmp_path: Path) -> None:
    """A bounded schemathesis run over every operation of the OpenAPI document, as admin."""
    url = f"sqlite:///{tmp_path / 'fuzz.db'}"
    ledger = open_ledger(url)
    token = Keys(open_views(ledger, url)).add("schemathesis", "admin")[1]
    proc, base = serve(url, logs=False)
    try:
        st = str(Path(sys.executable).with_name("schemathesis"))
        result = subprocess.run(
            [st, "run", f"{base}/schema/openapi.json", "--checks", "not_a_server_error,response_schema_conformance",
             "--max-examples", "25", "-H", f"X-API-Key: {token}", "--generation-deterministic"],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout[-4000:]
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
