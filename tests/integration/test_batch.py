"""Bulk ingest saves many lines per transaction, yet every line keeps its own answer: the
same answers, positions aside, as line by line."""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import structlog.testing

from adapters.ingest import LineResult, ingest
from adapters.synthetic import practice_lines
from domain.ledger import Ledger
from tests.factories import claim, enrolled, minutes, time_entry

ENC = msgspec.json.Encoder()


def answers(ledger: Ledger, lines: list[bytes], batch: int) -> list[LineResult]:
    out: list[LineResult] = []
    ingest(ledger, lines, out.append, batch=batch)
    return out


def shape(results: list[LineResult]) -> list[tuple[int, str, list[str], str | None, bool]]:
    return [(r.line, r.status, [b.code.value for b in r.reasons or ()], r.error, r.duplicate) for r in results]


def test_batches_answer_each_line_as_line_by_line_does(ledger: Ledger, open_at: Callable[[str], Ledger],
                                                       tmp_path: object) -> None:  # fmt: skip
    """A practice with refusals, invalid lines, duplicates inside a batch and claims: the
    batched answers equal the line-by-line ones, and so does what the store holds."""
    lines = practice_lines(12, ["2026-02", "2026-03"], seed=5)  # staff shared across patients and batches
    extra = [ENC.encode(x) for x in [*enrolled("B1"), *minutes(25, "B1", staff="RN-B")]]
    twice = ENC.encode(time_entry("E-TWICE", "B1", staff_id="RN-C"))
    lines += [*extra, twice, twice, ENC.encode(claim("CB1", "B1")), ENC.encode(claim("CB2", "B1")), b"{oops"]
    with structlog.testing.capture_logs() as logged:
        batched = answers(ledger, lines, batch=64)
    # A lone writer never conflicts with itself: each batch is judged with the one still being written.
    assert not [e for e in logged if e["event"] in ("batch.conflict_fallback", "batch.refusal_after_change")]
    other = open_at(f"sqlite:///{__import__('pathlib').Path(str(tmp_path)) / 'one.db'}")
    single = answers(other, lines, batch=1)
    assert shape(batched) == shape(single)
    tail = [(r.status, [b.code.value for b in r.reasons or ()], r.duplicate) for r in batched[-5:]]
    assert tail == [
        ("accepted", [], False),
        ("accepted", [], True),
        ("accepted", [], False),
        ("refused", ["DUPLICATE_CLAIM"], False),
        ("invalid", [], False),
    ]
    accepted = [r for r in batched if r.status == "accepted"]
    assert all(isinstance(r.position, int) for r in accepted)
    assert batched[-5].position == batched[-4].position  # the duplicate answers with the original's position

    def streams(led: Ledger) -> list[tuple[str, int, str, bytes]]:
        """Every aggregate's events, byte for byte (positions aside: batches interleave)."""
        stored = led.recorder.select_notifications(start=1, limit=1_000_000)
        return sorted((str(n.originator_id), n.originator_version, n.topic, n.state) for n in stored)

    assert streams(ledger) == streams(other)  # batches are written while the next is judged


def test_a_batch_that_loses_a_race_is_redone_line_by_line(store_url: str) -> None:
    """Another writer changes an aggregate the batch changed; the batch's save conflicts,
    and each line is then judged again on its own, against what the other writer recorded."""
    from datetime import UTC, datetime

    from adapters.store import open_ledger

    rival = open_ledger(store_url)
    for fact in enrolled("R1"):
        rival.record(fact)
    calls = [0]

    def clock() -> datetime:
        calls[0] += 1
        if calls[0] == 3:  # while the batch is being judged, a rival logs the same clock time
            rival.record(time_entry("E-RIVAL", "R1", staff_id="RN-R"))
        return datetime(2026, 4, 15, 12, 0, tzinfo=UTC)

    ledger = open_ledger(store_url, clock=clock)
    lines = [ENC.encode(time_entry(f"E-{n}", "R1", staff_id="RN-R" if n == 0 else f"RN-{n}")) for n in range(4)]
    results = answers(ledger, lines, batch=10)
    assert [r.status for r in results] == ["refused", "accepted", "accepted", "accepted"]
    assert results[0].reasons and results[0].reasons[0].code.value == "TIME_OVERLAP"
    view = ledger.month_view("R1", "2026-03")
    assert view is not None and view.current is not None
    assert sorted(view.current.entries) == ["E-1", "E-2", "E-3", "E-RIVAL"]


def test_the_batch_judged_while_a_lost_race_was_writing_is_judged_again(store_url: str) -> None:
    """Bulk ingest writes a batch while it judges the next one against the writing batch's
    aggregates. When that write loses a race, the next batch's decisions rested on facts that
    were never recorded: it must be judged again. Here E-0 loses to a rival entry at the same
    time; E-2 overlaps only E-0, so it is accepted once E-0 is refused (judged on the stale
    state it would have been refused, and with no version clash nothing else would catch it)."""
    from datetime import UTC, datetime, timedelta

    from adapters.store import open_ledger
    from tests.factories import EST

    rival = open_ledger(store_url)
    for fact in enrolled("R1"):
        rival.record(fact)
    t0 = datetime(2026, 3, 16, 9, 0, tzinfo=EST)
    calls = [0]

    def clock() -> datetime:
        calls[0] += 1
        if calls[0] == 1:  # while the first batch is being judged, a rival takes RN-R's 9:00
            rival.record(time_entry("E-RIVAL", "R1", staff_id="RN-R", at=t0, minutes=10))
        return datetime(2026, 4, 15, 12, 0, tzinfo=UTC)

    ledger = open_ledger(store_url, clock=clock)
    entries = [
        time_entry("E-0", "R1", staff_id="RN-R", at=t0, minutes=60),  # overlaps the rival: refused
        time_entry("E-1", "R1", staff_id="RN-1", at=t0),
        time_entry("E-2", "R1", staff_id="RN-R", at=t0 + timedelta(minutes=30), minutes=10),  # overlaps E-0 only
        time_entry("E-3", "R1", staff_id="RN-3", at=t0),
    ]
    results = answers(ledger, [ENC.encode(e) for e in entries], batch=2)
    assert [r.status for r in results] == ["refused", "accepted", "accepted", "accepted"]
    view = ledger.month_view("R1", "2026-03")
    assert view is not None and view.current is not None
    assert sorted(view.current.entries) == ["E-1", "E-2", "E-3", "E-RIVAL"]
    versions = [n.originator_version for n in ledger.recorder.select_events(view.current.id)]
    assert versions == list(range(1, len(versions) + 1))  # one unbroken history


def test_bulk_ingest_leaves_the_planner_fresh_statistics(ledger: Ledger, store_url: str) -> None:
    """After a bulk load, PostgreSQL's statistics of the changed tables are retaken (a stream
    read planned without them turns into a parallel scan at millions of events); a table that
    has not changed since is left alone. SQLite needs none."""
    from adapters.store import analyse

    results = answers(ledger, practice_lines(60, ["2026-02", "2026-03"], seed=9), batch=500)
    assert len(results) > 1500
    analysed = analyse(ledger)
    if store_url.startswith("sqlite"):
        assert analysed == []
        return
    assert {"carelane_events", "carelane_chain"} <= set(analysed)
    assert analyse(ledger) == []  # nothing changed since
    with ledger.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
        row = conn.execute(
            "SELECT reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = 'carelane_events' AND n.nspname = %s",
            (ledger.recorder.datastore.schema,),  # type: ignore[attr-defined]
        ).fetchone()
    assert row["reltuples"] == ledger.recorder.max_notification_id()


def test_a_refused_claims_log_entry_is_written_with_its_batch(ledger: Ledger) -> None:
    """A batch judged but never written (it lost a race, and its lines are judged again one
    by one, maybe differently) leaves no refusal-log entry behind: the entry is written in
    the batch's transaction, as its answer is. Before, it was saved while judging."""
    from datetime import UTC, datetime

    from adapters import batch
    from domain import fact_ids
    from domain.reasons import Refused
    from domain.refusal import ClaimRefusal

    for fact in [*enrolled("P1"), *minutes(25)]:
        ledger.record(fact)
    refused = claim("C9", codes=("99491",))  # 99491 needs 60 minutes: refused on 25
    entry = ClaimRefusal.log(refused, fact_ids.digest(refused), [], datetime.now(UTC)).id
    judged = batch.judge(ledger, [refused, refused])
    assert judged is not None and all(isinstance(d, Refused) for d in judged.decided)
    assert entry not in ledger.repository
    batch.write(ledger, judged)
    assert entry in ledger.repository
    assert len(list(ledger.recorder.select_events(entry))) == 1  # once, though refused twice in the batch
