"""`carelane close` as a practice runs it, and GET /closes, POST /close over HTTP: a key made,
a month closed and shown, a late fact flagged after close, a re-open with its reason, the
month closed again; every mistake a one-line answer, never a traceback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from litestar import Litestar
from litestar.testing import TestClient

import adapters.commands.close  # noqa: F401 (registers the command until adapters.cli imports it)
from adapters import closing
from adapters.access import AccessLog
from adapters.commands.base import main
from adapters.http import create_app
from adapters.keys import Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from tests.factories import EST, claim, enrolled, minutes, time_entry


@pytest.fixture
def url(store_url: str) -> str:
    ledger = open_ledger(store_url)
    for fact in [*enrolled("P1"), *minutes(25, "P1"), claim("C1", "P1")]:
        ledger.record(fact)
    ledger.close()
    return store_url


def run(url: str, *args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(main, ["--db", url, "close", *args], env={"CARELANE_CLOSE_KEY": "", **(env or {})})
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def test_close_show_reopen_and_close_again(url: str, tmp_path: Path) -> None:
    key = tmp_path / "practice.pem"
    made = run(url, "--new-key", str(key))
    assert made.exit_code == 0 and key.stat().st_mode & 0o777 == 0o600
    public = made.output.split("public key: ")[1].split()[0]
    assert run(url, "--new-key", str(key)).exit_code == 1  # never overwritten
    unkeyed = run(url, "--month", "2026-03")
    assert unkeyed.exit_code == 1 and "no signing key" in unkeyed.output
    done = run(url, "--month", "2026-03", "--key", str(key))
    assert done.exit_code == 0, done.output
    assert "2026-03 closed (close 1)" in done.output and "signature verifies" in done.output
    assert "claims: 1 (1 accepted)" in done.output and "CCM" in done.output
    assert max(len(line) for line in done.output.splitlines()) <= 80
    again = run(url, "--month", "2026-03", "--key", str(key))
    assert again.exit_code == 1 and "closed already" in again.output
    ledger = open_ledger(url)
    ledger.record(time_entry("E-LATE", "P1", at=datetime(2026, 3, 25, 9, tzinfo=EST)))
    shown = run(url, "--month", "2026-03", "--show")
    assert shown.exit_code == 0 and "Recorded after close, 2026-03: 1 facts" in shown.output
    assert "TimeLogged" in shown.output
    as_json = json.loads(run(url, "--month", "2026-03", "--show", "--format", "json").output)
    assert [r["type"] for r in as_json["after_close"]] == ["TimeLogged"]
    assert as_json["closes"][0]["content"]["public_key"] == public and as_json["closes"][0]["signature_ok"]
    assert run(url, "--month", "2026-03", "--reopen").exit_code == 2  # a re-open needs its reason
    assert run(url, "--month", "2026-03", "--reason", "why").exit_code == 2
    reopened = run(url, "--month", "2026-03", "--reopen", "--reason", "late time to bill")
    assert reopened.exit_code == 0 and "re-opened 2026-03" in reopened.output
    second = run(url, "--month", "2026-03", "--format", "json", env={"CARELANE_CLOSE_KEY": str(key)})
    assert second.exit_code == 0 and json.loads(second.output)["content"]["sequence"] == 2
    listed = run(url, "--month", "2026-03", "--show")
    assert "re-opened" in listed.output and "late time to bill" in listed.output and "(close 2)" in listed.output
    assert closing.verify_closes(ledger, trusted=[public]) == []
    views = open_views(ledger, url)
    assert {(r.role, r.route) for r in AccessLog(views).of("P1")} == {("cli", "carelane close")}  # --show read P1
    views.close()
    ledger.close()


def test_mistakes_are_one_line_answers(url: str, tmp_path: Path) -> None:
    assert run(url, "--month", "2026-13").exit_code == 2
    assert run(url).exit_code == 2
    loose = tmp_path / "loose.pem"
    closing.new_key(loose)
    loose.chmod(0o644)
    answer = run(url, "--month", "2026-03", "--key", str(loose))
    assert answer.exit_code == 1 and "chmod 600" in answer.output
    missing = run(url, "--month", "2026-03", "--key", str(tmp_path / "absent.pem"))
    assert missing.exit_code == 1 and "cannot be read" in missing.output
    never = run(url, "--month", "2026-02", "--reopen", "--reason", "nothing")
    assert never.exit_code == 1 and "not closed" in never.output
    assert "never been closed" in run(url, "--month", "2026-02", "--show").output


@pytest.fixture
def client(url: str) -> Iterator[tuple[TestClient[Litestar], dict[str, str]]]:
    app = create_app(url)
    keys = Keys(app.state["tenancy"].service(None).views)
    tokens = {role: keys.add(role, role)[1] for role in ("biller", "auditor", "compliance", "admin")}
    with TestClient(app) as test_client:
        yield test_client, tokens


def test_closes_over_http(client: tuple[TestClient[Litestar], dict[str, str]], tmp_path: Path,
                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    http, tokens = client

    def call(method: str, path: str, role: str) -> tuple[int, dict[str, object]]:
        answer = http.request(method, path, headers={"X-API-Key": tokens[role]})
        return answer.status_code, answer.json()

    assert call("GET", "/closes?month=2026-03", "biller")[0] == 403
    status, body = call("GET", "/closes?month=2026-03", "auditor")
    assert status == 200 and body["closed"] is False and body["closes"] == []
    assert call("POST", "/close?month=2026-03", "compliance")[0] == 403
    monkeypatch.delenv("CARELANE_CLOSE_KEY", raising=False)
    assert call("POST", "/close?month=2026-03", "admin")[0] == 409
    key = tmp_path / "server.pem"
    closing.new_key(key)
    monkeypatch.setenv("CARELANE_CLOSE_KEY", str(key))
    status, body = call("POST", "/close?month=2026-03", "admin")
    assert status == 200 and body["closed"] is True, body
    closes = body["closes"]
    assert (
        isinstance(closes, list) and closes[0]["signature_ok"] and closes[0]["content"]["closed_by"].startswith("api:")
    )
    assert call("POST", "/close?month=2026-03", "admin")[0] == 409
    assert call("POST", "/close?month=2026-03&reopen=true", "admin")[0] == 400
    assert call("POST", "/close?month=2026-03&reopen=true&reason=%20", "admin")[0] == 422
    status, body = call("POST", "/close?month=2026-03&reopen=true&reason=late%20time", "admin")
    assert status == 200 and body["closed"] is False
    status, body = call("GET", "/closes?month=2026-03", "compliance")
    assert status == 200 and body["closes"][0]["reopen_reason"] == "late time"  # type: ignore[index]
