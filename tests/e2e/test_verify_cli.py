"""`carelane digest` and `carelane verify` as an auditor runs them, on both stores: a signed
digest must stay signed, and `verify --views` names view rows changed behind the log's back
until `project --rebuild` repairs them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.e2e.test_cli import ENC, carelane, write
from tests.factories import claim, enrolled, minutes, one_of_each
from tests.integration.test_integrity import run_sql


@pytest.fixture
def filled(store_url: str, tmp_path: Path) -> str:
    lines = [*one_of_each(), *enrolled("P2"), *minutes(25, "P2", staff="RN-7"), claim("C9", "P2", codes=("99491",))]
    result = carelane("ingest", str(write(tmp_path / "f.ndjson", [ENC.encode(x) for x in lines])), db=store_url)
    assert result.returncode == 3, result.stderr  # the 99491 claim is refused: the log has a refusal
    return store_url


def test_a_signed_digest_must_keep_its_signature(filled: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With CARELANE_DIGEST_KEY set, verify --digest passes for the digest as kept and fails,
    in one line, for the same digest with its hmac removed; a signed digest needs the key."""
    monkeypatch.setenv("CARELANE_DIGEST_KEY", "s3cret")
    kept = tmp_path / "digest.json"
    signed = carelane("digest", "--out", str(kept), db=filled)
    assert signed.returncode == 0 and "not signed" not in signed.stderr
    good = carelane("verify", "--digest", str(kept), db=filled)
    assert good.returncode == 0 and "passes through the digest" in good.stdout, good.stderr
    stripped = tmp_path / "stripped.json"
    stripped.write_text(json.dumps(json.loads(kept.read_text()) | {"hmac": None}))
    bad = carelane("verify", "--digest", str(stripped), db=filled)
    assert bad.returncode != 0 and "no HMAC" in bad.stderr and "Traceback" not in bad.stderr
    monkeypatch.delenv("CARELANE_DIGEST_KEY")
    unkeyed = carelane("verify", "--digest", str(kept), db=filled)
    assert unkeyed.returncode != 0 and "CARELANE_DIGEST_KEY" in unkeyed.stderr
    assert "CARELANE_DIGEST_KEY" not in os.environ
    plain = carelane("digest", db=filled)  # an unsigned digest says what it cannot prove
    assert plain.returncode == 0 and "not signed (CARELANE_DIGEST_KEY is not set)" in plain.stderr
    assert json.loads(plain.stdout)["hmac"] is None  # stdout stays the digest alone


def test_verify_views_names_tampered_rows_until_rebuilt(filled: str) -> None:
    """A changed worklist total and a deleted refusal row are named by verify --views (exit 1);
    project --rebuild repairs both."""
    assert carelane("project", db=filled).returncode == 0
    assert carelane("verify", "--views", db=filled).returncode == 0
    (body,) = run_sql(filled, "SELECT body FROM {schema}.view_worklist WHERE patient_id = %s", ("P2",))[0]
    run_sql(filled, "UPDATE {schema}.view_worklist SET body = %s WHERE patient_id = %s",
            (body.replace('"estimated_total":"', '"estimated_total":"9'), "P2"))  # fmt: skip
    run_sql(filled, "DELETE FROM {schema}.view_refusals")
    checked = carelane("verify", "--views", db=filled)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "view_worklist patient_id=P2, month=2026-03: body differ" in checked.stderr
    assert "view_refusals position=" in checked.stderr and "missing" in checked.stderr
    assert carelane("project", "--rebuild", db=filled).returncode == 0
    assert carelane("verify", "--views", db=filled).returncode == 0


def test_backup_and_restore_from_the_command_line(sqlite_url: str, tmp_path: Path) -> None:
    """`carelane backup` then `carelane restore` into a new store: it verifies and the views
    read; restoring over a store is a one-line refusal, never a traceback."""
    facts_file = write(tmp_path / "f.ndjson", [ENC.encode(x) for x in one_of_each()])
    assert carelane("ingest", str(facts_file), db=sqlite_url).returncode == 0
    out = tmp_path / "nightly.backup"
    made = carelane("backup", str(out), db=sqlite_url)
    assert made.returncode == 0 and "nightly.backup.digest" in made.stdout
    target = f"sqlite:///{tmp_path / 'restored.db'}"
    restored = carelane("restore", str(out), db=target)
    assert restored.returncode == 0 and "the chain verifies" in restored.stdout, restored.stderr
    assert carelane("verify", "--digest", f"{out}.digest", db=target).returncode == 0
    again = carelane("restore", str(out), db=target)
    assert again.returncode == 1 and "already" in again.stderr and "Traceback" not in again.stderr


def test_a_digest_covers_the_access_logs_tail(filled: str, tmp_path: Path) -> None:
    """Rows removed from the end of the access log (its guard dropped) leave a chain that
    `access --verify` passes; `verify --digest` with a digest taken before finds it. A digest
    kept before the access log was in digests still verifies."""
    from adapters.access import AccessLog
    from adapters.store import open_ledger
    from adapters.viewdb import open_views

    ledger = open_ledger(filled)
    log = AccessLog(open_views(ledger, filled))
    log.record("k1", "auditor", "GET /audit/{patient_id:str}", ["P1", "P2"])
    old = tmp_path / "old.json"
    written = carelane("digest", "--out", str(tmp_path / "kept.json"), db=filled)
    assert written.returncode == 0, written.stderr
    kept = json.loads((tmp_path / "kept.json").read_text())
    assert kept["access"] == {"position": 2, "hash": log.tip()[1].hex()}
    old.write_text(json.dumps({k: v for k, v in kept.items() if k != "access"}))
    for digest in (old, tmp_path / "kept.json"):
        assert carelane("verify", "--digest", str(digest), db=filled).returncode == 0
    drop = ("DROP TRIGGER carelane_access_no_delete" if filled.startswith("sqlite")
            else "DROP TRIGGER carelane_access_append_only ON {schema}.carelane_access")  # fmt: skip
    run_sql(filled, drop)
    run_sql(filled, "DELETE FROM {schema}.carelane_access WHERE position = 2")
    assert carelane("access", "--verify", db=filled).returncode == 0  # what a chain alone cannot see
    checked = carelane("verify", "--digest", str(tmp_path / "kept.json"), db=filled)
    assert checked.returncode == 1 and "no row at the digest's position 2" in checked.stderr, checked.stderr
    assert carelane("verify", "--digest", str(old), db=filled).returncode == 0  # it never covered the log
    log.record("k2", "biller", "GET /worklist", ["P3"])  # a recomputed row 2 in place of the one removed
    checked = carelane("verify", "--digest", str(tmp_path / "kept.json"), db=filled)
    assert checked.returncode == 1 and "row 2 differs from the digest" in checked.stderr, checked.stderr
