"""The read side stays honest on both stores: exactly once, a rebuild equals the incremental
view, the view equals what the aggregates say, and a worker that dies mid-page counts
nothing twice."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from adapters.ingest import answer
from adapters.synthetic import practice_lines
from adapters.viewdb import open_views
from domain.catalog import DEFAULT_FEES
from domain.ledger import Ledger
from domain.rules.assess import assess
from projections import runner, views
from projections.runner import Redelivered, ViewDB

MONTHS = ["2026-02", "2026-03"]
TABLES = ["view_events", "view_refusals", "view_worklist"]


def snapshot(db: ViewDB) -> dict[str, list[Any]]:
    with db.transaction() as cur:
        out = {}
        for table in TABLES:
            cur.execute(f"SELECT * FROM {table}")
            out[table] = sorted(tuple(r) for r in cur.fetchall())
        return out


@pytest.fixture
def practice(ledger: Ledger, store_url: str) -> tuple[Ledger, ViewDB, list[bytes]]:
    lines = practice_lines(10, MONTHS, seed=3)
    db = open_views(ledger, store_url)
    runner.create(db, views.ALL)
    return ledger, db, lines


def record(ledger: Ledger, lines: list[bytes]) -> None:
    for n, line in enumerate(lines, start=1):
        answer(ledger, line, n)


def test_a_rebuild_from_zero_equals_the_incremental_view(practice: tuple[Ledger, ViewDB, list[bytes]]) -> None:
    """Views built page by page while facts arrive equal views rebuilt from the first event."""
    ledger, db, lines = practice
    half = len(lines) // 2
    record(ledger, lines[:half])
    runner.catch_up(ledger, db, views.ALL, limit=50)
    record(ledger, lines[half:])
    runner.catch_up(ledger, db, views.ALL, limit=50)
    incremental = snapshot(db)
    assert all(incremental[t] for t in ("view_events", "view_worklist"))
    runner.rebuild(db, views.ALL)
    assert snapshot(db)["view_events"] == []
    runner.catch_up(ledger, db, views.ALL)
    assert snapshot(db) == incremental


def test_the_worklist_view_equals_what_the_aggregates_say(practice: tuple[Ledger, ViewDB, list[bytes]]) -> None:
    """Every patient-month row of the view is the rules' assessment of that patient-month now."""
    ledger, db, lines = practice
    record(ledger, lines)
    runner.catch_up(ledger, db, views.ALL, limit=70)
    encoder = msgspec.json.Encoder()
    seen = 0
    for month in MONTHS:
        with db.transaction() as cur:
            rows = views.read_worklist(cur, month, None)
        for row in rows:
            view = ledger.month_view(row.patient_id, month)
            assert view is not None
            assert encoder.encode(assess(view, DEFAULT_FEES)) == encoder.encode(row)
            seen += 1
    assert seen >= 10


def test_a_page_delivered_again_changes_nothing(practice: tuple[Ledger, ViewDB, list[bytes]]) -> None:
    """Exactly once: re-applying an applied page fails on its tracking row and rolls back."""
    ledger, db, lines = practice
    record(ledger, lines[:200])
    runner.catch_up(ledger, db, views.ALL)
    before = snapshot(db)
    index = views.EventIndex()
    page = next(runner.pages(ledger, 0, index.topics, limit=30))
    with pytest.raises(Redelivered), db.transaction() as cur:
        cur.execute("DELETE FROM view_events WHERE position = %s", (page[0][0],))
        runner.advance(cur, index.name, page[-1][0])
    assert snapshot(db) == before


class Dies:
    """A projection that fails part-way through a page, as a killed worker would."""

    def __init__(self, inner: Any, after: int) -> None:
        self.inner, self.after = inner, after
        self.name, self.topics = inner.name, inner.topics
        self.create, self.clear, self.settle = inner.create, inner.clear, inner.settle

    def apply(self, cur: Any, events: list[tuple[int, Any]], ledger: Ledger) -> None:
        self.inner.apply(cur, events[: self.after], ledger)
        raise KeyboardInterrupt("worker killed mid-page")


def test_a_worker_dying_mid_page_counts_nothing_twice(practice: tuple[Ledger, ViewDB, list[bytes]]) -> None:
    """What a dead worker half-wrote is rolled back; its restart ends where a clean run does."""
    ledger, db, lines = practice
    record(ledger, lines)
    runner.catch_up(ledger, db, [views.EventIndex()], limit=40)  # some pages in before the crash
    with pytest.raises(KeyboardInterrupt):
        runner.catch_up(ledger, db, [Dies(p, after=5) for p in views.ALL], limit=40)
    runner.catch_up(ledger, db, views.ALL, limit=40)
    after_restart = snapshot(db)
    runner.rebuild(db, views.ALL)
    runner.catch_up(ledger, db, views.ALL)
    assert snapshot(db) == after_restart
    with db.transaction() as cur:
        cur.execute("SELECT COUNT(*), COUNT(DISTINCT position) FROM view_events")
        total, distinct = cur.fetchone()
    assert total == distinct > 100


class DiesBeforeSettling:
    """A worklist worker killed after its pages committed, before it refreshed the months."""

    def __init__(self, inner: views.Worklist) -> None:
        self.inner = inner
        self.name, self.topics = inner.name, inner.topics
        self.create, self.clear, self.apply = inner.create, inner.clear, inner.apply

    def settle(self, db: ViewDB, ledger: Ledger) -> int:
        raise KeyboardInterrupt("worker killed before settling")


def test_months_marked_by_a_dead_worker_are_refreshed_by_the_next(practice: tuple[Ledger, ViewDB, list[bytes]]) -> None:
    """Pages mark the patient-months they touch with their tracking position; a worker that
    dies before refreshing them leaves the marks, and the next catch-up refreshes them even
    though it has no new page to apply."""
    ledger, db, lines = practice
    record(ledger, lines)
    with pytest.raises(KeyboardInterrupt):
        runner.catch_up(ledger, db, [DiesBeforeSettling(views.Worklist())], limit=40)
    with db.transaction() as cur:
        cur.execute("SELECT COUNT(*) FROM view_wl_dirty")
        assert cur.fetchone()[0] > 10
        cur.execute("SELECT COUNT(*) FROM view_worklist")
        assert cur.fetchone()[0] == 0
    assert runner.catch_up(ledger, db, [views.Worklist()]) == {"worklist": 0}  # no page left to apply
    settled = snapshot(db)["view_worklist"]
    with db.transaction() as cur:
        cur.execute("SELECT COUNT(*) FROM view_wl_dirty")
        assert cur.fetchone()[0] == 0
    runner.rebuild(db, [views.Worklist()])
    runner.catch_up(ledger, db, [views.Worklist()])
    assert snapshot(db)["view_worklist"] == settled != []


def test_apcm_months_with_nothing_logged_have_worklist_rows(store_url: str, open_at: Any, clock: Any) -> None:
    """P-APCM-1 (no minimum time): an APCM patient with nothing logged has a worklist row
    every month from consent to the current one, G0557 billable once its month has ended;
    the calendar reaching a new month gives it a row with no new fact; a revocation ends
    the rows after its month (G-09). CCM needs its minutes, so a CCM patient has none. A
    rebuild gives the same rows."""
    from datetime import date, datetime

    from adapters.reads import worklist
    from adapters.viewcheck import differences
    from domain import facts as f
    from tests.factories import EST, enrolled

    ledger = open_at(store_url)  # the clock reads 15 April 2026
    for fact in enrolled("P1", f.Program.APCM) + enrolled("P2") + enrolled("P3", f.Program.APCM):
        ledger.record(fact)
    db = open_views(ledger, store_url)

    def offered(month: str) -> dict[str, list[str]]:
        return {r.patient_id: [b.code for b in r.billable] + [b.reason for b in r.blocked if b.reason == "PERIOD_OPEN"]
                for r in worklist(ledger, db, month)}  # fmt: skip

    both = {"P1": ["G0557"], "P3": ["G0557"]}
    assert [offered(m) for m in ("2025-12", "2026-01", "2026-03", "2026-04", "2026-05")] == [
        {}, both, both, {"P1": ["PERIOD_OPEN"], "P3": ["PERIOD_OPEN"]}, {}]  # fmt: skip
    clock.now = datetime(2026, 5, 2, 9, tzinfo=EST)
    assert offered("2026-04") == both and offered("2026-05") == {"P1": ["PERIOD_OPEN"], "P3": ["PERIOD_OPEN"]}
    clock.now = datetime(2026, 5, 12, 9, tzinfo=EST)
    ledger.record(f.ConsentRevoked(patient_id="P1", program=f.Program.APCM, revoked_on=date(2026, 5, 10)))
    ledger.record(f.PatientDied(patient_id="P3", died_on=date(2026, 5, 11)))  # G-18: no month after it
    clock.now = datetime(2026, 7, 2, 9, tzinfo=EST)
    assert offered("2026-05") == both and offered("2026-06") == offered("2026-07") == {}
    assert differences(ledger, db) == []
