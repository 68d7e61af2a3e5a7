"""Key rotation on both stores: every event re-encrypted under the new key, the chain
recomputed and verified, the old key refused afterwards; a clear store can be encrypted the
same way; a store whose chain is broken is not rotated, and nothing changes."""

from __future__ import annotations

import pytest
from eventsourcing.cipher import AESCipher

from adapters import chain, rotate
from adapters.store import StoreError, open_ledger
from tests.conftest import Clock
from tests.factories import one_of_each
from tests.integration.test_integrity import run_sql

OLD, NEW = AESCipher.create_key(32), AESCipher.create_key(32)


def _filled(url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch, key: str | None) -> chain.Digest:
    if key is None:
        monkeypatch.delenv("CARELANE_CIPHER_KEY", raising=False)
    else:
        monkeypatch.setenv("CARELANE_CIPHER_KEY", key)
    ledger = open_ledger(url, clock=clock)
    for fact in one_of_each():
        ledger.record(fact)
    tip = chain.tip(ledger.recorder)
    ledger.close()
    return tip


def _states(url: str) -> list[bytes]:
    return [bytes(r[0]) for r in run_sql(url, "SELECT state FROM {schema}.stored_events ORDER BY 1")]


@pytest.mark.parametrize("old", [OLD, None], ids=["rotated", "encrypted-from-clear"])
def test_rotation_reencrypts_every_event_and_the_chain_verifies(
    store_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch, old: str | None
) -> None:
    tip = _filled(store_url, clock, monkeypatch, old)
    states = _states(store_url)
    before, after = rotate.rotate(store_url, NEW)
    assert before == chain.Digest(tip.position, tip.hash) and after.position == tip.position and after.hash != tip.hash
    rotated = _states(store_url)
    assert len(rotated) == len(states) and not set(rotated) & set(states)  # every state rewritten
    assert not any(b"1948-05-17" in s for s in rotated)
    if old is not None:
        with pytest.raises(StoreError, match="CARELANE_CIPHER_KEY"):
            open_ledger(store_url, clock=clock)  # the old key no longer opens it
    monkeypatch.setenv("CARELANE_CIPHER_KEY", NEW)
    ledger = open_ledger(store_url, clock=clock)
    try:
        assert chain.verify(ledger.recorder, after) is None
        view = ledger.month_view("P1", "2026-03")
        assert view is not None and view.patient.birth_date is not None
    finally:
        ledger.close()
    assert run_sql(store_url, "SELECT position, old_hash, new_hash FROM {schema}.carelane_chain_rotations") == [
        (tip.position, tip.hash, after.hash)
    ]


def test_a_broken_chain_is_not_rotated(store_url: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    _filled(store_url, clock, monkeypatch, OLD)
    run_sql(store_url, "DELETE FROM {schema}.carelane_chain WHERE position = 3")
    states = _states(store_url)
    with pytest.raises(rotate.RotationError, match="broken"):
        rotate.rotate(store_url, NEW)
    assert _states(store_url) == states
