"""Many processes racing on PostgreSQL for the same patient-month, 200 times over: every
invariant holds in every trial and no accepted fact is lost."""

from __future__ import annotations

import multiprocessing
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import pytest

from adapters.store import open_ledger
from domain.reasons import Refused
from tests.conftest import pg_url
from tests.factories import EST, Book, claim, enrolled, minutes, time_entry

TRIALS = 200
WORKERS = 4


def _worker(url: str, worker: int, barrier: Any, results: Any) -> None:
    try:
        ledger = open_ledger(url)
        for trial in range(TRIALS):
            barrier.wait(timeout=120)
            entry = time_entry(f"X{trial}-{worker}", f"R{trial}", staff_id=f"RACE-{trial}", minutes=10,
                               at=datetime(2026, 3, 20, 9, 0, tzinfo=EST))  # fmt: skip
            for kind, fact in (("entry", entry), ("claim", claim(f"C{trial}-{worker}", f"R{trial}"))):
                try:
                    ledger.record(fact)
                    results.put((trial, kind, worker, "accepted"))
                except Refused as e:
                    results.put((trial, kind, worker, ",".join(c.value for c in e.codes)))
        ledger.close()
    except BaseException as e:  # reported by the parent; a silent worker would hang the barrier
        results.put((-1, "error", worker, repr(e)))


@pytest.mark.postgres
def test_200_trials_of_racing_writers_keep_every_invariant() -> None:
    """G-03 and G-08 under contention: per trial, 4 processes log the same staff member's clock
    time and claim 99490 for one patient-month; exactly one of each is accepted, the others
    are TIME_OVERLAP / DUPLICATE_CLAIM, and every accepted fact is in the ledger."""
    gen = pg_url()
    url = next(gen)
    try:
        book = Book(open_ledger(url))
        for trial in range(TRIALS):
            book.add(enrolled(f"R{trial}"), minutes(25, f"R{trial}", staff=f"RN-{trial}"))
        context = multiprocessing.get_context("spawn")
        barrier, results = context.Barrier(WORKERS), context.Queue()
        procs = [context.Process(target=_worker, args=(url, w, barrier, results)) for w in range(WORKERS)]
        for p in procs:
            p.start()
        outcomes = [results.get(timeout=300) for _ in range(TRIALS * WORKERS * 2)]
        for p in procs:
            p.join(60)
        assert not [o for o in outcomes if o[1] == "error"]
        by_trial: dict[tuple[int, str], Counter[str]] = defaultdict(Counter)
        winners: dict[tuple[int, str], int] = {}
        for trial, kind, worker, status in outcomes:
            by_trial[(trial, kind)][status] += 1
            if status == "accepted":
                winners[(trial, kind)] = worker
        for trial in range(TRIALS):
            assert by_trial[(trial, "entry")] == Counter({"accepted": 1, "TIME_OVERLAP": WORKERS - 1}), trial
            assert by_trial[(trial, "claim")] == Counter({"accepted": 1, "DUPLICATE_CLAIM": WORKERS - 1}), trial
            view = book.ledger.month_view(f"R{trial}", "2026-03")
            assert view is not None and view.current is not None
            assert f"X{trial}-{winners[(trial, 'entry')]}" in view.current.entries
            assert list(view.current.claims) == [f"C{trial}-{winners[(trial, 'claim')]}"]
    finally:
        next(gen, None)
