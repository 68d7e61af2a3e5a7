"""Bulk ingest's unit of work: the ledger's decisions run over a batch of facts in memory,
then written in one transaction.

Each fact is decided by the same decision table as `Ledger.record` (domain.decisions),
against the state the batch's earlier facts left. The aggregates every fact will read are
loaded first in one query, from the keys each decision declares. The events are written
through the recorder's public `insert_events`: `Application.save()` would also build a
Recording and a Notification per event, which bulk ingest does not read (about a tenth of
its write), and no snapshots, cache or in-process followers are configured
(adapters.store), so save()'s other steps have nothing to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from uuid import UUID

import msgspec
import structlog

from domain import elsewhere, fact_ids, facts
from domain.answered import Sent, memory_key
from domain.base import LedgerAggregate
from domain.decisions import Remembered, decision_for, recall, remember, settle
from domain.decisions.work import AlreadyRecorded, Work
from domain.ledger import Ledger, Outcome, Recorded
from domain.reasons import Refused
from domain.timing import refuse_future

log = structlog.get_logger("carelane.batch")

Positions = dict[tuple[UUID | str, int], int]


class BatchWork(Work):
    """A fact's work inside a batch. Decisions refuse before they trigger any event, so a
    refused fact leaves the batch's aggregates as they were; `changed_shared_state` checks
    that it did."""

    def __init__(self, ledger: Ledger, batch: Mapping[UUID, LedgerAggregate], absent: set[UUID]) -> None:
        super().__init__(ledger.load, ledger.context, ledger.clock(), batch, absent)
        self.versions = {}  # of the batch's aggregates this fact read

    def changed_shared_state(self) -> bool:
        return any(self.known[k].version != v for k, v in (self.versions or {}).items())


class Judged:
    """A batch decided in memory: each fact's answer but its position, the events to
    write, and the aggregates they change (at their new versions)."""

    __slots__ = ("aggregates", "attempts", "batch", "decided", "events")

    def __init__(
        self,
        batch: Sequence[facts.Fact],
        decided: list[Recorded | Refused],
        events: list[object],
        aggregates: dict[UUID, LedgerAggregate],
        attempts: list[str] | None = None,
    ) -> None:
        self.batch = batch
        self.decided = decided
        self.events = events
        self.aggregates = aggregates
        self.attempts = attempts or []  # the claims' reservations across practices (domain.elsewhere)


def abandon(ledger: Ledger, attempts: Sequence[str]) -> None:
    """A judgement not written: its claims' reservations go (a redo reserves again)."""
    if ledger.elsewhere is not None:
        for attempt in attempts:
            ledger.elsewhere.abandon(attempt)


def judge(
    ledger: Ledger,
    batch: Sequence[facts.Fact],
    carried: Mapping[UUID, LedgerAggregate] | None = None,
    sents: Sequence[Sent | None] | None = None,
) -> Judged | None:
    """Each fact decided in turn against the state the earlier ones left. `carried`: what a
    batch still being written has changed; `sents`: where each line came from, for the
    resend policy (domain.answered). None: go fact by fact (_refused)."""
    digests = [fact_ids.digest(fact) for fact in batch]
    where: list[Sent | None] = list(sents) if sents is not None else [None] * len(batch)
    changed, absent = ledger.load_many(_reads(ledger, batch, where))
    changed.update(carried or {})
    absent.difference_update(carried or {})
    decided: list[Recorded | Refused] = []
    attempts: list[str] = []
    for fact, digest, sent in zip(batch, digests, where, strict=True):
        w = BatchWork(ledger, changed, absent)
        item = _one(ledger, w, fact, digest, sent, attempts)
        if item is None:
            abandon(ledger, attempts)
            return None
        changed.update(w.touched)  # a duplicate's or a refusal's only read what they touched
        decided.append(item)
    dirty = {key: agg for key, agg in changed.items() if agg.pending_events}  # most were only read
    return Judged(batch, decided, [e for agg in dirty.values() for e in agg.collect_events()], dirty, attempts)


def _one(
    ledger: Ledger, w: BatchWork, fact: facts.Fact, digest: str, sent: Sent | None, attempts: list[str]
) -> Recorded | Refused | None:
    """One fact's answer in the batch; None: the batch must go fact by fact."""
    try:
        memory = recall(w, sent)
        refuse_future(fact, w.at, ledger.policy)
        home_id, version = ledger.decide(decision_for(fact).decide, w, fact, digest)
        if not _held(ledger, w, fact, attempts):
            return None  # held by another practice: judged again fact by fact, and refused there
        settle(w, memory)
    except AlreadyRecorded as seen:
        return Recorded(seen.originator_id, seen.version, None, duplicate=True)
    except Remembered as again:
        return again
    except Refused as refusal:
        return refusal if _refused(ledger, w, sent, fact, digest, refusal) else None
    return Recorded(home_id, version, None)


def _held(ledger: Ledger, w: Work, fact: facts.Fact, attempts: list[str]) -> bool:
    """A claim's slots across practices reserved (domain.elsewhere), the attempt kept on
    `attempts`; False when another practice holds one. The claim's own decision has changed
    the batch's state by then."""
    if ledger.elsewhere is None or not isinstance(fact, facts.ClaimSubmitted):
        return True
    try:
        attempt = elsewhere.hold(ledger.elsewhere, w, fact)
    except Refused:
        return False
    attempts += [attempt] if attempt is not None else []
    return True


def _reads(ledger: Ledger, batch: Sequence[facts.Fact], sents: list[Sent | None]) -> list[UUID]:
    """Every key the batch's decisions declare they read, and its lines' refusal memories."""
    at = ledger.clock()
    keys = [k for fact in batch for k in decision_for(fact).reads(fact, ledger.context, at)]
    keys += [memory_key(s.submission, s.line) for s in sents if s is not None]
    return list(dict.fromkeys(keys))


def _refused(ledger: Ledger, w: BatchWork, sent: Sent | None, fact: facts.Fact, digest: str, refusal: Refused) -> bool:
    """A fresh refusal, kept with the batch: the refusal log's entry and the submission's
    memory. False when the refusing decision had changed shared state: the batch must go
    fact by fact (decisions refuse before they trigger any event; this plays safe if one
    did not)."""
    if w.changed_shared_state():
        log.warning("batch.refusal_after_change", fact=type(fact).__name__)
        return False
    remember(w, sent, fact, digest, refusal)
    return True


def write(ledger: Ledger, judged: Judged) -> Positions:
    """A judged batch's events in one transaction; each event's position. Raises the
    library's IntegrityError on a lost race."""
    if not judged.events:
        return {}
    stored = [ledger.mapper.to_stored_event(e) for e in judged.events]  # type: ignore[arg-type]  # our events
    ids = ledger.recorder.insert_events(stored) or ()
    if any(isinstance(f, elsewhere.FREES) for f in judged.batch):
        ledger.release_freed(judged.aggregates.values())
    return {(s.originator_id, s.originator_version): n for s, n in zip(stored, ids, strict=True)}


def answers(ledger: Ledger, judged: Judged, positions: Mapping[tuple[UUID | str, int], int]) -> list[Outcome]:
    """Each fact's answer once its batch is written. Facts sent again are located all in one
    query (a query a line made a resend 30-70 times slower than a first send)."""
    again = [(r.originator_id, r.version) for r in judged.decided
             if isinstance(r, Recorded) and r.duplicate and (r.originator_id, r.version) not in positions]  # fmt: skip
    found = ledger.locate(again) if again else {}
    out: list[Outcome] = []
    for item in judged.decided:
        if isinstance(item, Refused):
            out.append(item)
            continue
        key = (item.originator_id, item.version)
        out.append(msgspec.structs.replace(item, position=positions.get(key, found.get(key))))
    return out
