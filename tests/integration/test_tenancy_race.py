"""Two practices claim the same patient (by MBI), lane and month at the same instant, 200
times over, on both stores: exactly one claim is accepted every trial, the other is refused
PROVIDER_CONFLICT naming the winner, and the index names the winner."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters.ingest import BATCH, ingest
from adapters.tenants import Catalog
from domain.reasons import Refused
from tests.factories import claim, enrolled, minutes
from tests.tenants import add_practices, home_store, with_index

TRIALS = 200
PRACTICES = ("A", "B")
ENCODE = msgspec.json.Encoder().encode


def _worker(url: str, practice: str, home: str, barrier: Any, results: Any) -> None:
    try:
        ledger = with_index(url, practice, home)
        for trial in range(TRIALS):
            barrier.wait(timeout=120)
            try:
                ledger.record(claim(f"C{trial}-{practice}", f"R{trial}"))
                results.put((trial, practice, "accepted", ""))
            except Refused as e:
                results.put((trial, practice, ",".join(c.value for c in e.codes), e.reasons[0].message))
        ledger.close()
    except BaseException as e:  # reported by the parent; a silent worker would hang the barrier
        results.put((-1, practice, "error", repr(e)))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_200_races_between_two_practices_accept_exactly_one_claim(kind: str, tmp_path: Path) -> None:
    gen = home_store(kind, tmp_path)
    home = next(gen)
    try:
        urls = add_practices(home, *PRACTICES)
        for practice in PRACTICES:
            ledger = with_index(urls[practice], practice, home)
            lines = [  # the same patient ids, so the same MBIs, at both
                ENCODE(fact)
                for trial in range(TRIALS)
                for fact in [*enrolled(f"R{trial}"), *minutes(25, f"R{trial}", staff=f"RN-{trial}")]
            ]
            assert ingest(ledger, lines, lambda _: None, batch=BATCH).exit_code == 0
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(len(PRACTICES)), context.Queue()
        procs = [context.Process(target=_worker, args=(urls[p], p, home, barrier, results)) for p in PRACTICES]
        for proc in procs:
            proc.start()
        outcomes: list[tuple[int, str, str, str]] = []
        while len(outcomes) < TRIALS * len(PRACTICES):
            outcomes.append(results.get(timeout=300))
            assert outcomes[-1][2] != "error", outcomes[-1]  # a failed worker leaves the other at the barrier
        for proc in procs:
            proc.join(60)
        winners = {trial: practice for trial, practice, status, _ in outcomes if status == "accepted"}
        for trial in range(TRIALS):
            statuses = Counter(status for t, _, status, _ in outcomes if t == trial)
            assert statuses == Counter({"accepted": 1, "PROVIDER_CONFLICT": 1}), (trial, statuses)
            loser = next(m for t, _, s, m in outcomes if t == trial and s != "accepted")
            assert f"practice {winners[trial]}" in loser
        catalog = Catalog.open(home)
        assert catalog is not None
        with catalog.db.reading() as cur:
            cur.execute(  # the lane's slot: one per patient-month won
                "SELECT practice_id, COUNT(*) FROM carelane_claim_slots WHERE slot = 'CCM|PCM|APCM' "
                "GROUP BY practice_id"
            )
            owned = dict(cur.fetchall())
        catalog.close()
        assert owned == dict(Counter(winners.values()))
    finally:
        next(gen, None)
