"""The command side: the eventsourcing Application with one command method per fact type.

Each command loads the aggregates that own the fact's rules, lets them decide (refusing
with a reason) and saves every touched aggregate in one atomic write. A version conflict
with a concurrent writer is retried against fresh state, so the loser is judged again and
accepted or refused on what the winner recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

import msgspec
import structlog
from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import IntegrityError, Recording

from domain import facts
from domain.base import LedgerAggregate
from domain.identity import Identity
from domain.keys import identity_key, patient_key, patient_month_key, staff_day_key
from domain.patient import PATIENT_FACTS, Patient
from domain.patient_month import PatientMonth
from domain.policy import DEFAULT_POLICY, Policy
from domain.reasons import Reason, Refused
from domain.records import Withdrawn
from domain.refusal import ClaimRefusal
from domain.rulebook import DEFAULT_RULEBOOK, Rulebook
from domain.rules import gate
from domain.rules.view import VIEW_MONTHS, MonthView, shift_month
from domain.staff_day import StaffDay
from domain.state import Claim, claim_programs
from domain.timing import local_days, month_of, refuse_future

log = structlog.get_logger("carelane.ledger")

A = TypeVar("A", bound=LedgerAggregate)
F = TypeVar("F", bound=facts.Fact)
# Where stored events stand in the log: (aggregate id, version) pairs to positions, in one query.
Locate = Callable[[Sequence[tuple[UUID, int]]], dict[tuple[UUID, int], int]]
Fetch = Callable[[list[UUID]], dict[UUID, list[Any]]]  # aggregate id -> its stored events, in order

MAX_ATTEMPTS = 8


MBI = "medicare_id"  # an Identity kind: one patient per Medicare beneficiary identifier


def _mbi(medicare_id: str | None) -> str | None:
    """The MBI as one spelling: dashes and spaces are how it is printed, not part of it."""
    return None if medicare_id is None else "".join(medicare_id.split()).replace("-", "").upper()


def _cause(fact: facts.Fact) -> str:
    """The withdrawing fact, named without its content (which may hold PHI)."""
    key = facts.ID_FIELD.get(type(fact)) or next(
        (f for f in ("entry_id", "stay_id", "discharge_id", "condition_id", "program") if hasattr(fact, f)), None
    )
    return type(fact).__name__ + (f" {getattr(fact, key)}" if key else "")


class Recorded(msgspec.Struct, frozen=True):
    """Where a fact stands in the ledger. `duplicate` when it had been recorded before."""

    originator_id: UUID
    version: int
    position: int | None
    duplicate: bool = False


class AlreadyRecorded(Exception):
    def __init__(self, originator_id: UUID, version: int) -> None:
        super().__init__(f"already recorded at {originator_id} v{version}")
        self.originator_id = originator_id
        self.version = version


class Contention(Exception):
    """Other writers kept changing the same aggregates; the fact was not recorded."""


class Work:
    """The aggregates one command reads and changes; saved together or not at all."""

    def __init__(self, ledger: Ledger, at: datetime) -> None:
        self.ledger = ledger
        self.at = at
        self.touched: dict[UUID, LedgerAggregate] = {}

    def get(self, key: UUID, kind: type[A]) -> A | None:
        if key in self.touched:
            return self.touched[key]  # type: ignore[return-value]  # stored under its key by kind
        try:
            agg: object = self.ledger.repository.get(key)
        except AggregateNotFoundError:
            return None
        assert isinstance(agg, kind)
        self.touched[key] = agg
        return agg

    def add(self, agg: A) -> A:
        self.touched[agg.id] = agg
        return agg

    def patient(self, patient_id: str) -> Patient:
        patient = self.get(patient_key(patient_id), Patient)
        if patient is None:
            raise Refused.one(
                Reason.UNKNOWN_PATIENT,
                f"Patient {patient_id} is not registered; send PatientRegistered first",
            )
        return patient

    def patient_month(self, patient_id: str, month: str) -> PatientMonth:
        pm = self.get(patient_month_key(patient_id, month), PatientMonth)
        return pm or self.add(PatientMonth.open(patient_id, month, self.at))

    def staff_day(self, staff_id: str, day: Any) -> StaffDay:
        sd = self.get(staff_day_key(staff_id, day), StaffDay)
        return sd or self.add(StaffDay.open(staff_id, day, self.at))

    def view(self, patient: Patient, month: str) -> MonthView:
        """What the rules read for a patient-month: the month and the two before it."""
        months = {}
        for m in (shift_month(month, d) for d in VIEW_MONTHS):
            pm = self.get(patient_month_key(patient.patient_id, m), PatientMonth)
            if pm is not None:
                months[m] = pm
        return MonthView(patient, month, self.ledger.policy, months, self.ledger.rulebook)

    def identity_of(self, fact_type: type[facts.Fact], external_id: str) -> Identity | None:
        return self.get(identity_key(fact_type.__name__, external_id), Identity)

    def not_yet(self, fact: facts.Fact, home: LedgerAggregate, digest: str) -> None:
        """Raise AlreadyRecorded for a fact sent again; ID_REUSED for an id with other content."""
        id_field = facts.ID_FIELD.get(type(fact))
        if id_field is None:
            version = home.already(digest)
            if version is not None:
                raise AlreadyRecorded(home.id, version)
            return
        ident = self.identity_of(type(fact), getattr(fact, id_field))
        if ident is not None and ident.same_fact(digest):
            raise AlreadyRecorded(ident.home_id, ident.home_version)

    def bind(self, fact: facts.Fact, home: LedgerAggregate, version: int, digest: str) -> None:
        id_field = facts.ID_FIELD.get(type(fact))
        if id_field is not None:
            external_id = getattr(fact, id_field)
            self.add(Identity.bind(type(fact).__name__, external_id, digest, home.id, version, self.at))


class BatchWork(Work):
    """A command's work inside a batch: aggregates already read or changed by earlier facts
    of the batch come from the batch. Decisions refuse before they trigger any event, so a
    refused fact leaves them as they were (judge checks that it did)."""

    def __init__(self, ledger: Ledger, at: datetime, batch: dict[UUID, LedgerAggregate], absent: set[UUID]) -> None:
        super().__init__(ledger, at)
        self.batch = batch
        self.absent = absent  # known not to exist when the batch began
        self.versions: dict[UUID, int] = {}  # of the batch's aggregates this fact read

    def get(self, key: UUID, kind: type[A]) -> A | None:
        # Each dict probe hashes the UUID in Python; bulk ingest makes millions of them.
        agg = self.touched.get(key)
        if agg is None:
            agg = self.batch.get(key)
            if agg is None:
                return None if key in self.absent else super().get(key, kind)
            self.touched[key] = agg
            self.versions[key] = agg.version
        assert isinstance(agg, kind)
        return agg

    def changed_shared_state(self) -> bool:
        return any(self.batch[k].version != v for k, v in self.versions.items())


Outcome = Recorded | Refused | Contention


class Judged:
    """A batch decided in memory: each fact's decision, the events to write, and the
    aggregates they change (at their new versions)."""

    __slots__ = ("aggregates", "batch", "decided", "events")

    def __init__(
        self,
        batch: Sequence[facts.Fact],
        decided: list[tuple[str, UUID, int] | Refused],
        events: list[Any],
        aggregates: dict[UUID, LedgerAggregate],
    ) -> None:
        self.batch = batch
        self.decided = decided
        self.events = events
        self.aggregates = aggregates


class Ledger(Application):  # type: ignore[type-arg]  # the library generic takes the id type
    """Carelane's application service. Storage comes from the environment (adapters.store)."""

    name = "Carelane"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        policy: Policy = DEFAULT_POLICY,
        clock: Callable[[], datetime] | None = None,
        locate: Locate | None = None,
        rulebook: Rulebook = DEFAULT_RULEBOOK,
    ) -> None:
        super().__init__(env)
        self.policy = policy
        self.rulebook = rulebook
        self.clock = clock or (lambda: datetime.now(UTC))
        self.locate = locate
        self.fetch: Fetch | None = None
        on_patient = self._note_on_patient
        self._decisions: dict[type[facts.Fact], Callable[[Work, Any, str], tuple[UUID, int]]] = {
            facts.PatientRegistered: self._register,
            facts.TimeLogged: self._log_time,
            facts.TimeEntryVoided: self._void_time_entry,
            facts.DataTransmitted: self._transmit,
            facts.ClaimSubmitted: self._submit_claim,
            facts.ClaimAdjudicated: self._adjudicate_claim,
            facts.ClaimVoided: self._void_claim,
        }
        self._decisions.update(dict.fromkeys(PATIENT_FACTS, on_patient))

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's save, collecting our aggregates' events directly: its collector tests
        each object against two runtime-checkable Protocols, which cost about a tenth of
        bulk ingest (measured). Anything else goes through the library's collector."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, LedgerAggregate):
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = obj
            else:
                processing.collect_events(obj)
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        return recordings

    # The one entry point adapters use.

    def record(self, fact: facts.Fact) -> Recorded:
        """Record any fact of the contract; raises Refused with reasons."""
        return self._run(fact, self._decision_for(fact))

    # Queries the rules need (read-only; nothing is recorded).

    def month_view(self, patient_id: str, month: str) -> MonthView | None:
        """The rules' view of one patient-month, or None for an unknown patient."""
        return self.month_views([(patient_id, month)])[(patient_id, month)]

    def month_views(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], MonthView | None]:
        """month_view for many patient-months, their aggregates loaded in one query when the
        store offers it (the worklist view refreshes hundreds at a time)."""
        keys = [
            key
            for patient_id, month in pairs
            for key in (
                patient_key(patient_id),
                *(patient_month_key(patient_id, shift_month(month, d)) for d in VIEW_MONTHS),
            )
        ]
        found, absent = self._load(list(dict.fromkeys(keys)))
        views: dict[tuple[str, str], MonthView | None] = {}
        for patient_id, month in pairs:
            w = BatchWork(self, self.clock(), found, absent)
            patient = w.get(patient_key(patient_id), Patient)
            views[(patient_id, month)] = None if patient is None else w.view(patient, month)
        return views

    def month_views_of(self, patients: Sequence[str], month: str, chunk: int = 500) -> Iterator[MonthView]:
        """The month's view of each known patient, in order, loaded `chunk` patients per query."""
        for start in range(0, len(patients), chunk):
            views = self.month_views([(p, month) for p in patients[start : start + chunk]])
            yield from (view for view in views.values() if view is not None)

    # Decisions: each returns the aggregate and version that hold the fact.

    def _register(self, w: Work, fact: facts.PatientRegistered, digest: str) -> tuple[UUID, int]:
        existing = w.get(patient_key(fact.patient_id), Patient)
        if existing is not None:
            if existing.already(digest) is not None:
                raise AlreadyRecorded(existing.id, 1)
            raise Refused.one(
                Reason.ID_REUSED,
                f"Patient {fact.patient_id} is already registered with other details",
            )
        mbi = _mbi(fact.medicare_id)
        holder = None if mbi is None else w.get(identity_key(MBI, mbi), Identity)
        if holder is not None:
            # G-07: one beneficiary, one record; under two patient ids two practitioners
            # could each bill the same month.
            # Naming that patient would tell whoever guesses a Medicare id whose record it is.
            raise Refused.one(Reason.ID_REUSED, "That Medicare id is already registered to another patient")
        patient = w.add(Patient.register(fact, digest, w.at))
        if mbi is not None:
            w.add(Identity.bind(MBI, mbi, digest, patient.id, patient.version, w.at))
        return patient.id, patient.version

    def _note_on_patient(self, w: Work, fact: Any, digest: str) -> tuple[UUID, int]:
        patient = w.patient(fact.patient_id)
        w.not_yet(fact, patient, digest)
        version = patient.note(fact, digest, w.at)
        w.bind(fact, patient, version, digest)
        # The claims a dated fact can reach are of its month on; a death also reaches the TCM
        # claim of the month before (dated by its visit, its 30 days run on). A fact with no
        # date of its own (a cancellation) reaches every claim.
        since = facts.happened(fact)
        back = -1 if isinstance(fact, facts.PatientDied) else 0
        reach = None if since is None else shift_month(month_of(since, self.policy), back)
        self._recheck(w, patient, [m for m in patient.claim_months() if reach is None or m >= reach], fact)
        return patient.id, version

    def _recheck(self, w: Work, patient: Patient, months: list[str], cause: facts.Fact) -> None:
        """G-16: a fact about the past is recorded, never refused because a claim relied on it.
        Each live claim of the months it reaches is judged again: one the record no longer
        supports becomes unsupported, and an unsupported one whose support came back is
        restored (a stay recorded as started, then as ended)."""
        for month in sorted(set(months)):
            view = w.view(patient, month)
            pm = w.get(patient_month_key(patient.patient_id, month), PatientMonth)
            for claim in pm.live_claims() if pm is not None else ():
                assert pm is not None
                short, claim_id = gate.shortfall(claim, view), claim.submitted.claim_id
                if short and claim.withdrawn is None:
                    pm.withdraw_support(claim_id, Withdrawn(short, w.at, _cause(cause)))
                elif not short and claim.withdrawn is not None:
                    pm.restore_support(claim_id, _cause(cause), w.at)

    def _service_gone(self, w: Work, patient: Patient, pm: PatientMonth, programs: set[facts.Program],
                      cause: facts.Fact) -> None:  # fmt: skip
        """A void took a service away: if it was the month's last of a program, the month is
        no service on record (P-CCM-2), and when it was the first month, later claims of the
        program are judged again; the month's own claims are (an add-on may lose its base)."""
        months = [pm.month]
        for program in programs:
            if not pm.serves(program) and patient.withdraw_service(program, pm.month, w.at):
                months += [m for m in patient.claim_months() if m > pm.month]
        self._recheck(w, patient, months, cause)

    def _decide_month(self, w: Work, fact: facts.MedicalDecisionMaking, digest: str) -> tuple[UUID, int]:
        w.patient(fact.patient_id)
        pm = w.patient_month(fact.patient_id, str(fact.month))
        w.not_yet(fact, pm, digest)
        return pm.id, pm.decide(fact, digest, w.at)

    def _log_time(self, w: Work, fact: facts.TimeLogged, digest: str) -> tuple[UUID, int]:
        patient = w.patient(fact.patient_id)
        pm = w.patient_month(fact.patient_id, month_of(fact.started_at, self.policy))
        w.not_yet(fact, pm, digest)
        start, end = fact.started_at, fact.started_at + timedelta(minutes=fact.minutes)
        days = [w.staff_day(fact.staff_id, day) for day in local_days(start, end, self.policy)]
        for staff_day in days:  # every day is checked before any is booked
            staff_day.check(fact.entry_id, start, end)
        for staff_day in days:
            staff_day.book(fact.entry_id, start, end, w.at)
        first = patient.note_service(fact.program, pm.month, w.at)
        version = pm.log_time(fact, digest, w.at)
        w.bind(fact, pm, version, digest)
        # G-16: a late entry may restore a claim's support; a new first month changes the
        # program's later months (P-CCM-2, P-COCM-1).
        months = ([pm.month] if pm.live_claims() else []) + (
            [m for m in patient.claim_months() if m > pm.month] if first else []
        )
        if months:
            self._recheck(w, patient, months, fact)
        return pm.id, version

    def _void_time_entry(self, w: Work, fact: facts.TimeEntryVoided, digest: str) -> tuple[UUID, int]:
        ident = w.identity_of(facts.TimeLogged, fact.entry_id)
        pm = None if ident is None else w.get(ident.home_id, PatientMonth)
        if pm is None or pm.patient_id != fact.patient_id:
            raise Refused.one(
                Reason.UNKNOWN_ENTRY,
                f"Time entry {fact.entry_id} is not on file for patient {fact.patient_id}",
            )
        w.not_yet(fact, pm, digest)
        version = pm.void_entry(fact, digest, w.at)
        logged = pm.entries[fact.entry_id].logged
        start, end = logged.started_at, logged.started_at + timedelta(minutes=logged.minutes)
        for day in local_days(start, end, self.policy):
            w.staff_day(logged.staff_id, day).release(fact.entry_id, w.at)
        self._service_gone(w, w.patient(pm.patient_id), pm, {logged.program}, fact)
        return pm.id, version

    def _transmit(self, w: Work, fact: facts.DataTransmitted, digest: str) -> tuple[UUID, int]:
        patient = w.patient(fact.patient_id)
        if fact.device_id not in patient.devices:
            raise Refused.one(
                Reason.UNKNOWN_REFERENCE,
                f"Device {fact.device_id} has no DeviceSetup on file for this patient",
            )
        pm = w.patient_month(fact.patient_id, month_of(fact.transmitted_on, self.policy))
        w.not_yet(fact, pm, digest)
        return pm.id, pm.transmit(fact, digest, w.at)

    def _submit_claim(self, w: Work, fact: facts.ClaimSubmitted, digest: str) -> tuple[UUID, int]:
        patient = w.patient(fact.patient_id)
        month = fact.service_month or month_of(fact.service_on or w.at, self.policy)
        pm = w.patient_month(fact.patient_id, month)
        w.not_yet(fact, pm, digest)
        judged = gate.judge(fact, w.view(patient, month), w.at)
        if judged.reasons:
            raise Refused(*judged.reasons)
        version = pm.accept_claim(fact, digest, w.at, judged.verdict)
        patient.lodge(fact.claim_id, month, judged.lines, w.at)
        for program in dict.fromkeys(x.spec.program for x in judged.lines if x.spec.program is not None):
            patient.note_service(program, month, w.at)  # P-CCM-2: a claim is a service on record
        w.bind(fact, pm, version, digest)
        return pm.id, version

    def _claim_home(self, w: Work, claim_id: str) -> PatientMonth:
        ident = w.identity_of(facts.ClaimSubmitted, claim_id)
        pm = None if ident is None else w.get(ident.home_id, PatientMonth)
        if pm is None:
            raise Refused.one(Reason.UNKNOWN_CLAIM, f"Claim {claim_id} is not on file")
        return pm

    def _adjudicate_claim(self, w: Work, fact: facts.ClaimAdjudicated, digest: str) -> tuple[UUID, int]:
        pm = self._claim_home(w, fact.claim_id)
        w.not_yet(fact, pm, digest)
        version = pm.adjudicate(fact, digest, w.at)
        claim = pm.claims[fact.claim_id]
        if not claim.live:  # the payer reversed it: its codes are free (G-08)
            self._claim_gone(w, pm, claim, fact)
        return pm.id, version

    def _claim_gone(self, w: Work, pm: PatientMonth, claim: Claim, cause: facts.Fact) -> None:
        patient = w.patient(pm.patient_id)
        patient.release(claim.submitted.claim_id, w.at)
        self._service_gone(w, patient, pm, claim_programs(claim), cause)

    def _void_claim(self, w: Work, fact: facts.ClaimVoided, digest: str) -> tuple[UUID, int]:
        pm = self._claim_home(w, fact.claim_id)
        w.not_yet(fact, pm, digest)
        version, freed = pm.void_claim(fact, digest, w.at)
        if freed:
            self._claim_gone(w, pm, pm.claims[fact.claim_id], fact)
        return pm.id, version

    # Many facts in one transaction (bulk ingest)

    def judge(
        self, batch: Sequence[facts.Fact], carried: Mapping[UUID, LedgerAggregate] | None = None
    ) -> Judged | None:
        """Bulk ingest's decisions: each fact judged in turn against the state the earlier ones
        left, in memory (write() then saves them in one transaction, answers() answers each
        fact). `carried` are aggregates a batch still being written has changed (newer than
        the store). None when a decision refused after changing shared state: the batch must
        then go fact by fact."""
        changed, absent = self._prefetch(batch)
        if carried:
            changed.update(carried)
            absent.difference_update(carried)
        decided: list[tuple[str, UUID, int] | Refused] = []
        for fact in batch:
            digest = facts.digest(fact)
            w = BatchWork(self, self.clock(), changed, absent)
            try:
                refuse_future(fact, w.at, self.policy)
                home_id, version = self._decision_for(fact)(w, fact, digest)
            except AlreadyRecorded as seen:
                decided.append(("again", seen.originator_id, seen.version))
                continue
            except Refused as refusal:
                if w.changed_shared_state():
                    log.warning("batch.refusal_after_change", fact=type(fact).__name__)
                    return None  # a decision broke the rule above: play safe
                if isinstance(fact, facts.ClaimSubmitted):
                    self._log_refusal(fact, digest, refusal, w.at)
                decided.append(refusal)
                continue
            changed.update(w.touched)
            decided.append(("new", home_id, version))
        dirty = {key: agg for key, agg in changed.items() if agg.pending_events}  # most were only read
        return Judged(batch, decided, [e for agg in dirty.values() for e in agg.collect_events()], dirty)

    def write(self, judged: Judged) -> dict[tuple[UUID | str, int], int]:
        """A judged batch's events in one transaction; each event's position. save() would also
        build a Recording and a Notification per event, which bulk ingest does not read (about a
        tenth of its write). No aggregate cache or snapshots are configured (adapters.store),
        so save()'s other steps have nothing to do. Raises IntegrityError on a lost race."""
        if not judged.events:
            return {}
        stored = [self.mapper.to_stored_event(e) for e in judged.events]
        ids = self.recorder.insert_events(stored) or ()
        return {(s.originator_id, s.originator_version): n for s, n in zip(stored, ids, strict=True)}

    def answers(self, judged: Judged, positions: Mapping[tuple[UUID | str, int], int]) -> list[Outcome]:
        """Each fact's answer once its batch is written."""
        out: list[Outcome] = []
        # Facts sent again: where each was first recorded, all found in one query (a query
        # per line made a resend of a file 30-70 times slower than its first send).
        again = [(h, v) for item in judged.decided if not isinstance(item, Refused)
                 for kind, h, v in [item] if kind == "again" and (h, v) not in positions]  # fmt: skip
        found = self.locate(again) if again and self.locate is not None else {}
        for item in judged.decided:
            if isinstance(item, Refused):
                out.append(item)
                continue
            kind, home_id, version = item
            position = positions.get((home_id, version))
            if kind == "again" and position is None:
                position = found.get((home_id, version))
            out.append(Recorded(home_id, version, position, duplicate=kind == "again"))
        return out

    def _prefetch(self, batch: Sequence[facts.Fact]) -> tuple[dict[UUID, LedgerAggregate], set[UUID]]:
        """Load every aggregate the batch will read in one query (when the store offers it)."""
        return self._load(list(dict.fromkeys(k for fact in batch for k in self._keys_for(fact))))

    def _load(self, keys: list[UUID]) -> tuple[dict[UUID, LedgerAggregate], set[UUID]]:
        """The aggregates among `keys` that exist, and the keys known not to (one query)."""
        if self.fetch is None:
            return {}, set()
        stored = self.fetch(keys)
        found: dict[UUID, LedgerAggregate] = {}
        for key, events in stored.items():
            aggregate: Any = None
            for event in events:
                aggregate = self.mapper.to_domain_event(event).mutate(aggregate)  # type: ignore[attr-defined]  # our events mutate
            found[key] = aggregate
        return found, set(keys) - set(found)

    def _keys_for(self, fact: facts.Fact) -> list[UUID]:
        """The aggregates a fact's decision is likely to read (a guess only saves queries)."""
        keys = []
        patient_id = getattr(fact, "patient_id", None)
        if patient_id is not None:
            keys.append(patient_key(patient_id))
        id_field = facts.ID_FIELD.get(type(fact))
        if id_field is not None:
            keys.append(identity_key(type(fact).__name__, getattr(fact, id_field)))
        if isinstance(fact, facts.PatientRegistered) and (mbi := _mbi(fact.medicare_id)) is not None:
            keys.append(identity_key(MBI, mbi))
        if isinstance(fact, facts.TimeLogged):
            end = fact.started_at + timedelta(minutes=fact.minutes)
            keys.append(patient_month_key(fact.patient_id, month_of(fact.started_at, self.policy)))
            keys += [staff_day_key(fact.staff_id, d) for d in local_days(fact.started_at, end, self.policy)]
        elif isinstance(fact, facts.DataTransmitted):
            keys.append(patient_month_key(fact.patient_id, month_of(fact.transmitted_on, self.policy)))
        elif isinstance(fact, facts.TimeEntryVoided):
            keys.append(identity_key(facts.TimeLogged.__name__, fact.entry_id))
        elif isinstance(fact, facts.ClaimAdjudicated | facts.ClaimVoided):
            keys.append(identity_key(facts.ClaimSubmitted.__name__, fact.claim_id))
        elif isinstance(fact, facts.ClaimSubmitted):
            month = fact.service_month or month_of(fact.service_on or self.clock(), self.policy)
            keys += [patient_month_key(fact.patient_id, shift_month(month, d)) for d in VIEW_MONTHS]
        return keys

    def outcome(self, fact: facts.Fact) -> Outcome:
        """record(), with a refusal or lost race returned instead of raised."""
        try:
            return self.record(fact)
        except (Refused, Contention) as e:
            return e

    def _decision_for(self, fact: facts.Fact) -> Callable[[Work, Any, str], tuple[UUID, int]]:
        if isinstance(fact, facts.MedicalDecisionMaking) and fact.discharge_id is None:
            return self._decide_month
        return self._decisions[type(fact)]

    # The transaction

    def _run(self, fact: F, decide: Callable[[Work, F, str], tuple[UUID, int]]) -> Recorded:
        digest = facts.digest(fact)
        bound = log.bind(command=type(fact).__name__, actor=fact.recorded_by, source=fact.source)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            w = Work(self, self.clock())
            try:
                refuse_future(fact, w.at, self.policy)
                home_id, version = decide(w, fact, digest)
                recordings = self.save(*w.touched.values())
            except AlreadyRecorded as seen:
                bound.debug("fact.duplicate", aggregate=str(seen.originator_id))
                return Recorded(seen.originator_id, seen.version, self._locate(seen), duplicate=True)
            except Refused as refusal:
                bound.info("fact.refused", reasons=[r.code.value for r in refusal.reasons])
                if isinstance(fact, facts.ClaimSubmitted):
                    self._log_refusal(fact, digest, refusal, w.at)
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

    def _log_refusal(self, fact: facts.ClaimSubmitted, digest: str, refusal: Refused, at: datetime) -> None:
        """Keep the refused claim in the refusal log, once per claim id and content."""
        entry = ClaimRefusal.log(fact, digest, list(refusal.reasons), at)
        if entry.id in self.repository:
            return
        with contextlib.suppress(IntegrityError):  # another process logged the same refusal first
            self.save(entry)

    def _locate(self, seen: AlreadyRecorded) -> int | None:
        key = (seen.originator_id, seen.version)
        return None if self.locate is None else self.locate([key]).get(key)
