"""Tamper evidence against an insider with write access to the database, on SQLite and
PostgreSQL: deletions and moves around a kept digest, unsigned digests, edits after a digest,
rewritten aggregate ids, bytes moved between fields, and chains written before version 2."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import pytest

from adapters import chain
from adapters.store import parse
from domain.ledger import Ledger
from tests.factories import EST, one_of_each, time_entry
from tests.integration.test_integrity import positions, run_sql


@pytest.fixture
def recorded(ledger: Ledger) -> Ledger:
    for fact in one_of_each():
        ledger.record(fact)
    return ledger


def column(url: str) -> str:
    return "rowid" if parse(url).kind == "sqlite" else "notification_id"


def events(url: str) -> list[tuple[Any, ...]]:
    return run_sql(url, f"SELECT {column(url)}, originator_id, originator_version, topic, state "
                        f"FROM {{schema}}.stored_events ORDER BY 1")  # fmt: skip


def recompute(url: str, since_v2: int | None = 1) -> None:
    """What an insider does after an edit: rebuild every chain row from the events as they
    now are (rows before `since_v2` in chain version 1)."""
    run_sql(url, "DELETE FROM {schema}.carelane_chain")
    run_sql(url, "DELETE FROM {schema}.carelane_chain_meta")
    if since_v2 is not None:
        run_sql(url, "INSERT INTO {schema}.carelane_chain_meta VALUES (2, %s)", (since_v2,))
    previous = chain.GENESIS
    for position, oid, version, topic, state in events(url):
        hashed = chain.link if since_v2 is not None and position >= since_v2 else chain.link_v1
        previous = hashed(previous, position, oid, version, topic, bytes(state))
        run_sql(url, "INSERT INTO {schema}.carelane_chain VALUES (%s, %s)", (position, previous))


def test_deleting_the_event_at_a_digests_position_is_found(recorded: Ledger, store_url: str) -> None:
    """A digest kept mid-history; the event at its position deleted and the chain recomputed:
    the walk passes the digest's position without matching it, which is a break."""
    kept = chain.tip(recorded.recorder, b"k")
    recorded.record(time_entry("E-AFTER", at=datetime(2026, 3, 20, 9, tzinfo=EST)))
    run_sql(store_url, f"DELETE FROM {{schema}}.stored_events WHERE {column(store_url)} = %s", (kept.position,))
    recompute(store_url)
    assert chain.verify(recorded.recorder) is None  # the chain alone cannot tell
    broken = chain.verify(recorded.recorder, kept)
    assert broken is not None and broken.position == kept.position and "digest" in broken.problem


def test_moving_history_past_the_old_tip_is_found(recorded: Ledger, store_url: str) -> None:
    """An edit, then every event from it onward re-inserted at new positions past the old tip,
    and the chain recomputed: no chain entry is at the digest's position."""
    kept = chain.tip(recorded.recorder, b"k")
    rows = events(store_url)
    edit_from = rows[-3][0]
    moved = [r for r in rows if r[0] >= edit_from]
    run_sql(store_url, f"DELETE FROM {{schema}}.stored_events WHERE {column(store_url)} >= %s", (edit_from,))
    for n, (_, oid, version, topic, state) in enumerate(moved, start=1):
        body = bytes(state).replace(b"RN-1", b"RN-9")
        run_sql(store_url, f"INSERT INTO {{schema}}.stored_events ({column(store_url)}, originator_id, "
                           f"originator_version, topic, state) VALUES (%s, %s, %s, %s, %s)",
                (kept.position + n, oid, version, topic, body))  # fmt: skip
    recompute(store_url)
    assert chain.verify(recorded.recorder) is None
    broken = chain.verify(recorded.recorder, kept)
    assert broken is not None and broken.position == kept.position


def test_a_digest_without_its_hmac_fails_when_a_key_is_set() -> None:
    """With CARELANE_DIGEST_KEY set, a digest whose hmac is removed or null is refused."""
    signed = chain.Digest(12, "ab" * 32, None)
    assert not chain.check_hmac(signed, b"key")
    assert chain.check_hmac(signed, None)  # no key: nothing to check it with


def test_a_digests_hmac_covers_the_access_logs_tip() -> None:
    """A digest signed with the access log's tip fails when that tip is changed or removed;
    one signed without it (kept before digests held it) still checks."""
    key = b"key"
    old = chain.signed(chain.Digest(12, "ab" * 32), key)
    kept = chain.signed(msgspec.structs.replace(old, access=chain.Tip(3, "cd" * 32)), key)
    assert chain.check_hmac(old, key) and chain.check_hmac(kept, key) and kept.hmac != old.hmac
    for changed in (chain.Tip(2, "cd" * 32), chain.Tip(3, "ce" * 32), None):
        assert not chain.check_hmac(msgspec.structs.replace(kept, access=changed), key)
    moved = {"position": 12, "hash": f"{'ab' * 32}:access:3:{'cd' * 32}", "hmac": kept.hmac}  # signs as `kept`
    with pytest.raises(msgspec.ValidationError, match="hash"):
        msgspec.json.decode(msgspec.json.encode(moved), type=chain.Digest)  # a kept file is read so


def test_an_edit_after_an_old_digest_is_still_found(recorded: Ledger, store_url: str) -> None:
    """verify --digest OLD checks the whole chain, not only the history up to the digest."""
    kept = chain.tip(recorded.recorder)
    recorded.record(time_entry("E-AFTER", at=datetime(2026, 3, 20, 9, tzinfo=EST)))
    last = positions(store_url)[-1]
    assert last > kept.position
    run_sql(store_url, f"UPDATE {{schema}}.stored_events SET topic = topic || 'x' WHERE {column(store_url)} = %s",
            (last,))  # fmt: skip
    broken = chain.verify(recorded.recorder, kept)
    assert broken is not None and broken.position == last


def test_sqlite_an_aggregate_id_respelled_is_found(sqlite_ledger: Ledger, sqlite_url: str) -> None:
    """An event's aggregate id rewritten in capitals or with dashes keeps its chain hash (the
    id is the same UUID) but hides the event from its aggregate: verify reports it (SQLite
    only: PostgreSQL stores ids as uuid, which has one spelling)."""
    recorded, store_url = sqlite_ledger, sqlite_url
    for fact in one_of_each():
        recorded.record(fact)
    for spelling in (str.upper, lambda hexid: f"{hexid[:8]}-{hexid[8:12]}-{hexid[12:16]}-{hexid[16:20]}-{hexid[20:]}"):
        target, oid = events(store_url)[7][:2]
        run_sql(store_url, "UPDATE stored_events SET originator_id = %s WHERE rowid = %s", (spelling(oid), target))
        broken = chain.verify(recorded.recorder)
        assert broken is not None and broken.position == target and "aggregate id" in broken.problem
        run_sql(store_url, "UPDATE stored_events SET originator_id = %s WHERE rowid = %s", (oid, target))
        assert chain.verify(recorded.recorder) is None


def test_bytes_moved_from_the_state_into_the_topic_are_found(recorded: Ledger, store_url: str) -> None:
    """Chain v1 joined fields with "|": moving the bytes before a "|" of the state into the
    topic kept the hash. Version 2 prefixes each field with its length."""
    recorded.record(time_entry("E-PIPE", at=datetime(2026, 3, 21, 9, tzinfo=EST), activity="call|letter"))
    target, _, _, topic, state = next(r for r in events(store_url) if b"call|letter" in bytes(r[4]))
    head, _, tail = bytes(state).partition(b"|")
    moved_topic, moved_state = f"{topic}|{head.decode()}", tail
    args = (chain.GENESIS, target, "0" * 32, 3)
    assert chain.link_v1(*args, topic, bytes(state)) == chain.link_v1(*args, moved_topic, moved_state)
    assert chain.link(*args, topic, bytes(state)) != chain.link(*args, moved_topic, moved_state)
    run_sql(store_url, f"UPDATE {{schema}}.stored_events SET topic = %s, state = %s WHERE {column(store_url)} = %s",
            (moved_topic, moved_state, target))  # fmt: skip
    broken = chain.verify(recorded.recorder)
    assert broken is not None and broken.position == target


def test_a_chain_written_before_version_2_still_verifies(recorded: Ledger, store_url: str) -> None:
    """A store whose chain is all version 1, or version 1 up to a position and version 2 after
    it (an upgrade), verifies; an edit in the version-1 part is still found."""
    recompute(store_url, since_v2=None)
    assert chain.verify(recorded.recorder) is None
    middle = positions(store_url)[len(positions(store_url)) // 2]
    recompute(store_url, since_v2=middle)
    assert chain.verify(recorded.recorder) is None
    first = positions(store_url)[2]
    run_sql(store_url, f"UPDATE {{schema}}.stored_events SET topic = topic || 'x' WHERE {column(store_url)} = %s",
            (first,))  # fmt: skip
    broken = chain.verify(recorded.recorder)
    assert broken is not None and broken.position == first
