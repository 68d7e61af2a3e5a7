"""The runner: the eventsourcing Application that records facts.

For each fact it looks up the decision (domain.decisions), loads what the decision reads into
a unit of work, lets it decide (refusing with reasons) and saves every touched aggregate in one
atomic write through the library's `save()`. A version conflict with a concurrent writer is
retried against fresh state, so the loser is judged again on what the winner recorded.

Storage comes from the environment; the ports that read many aggregates or positions in one
query are passed in by the composition root (adapters.store). A Ledger built without them
uses the library's public reads instead, which are slower but give the same answers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar
from uuid import UUID

import msgspec
import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Recording, StoredEvent

from domain import elsewhere, fact_ids, facts
from domain.answered import Sent
from domain.base import LedgerAggregate
from domain.decisions import Remembered, decision_for, recall, remember, settle
from domain.decisions.work import AlreadyRecorded, Context, Home, Work
from domain.elsewhere import ClaimsElsewhere
from domain.keys import patient_key, patient_month_key
from domain.month import Month
from domain.patient import Patient
from domain.policy import DEFAULT_POLICY, Policy
from domain.reasons import Refused
from domain.rulebook import DEFAULT_RULEBOOK, Rulebook
from domain.rules.view import MonthView
from domain.timing import refuse_future

log = structlog.get_logger("carelane.ledger")

# Where stored events stand in the log: (aggregate id, version) pairs to positions, in one query.
Locate = Callable[[Sequence[tuple[UUID, int]]], dict[tuple[UUID, int], int]]
Fetch = Callable[[list[UUID]], dict[UUID, list[StoredEvent]]]  # aggregate id -> its stored events, in order

Decide = Callable[[Work, Any, str], Home]
MAX_ATTEMPTS = 8
T = TypeVar("T")


class Ports(NamedTuple):
    """Reads of many aggregates (fetch) or positions (locate) in one query."""

    fetch: Fetch
    locate: Locate


class Recorded(msgspec.Struct, frozen=True):
    """Where a fact stands in the ledger. `duplicate` when it had been recorded before."""

    originator_id: UUID
    version: int
    position: int | None
    duplicate: bool = False


class Contention(Exception):
    """Other writers kept changing the same aggregates; the fact was not recorded."""


Outcome = Recorded | Refused | Contention


class Ledger(Application):  # type: ignore[type-arg]  # the library generic takes the id type
    """Carelane's application service."""

    name = "Carelane"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        policy: Policy = DEFAULT_POLICY,
        clock: Callable[[], datetime] | None = None,
        rulebook: Rulebook = DEFAULT_RULEBOOK,
        ports: Callable[[Ledger], Ports] | None = None,
        elsewhere: ClaimsElsewhere | None = None,
    ) -> None:
        super().__init__(env)
        self.elsewhere = elsewhere  # the other practices' claims, where one ledger serves several
        self.policy = policy
        self.rulebook = rulebook
        self.context = Context(policy, rulebook)
        self.clock = clock or (lambda: datetime.now(UTC))
        self.fetch, self.locate = (ports or library_ports)(self)

    # Commands

    def record(self, fact: facts.Fact, sent: Sent | None = None) -> Recorded:
        """Record any fact of the contract; raises Refused with reasons. `sent` says where the
        line came from: a line refused before there is refused again for the same reasons
        (domain.answered)."""
        decide = decision_for(fact).decide
        digest = fact_ids.digest(fact)
        bound = log.bind(command=type(fact).__name__, actor=fact.recorded_by, source=fact.source)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            w = Work(self.load, self.context, self.clock())
            try:
                memory = recall(w, sent)
                refuse_future(fact, w.at, self.policy)
                home_id, version = self.decide(decide, w, fact, digest)
                settle(w, memory)
                recordings = self._save(w, fact)
            except AlreadyRecorded as seen:
                bound.debug("fact.duplicate", aggregate=str(seen.originator_id))
                key = (seen.originator_id, seen.version)
                return Recorded(*key, self.locate([key]).get(key), duplicate=True)
            except Remembered:
                bound.info("fact.refused_again")
                raise
            except Refused as refusal:
                bound.info("fact.refused", reasons=[r.code.value for r in refusal.reasons])
                self.log_refusal(fact, digest, refusal, w.at, sent)
                raise
            except IntegrityError:
                bound.info("fact.conflict_retry", attempt=attempt)
                continue
            position = next(
                r.notification.id
                for r in recordings
                if r.domain_event.originator_id == home_id and r.domain_event.originator_version == version
            )
            bound.debug("fact.recorded", aggregate=str(home_id), position=position)
            return Recorded(home_id, version, position)
        raise Contention(f"{type(fact).__name__} lost {MAX_ATTEMPTS} races; send it again")

    def decide(self, decision: Decide, w: Work, fact: facts.Fact, digest: str) -> Home:
        """The fact's decision, and for a claim where one ledger serves several practices,
        the same rules across them (domain.elsewhere)."""
        try:
            home = decision(w, fact, digest)
        except Refused as refusal:
            if self.elsewhere is None or isinstance(refusal, Remembered):
                raise
            raise elsewhere.refused_too(self.elsewhere, w, fact, refusal) from None
        return home

    def _save(self, w: Work, fact: facts.Fact) -> list[Recording[UUID]]:
        """Save the unit of work; across practices, a claim's slots are reserved first (and
        abandoned if it is not saved), and a voided claim's released after."""
        if self.elsewhere is None:
            return self.save(*w.touched.values())
        attempt = elsewhere.hold(self.elsewhere, w, fact) if isinstance(fact, facts.ClaimSubmitted) else None
        try:
            recordings = self.save(*w.touched.values())
        except BaseException:
            if attempt is not None:
                self.elsewhere.abandon(attempt)
            raise
        if isinstance(fact, elsewhere.FREES):
            self.release_freed(w.touched.values())
        return recordings

    def release_freed(self, aggregates: Iterable[object]) -> None:
        """Free the slots of the voided claims among these, after they are saved. A failure
        here is logged, not raised: the fact is recorded, and `carelane project` reconciles."""
        if self.elsewhere is None:
            return
        try:
            self.elsewhere.release(elsewhere.freed(aggregates))
        except Exception as e:
            log.warning("elsewhere.release_failed", error=type(e).__name__)

    def close(self) -> None:
        if self.elsewhere is not None:
            self.elsewhere.close()
        super().close()

    def run(self, command: Callable[[Work], T]) -> T:
        """A command that is not a fact of the contract (an export, a clearinghouse answer),
        decided in one unit of work and saved atomically; run again when another writer
        changed the same aggregates first."""
        for attempt in range(1, MAX_ATTEMPTS + 1):
            w = Work(self.load, self.context, self.clock())
            result = command(w)
            try:
                self.save(*w.touched.values())
            except IntegrityError:
                log.info("command.conflict_retry", attempt=attempt)
                continue
            self.release_freed(w.touched.values())  # a payer's answer can complete a void
            return result
        raise Contention(f"lost {MAX_ATTEMPTS} races with other writers; try again")

    def outcome(self, fact: facts.Fact, sent: Sent | None = None) -> Outcome:
        """record(), with a refusal or lost race returned instead of raised."""
        try:
            return self.record(fact, sent)
        except (Refused, Contention) as e:
            return e

    def log_refusal(
        self, fact: facts.Fact, digest: str, refusal: Refused, at: datetime, sent: Sent | None = None
    ) -> None:
        """Keep a refused claim in the refusal log (once per claim id and content), and any
        refused line in the memory of its submission."""
        w = Work(self.load, self.context, at)
        remember(w, sent, fact, digest, refusal)
        for item in w.touched.values():  # one at a time: another process may have saved either
            with contextlib.suppress(IntegrityError):
                self.save(item)

    # Loading

    def load(self, key: UUID) -> LedgerAggregate | None:
        """One aggregate, or None when it does not exist."""
        try:
            agg: LedgerAggregate = self.repository.get(key)
        except AggregateNotFoundError:
            return None
        return agg

    def load_many(self, keys: list[UUID]) -> tuple[dict[UUID, LedgerAggregate], set[UUID]]:
        """The aggregates among `keys` that exist, and the keys known not to (one query)."""
        found: dict[UUID, LedgerAggregate] = {}
        for key, events in self.fetch(keys).items():
            aggregate: Any = None
            for event in events:
                aggregate = self.mapper.to_domain_event(event).mutate(aggregate)  # type: ignore[attr-defined]  # our events mutate
            found[key] = aggregate
        return found, set(keys) - set(found)

    # Queries the rules need (read-only; nothing is recorded)

    def claim_slots(self, claim_id: str) -> list[elsewhere.Slot]:
        return elsewhere.slots_on_file(Work(self.load, self.context, self.clock()), claim_id)

    def claim_stands(self, claim_id: str) -> bool:
        return elsewhere.stands(Work(self.load, self.context, self.clock()), claim_id)

    def month_view(self, patient_id: str, month: str) -> MonthView | None:
        """The rules' view of one patient-month, or None for an unknown patient."""
        return self.month_views([(patient_id, month)])[(patient_id, month)]

    def month_views(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], MonthView | None]:
        """month_view for many patient-months, their aggregates loaded in one query."""
        keys = [
            key
            for patient_id, month in pairs
            for key in (
                patient_key(patient_id),
                *(patient_month_key(patient_id, m) for m in Month(month).window()),
            )
        ]
        found, absent = self.load_many(list(dict.fromkeys(keys)))
        views: dict[tuple[str, str], MonthView | None] = {}
        for patient_id, month in pairs:
            w = Work(self.load, self.context, self.clock(), found, absent)
            patient = w.get(patient_key(patient_id), Patient)
            views[(patient_id, month)] = None if patient is None else w.view(patient, month)
        return views

    def month_views_of(self, patients: Sequence[str], month: str, chunk: int = 500) -> Iterator[MonthView]:
        """The month's view of each known patient, in order, loaded `chunk` patients per query."""
        for start in range(0, len(patients), chunk):
            views = self.month_views([(p, month) for p in patients[start : start + chunk]])
            yield from (view for view in views.values() if view is not None)


def library_ports(ledger: Ledger) -> Ports:
    """Ports on the library's public recorder API: one read per aggregate, and a scan of the
    notification log for positions (fine for tests and small stores)."""
    recorder: Any = ledger.recorder

    def fetch(ids: list[UUID]) -> dict[UUID, list[StoredEvent]]:
        out = {key: list(recorder.select_events(key)) for key in ids}
        return {key: events for key, events in out.items() if events}

    def locate(pairs: Sequence[tuple[UUID, int]]) -> dict[tuple[UUID, int], int]:
        wanted, found = set(pairs), dict[tuple[UUID, int], int]()
        start = 1
        while wanted - found.keys():
            page = recorder.select_notifications(start=start, limit=1000)
            if not page:
                break
            for n in page:
                key = (n.originator_id if isinstance(n.originator_id, UUID) else UUID(n.originator_id),
                       n.originator_version)  # fmt: skip
                if key in wanted:
                    found[key] = n.id
            start = page[-1].id + 1
        return found

    return Ports(fetch, locate)
