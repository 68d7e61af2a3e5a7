"""Month closes on SQLite and PostgreSQL: a close records what was billed, the totals and the
chain's tip, signed with the practice's Ed25519 key; verify_closes finds a close changed
after signing (the chain recomputed, so only the signature can tell), a close re-signed with
another key, and a claim left out; facts recorded for a closed month are flagged after close;
a re-open keeps its reason and the month closes again with a new signed close."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from pathlib import Path

import msgspec
import pytest
from Crypto.PublicKey import ECC

from adapters import chain, closing, reads
from adapters.viewdb import open_views
from domain.catalog import DEFAULT_FEES
from domain.decisions.closing import BadReason, CloseRefused, Stale, close_month
from domain.keys import patient_month_key
from domain.ledger import Ledger
from domain.month_close import ClosedClaim, MonthClose, canonical, month_close_key
from domain.vocab import ClaimOutcome
from projections import after_close as later
from projections.events import Query, events
from tests.factories import EST, claim, condition, enrolled, minutes, time_entry
from tests.integration.test_insider import column, recompute
from tests.integration.test_integrity import run_sql

MARCH = "2026-03"


@pytest.fixture
def key() -> ECC.EccKey:
    return ECC.generate(curve="ed25519")


@pytest.fixture
def billed(ledger: Ledger) -> Ledger:
    """Two patients with March claims: C1 stands, C2 was voided."""
    for pid, claim_id in (("P1", "C1"), ("P2", "C2")):
        for fact in [*enrolled(pid), *minutes(25, pid, staff=f"RN-{pid}"), claim(claim_id, pid)]:
            ledger.record(fact)
    from domain import facts as f

    ledger.record(f.ClaimVoided(claim_id="C2", reason="billed in error", by="BILLER-1"))
    return ledger


def close(ledger: Ledger, url: str, key: ECC.EccKey, month: str = MARCH) -> closing.Close:
    db = open_views(ledger, url)
    return closing.close(ledger, lambda m: reads.patients(ledger, db, m), month, key, DEFAULT_FEES, "tester")


def test_a_close_records_what_was_billed_signed(billed: Ledger, store_url: str, key: ECC.EccKey) -> None:
    """The claims with codes and status, the totals by program (voided claims out), the
    chain's tip, the public key; the signature verifies over the canonical bytes read back."""
    tip = chain.tip(billed.recorder)
    done = close(billed, store_url, key)
    stored = billed.repository.get(month_close_key(MARCH))
    assert isinstance(stored, MonthClose) and stored.closed and stored.closes[-1] == done
    c = done.content
    assert [(x.claim_id, x.patient_id, x.status, [(y.code, y.units) for y in x.lines]) for x in c.claims] == [
        ("C1", "P1", "accepted", [("99490", 1)]),
        ("C2", "P2", "voided", [("99490", 1)]),
    ]
    fee = DEFAULT_FEES.fee("99490")
    assert c.totals == {"CCM": str(fee.quantize(fee.__class__("0.01")))}
    assert (c.chain_position, c.chain_hash, c.sequence) == (tip.position, tip.hash, 1)
    assert c.public_key == closing.public_hex(key) and "PRIVATE" not in json.dumps(msgspec.to_builtins(c))
    assert closing.signature_ok(c, done.signature)
    assert closing.verify_closes(billed) == []
    assert closing.verify_closes(billed, trusted=[closing.public_hex(key)]) == []


def test_a_close_changed_in_the_store_fails_its_signature(billed: Ledger, store_url: str, key: ECC.EccKey) -> None:
    """An insider edits the stored close (a status, then a total) and recomputes the hash
    chain: the chain verifies again, the close's signature does not."""
    close(billed, store_url, key)
    pos = column(store_url)
    rows = run_sql(store_url, f"SELECT {pos}, state FROM {{schema}}.stored_events WHERE topic = %s",
                   (MonthClose.MonthClosed.TOPIC,))  # fmt: skip
    ((position, state),) = rows
    changed = bytes(state).replace(b'"status":"voided"', b'"status":"accepted"')
    assert changed != bytes(state)
    run_sql(store_url, f"UPDATE {{schema}}.stored_events SET state = %s WHERE {pos} = %s", (changed, position))
    assert chain.verify(billed.recorder) is not None  # the chain sees the edit...
    recompute(store_url)
    assert chain.verify(billed.recorder) is None  # ...until it is recomputed
    problems = closing.verify_closes(billed)
    assert problems and all("close 1 of 2026-03" in p for p in problems)
    assert any("signature does not verify" in p for p in problems)


def test_a_close_re_signed_with_another_key_is_found(billed: Ledger, store_url: str, key: ECC.EccKey) -> None:
    """Content changed and re-signed with another key (its public key put in): the signature
    verifies, but the key is not the practice's; and a claim left out is named."""
    done = close(billed, store_url, key)
    other = ECC.generate(curve="ed25519")
    forged = msgspec.structs.replace(
        done.content,
        claims=[c for c in done.content.claims if c.claim_id != "C1"],
        public_key=closing.public_hex(other),
    )
    forged = msgspec.structs.replace(forged, totals=closing.totals_of(forged.claims))
    assert closing.signature_ok(forged, closing.sign(forged, other))
    assert not closing.signature_ok(forged, done.signature)
    pos = column(store_url)
    ((position, state),) = run_sql(store_url, f"SELECT {pos}, state FROM {{schema}}.stored_events WHERE topic = %s",
                                   (MonthClose.MonthClosed.TOPIC,))  # fmt: skip
    body = json.loads(bytes(state))
    body["content"] = json.loads(canonical(forged))
    body["signature"] = closing.sign(forged, other)
    run_sql(store_url, f"UPDATE {{schema}}.stored_events SET state = %s WHERE {pos} = %s",
            (json.dumps(body).encode(), position))  # fmt: skip
    recompute(store_url)
    assert chain.verify(billed.recorder) is None
    problems = closing.verify_closes(billed, trusted=[closing.public_hex(key)])
    assert not any("signature does not verify" in p for p in problems)
    assert any("not one of the practice's" in p for p in problems)
    assert any("claim C1, recorded before the close, is not in it" in p for p in problems)


def test_totals_that_do_not_add_up_and_a_moved_chain_are_found(billed: Ledger, store_url: str,
                                                               key: ECC.EccKey) -> None:  # fmt: skip
    """Checked on a close built in memory: totals not the sum of its claims, and a chain hash
    other than the chain's at the position signed (both signed, so only these checks tell)."""
    done = close(billed, store_url, key)
    bad = msgspec.structs.replace(done.content, totals={"CCM": "1.00"}, chain_hash="0" * 64)
    problems = closing.check(billed, bad, closing.sign(bad, key), [], {}, [])
    assert any("totals are not the sum" in p for p in problems)
    assert any(f"hash chain at position {bad.chain_position}" in p for p in problems)
    assert any("claim C1 is not on file" in p for p in problems)


def test_a_closed_month_is_refused_a_second_close_and_reopens_with_a_reason(
    billed: Ledger, store_url: str, key: ECC.EccKey
) -> None:
    close(billed, store_url, key)
    with pytest.raises(CloseRefused, match="closed already"):
        close(billed, store_url, key)
    for reason in ("", "   ", "two\nlines", "x" * 501):
        with pytest.raises(BadReason):
            closing.reopen(billed, MARCH, reason, "tester")
    with pytest.raises(CloseRefused, match="not closed"):
        closing.reopen(billed, "2026-02", "nothing to reopen", "tester")
    closing.reopen(billed, MARCH, "a corrected claim is due", "tester")
    with pytest.raises(CloseRefused, match="not closed"):
        closing.reopen(billed, MARCH, "twice", "tester")
    again = close(billed, store_url, key)
    assert again.content.sequence == 2 and closing.signature_ok(again.content, again.signature)
    shown = closing.history(billed, MARCH)
    assert [(r.content.sequence, r.reopen_reason, r.signature_ok) for r in shown] == [
        (1, "a corrected claim is due", True),
        (2, None, True),
    ]
    assert closing.verify_closes(billed) == []


def test_a_close_prepared_before_another_close_is_stale(billed: Ledger, store_url: str, key: ECC.EccKey) -> None:
    """Prepared as close 1; meanwhile the month is closed and re-opened: recording it is
    Stale (close() prepares again), never a second close 1."""
    db = open_views(billed, store_url)
    content, signature = closing.prepare(billed, lambda m: reads.patients(billed, db, m), MARCH, key,
                                         DEFAULT_FEES, "tester")  # fmt: skip
    close(billed, store_url, key)
    closing.reopen(billed, MARCH, "reopened meanwhile", "tester")
    with pytest.raises(Stale):
        billed.run(partial(close_month, content=content, signature=signature))
    assert close(billed, store_url, key).content.sequence == 2


def test_facts_recorded_after_the_close_are_flagged(billed: Ledger, store_url: str, key: ECC.EccKey) -> None:
    """After the close, March time, a March claim and a condition diagnosed in March are
    flagged; April time and the payer's answer are not; after a re-open nothing new is, and
    after the second close a late fact names close 2."""
    close(billed, store_url, key)
    billed.record(time_entry("E-LATE", "P1", at=datetime(2026, 3, 20, 9, tzinfo=EST)))
    billed.record(time_entry("E-APRIL", "P1", at=datetime(2026, 4, 2, 9, tzinfo=EST)))
    billed.record(condition("J44.9", "P1", diagnosed_on=datetime(2026, 3, 9).date()))
    from domain import facts as f

    billed.record(f.ClaimAdjudicated(claim_id="C1", outcome=ClaimOutcome.DENIED, reason_codes=["CO-16"]))
    db = reads.ready(billed, open_views(billed, store_url))
    flagged = later.after_close(billed, db, MARCH)
    assert [(r.type, r.patient_id, r.month, r.close) for r in flagged] == [
        ("TimeLogged", "P1", MARCH, 1),
        ("ConditionDiagnosed", "P1", MARCH, 1),
    ]
    assert later.after_close(billed, db) == flagged and later.after_close(billed, db, "2026-04") == []
    rows = list(events(billed, db, Query(patient="P1")))
    marks = later.marks(billed, db, [r.position for r in rows])
    assert sorted(marks) == [r.position for r in flagged] and set(marks.values()) == {1}
    stream = billed.recorder.select_events(patient_month_key("P1", MARCH))
    pairs = [(MARCH, e) for e in map(billed.mapper.to_domain_event, stream) if hasattr(e, "fact")]
    assert [type(e.fact).__name__ for m, e in pairs if (e.originator_id, e.originator_version)
            in later.event_marks(billed, pairs)] == ["TimeLogged"]  # fmt: skip
    closing.reopen(billed, MARCH, "late time to bill", "tester")
    billed.record(time_entry("E-OPEN", "P1", at=datetime(2026, 3, 21, 9, tzinfo=EST)))
    close(billed, store_url, key)
    billed.record(time_entry("E-LATER", "P1", at=datetime(2026, 3, 22, 9, tzinfo=EST)))
    flagged = later.after_close(billed, reads.ready(billed, db), MARCH)
    assert [(r.type, r.close) for r in flagged] == [("TimeLogged", 1), ("ConditionDiagnosed", 1), ("TimeLogged", 2)]


def test_new_keys_are_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "close.pem"
    public = closing.new_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert closing.public_hex(closing.load_key(path)) == public
    with pytest.raises(closing.KeyProblem, match="never overwritten"):
        closing.new_key(path)
    path.chmod(0o644)
    with pytest.raises(closing.KeyProblem, match="chmod 600"):
        closing.load_key(path)
    public_only = tmp_path / "public.pem"
    public_only.write_text(ECC.generate(curve="ed25519").public_key().export_key(format="PEM"))
    public_only.chmod(0o600)
    with pytest.raises(closing.KeyProblem, match="not an Ed25519 private key"):
        closing.load_key(public_only)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    junk.chmod(0o600)
    with pytest.raises(closing.KeyProblem, match="not a PEM key"):
        closing.load_key(junk)
    with pytest.raises(closing.KeyProblem, match="cannot be read"):
        closing.load_key(tmp_path / "absent.pem")


def test_the_close_events_have_pinned_topics_and_round_trip(billed: Ledger, store_url: str, key: ECC.EccKey) -> None:
    """Topics pinned and versioned (tests/unit/test_topics.py checks the rest once MonthClose
    is listed there); stored and read back, a close is the close as signed."""
    classes = [MonthClose.Opened, MonthClose.MonthClosed, MonthClose.MonthReopened]
    assert [c.__dict__["TOPIC"] for c in classes] == [
        "carelane.MonthClose.Opened.v1",
        "carelane.MonthClose.MonthClosed.v1",
        "carelane.MonthClose.MonthReopened.v1",
    ]
    done = close(billed, store_url, key)
    (n,) = billed.recorder.select_notifications(start=1, limit=10, topics=[MonthClose.MonthClosed.TOPIC])
    read = billed.mapper.to_domain_event(n)
    assert isinstance(read, MonthClose.MonthClosed) and read.content == done.content
    assert all(isinstance(c, ClosedClaim) for c in read.content.claims)
    assert canonical(read.content) == canonical(done.content)
