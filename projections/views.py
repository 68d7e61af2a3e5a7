"""The read models: an index of facts for event queries and audits, the refusal log, and the
billing worklist. Names are pinned (they key tracking rows and prefix tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec

from domain import records
from domain.catalog import DEFAULT_FEES
from domain.ledger import Ledger
from domain.month import month_of_day, shift_month
from domain.patient import Patient
from domain.patient_month import PatientMonth
from domain.refusal import ClaimRefusal
from domain.rules.assess import WorklistRow, assess
from domain.timing import happened, is_late, local_day
from projections import enrolments
from projections.refusals import RefusalRow, refusal_row, withdrawn_row
from projections.runner import Cursor, ViewDB, select_in

ENCODE = msgspec.json.Encoder()


def _topics(facts_only: bool) -> list[str]:
    """The pinned topics of the Patient and PatientMonth events (those recording a fact, or all)."""
    return [
        str(vars(cls)["TOPIC"])
        for agg in (Patient, PatientMonth)
        for cls in vars(agg).values()
        if isinstance(cls, type)
        and issubclass(cls, agg.Event)
        and "TOPIC" in vars(cls)
        and (not facts_only or "fact" in getattr(cls, "__annotations__", {}))
    ]


FACT_EVENTS = _topics(facts_only=True)


def _happened(fact: records.Record, ledger: Ledger) -> str | None:
    when = happened(fact)
    if isinstance(fact, records.ClaimSubmitted) and fact.service_month:
        return f"{fact.service_month}-01"
    if isinstance(when, datetime):
        when = local_day(when, ledger.policy)
    return None if when is None else when.isoformat()


class EventIndex:
    """One row per recorded fact: who it is about, its type, when it happened and was
    recorded, and whether it came late (G-13) or after a claim that it counts toward."""

    name = "events"
    topics: tuple[str, ...] = (*FACT_EVENTS, Patient.PatientRegistered.TOPIC, PatientMonth.Opened.TOPIC)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS view_events (position BIGINT PRIMARY KEY, patient_id TEXT NOT NULL, "
            "type TEXT NOT NULL, happened TEXT, recorded_at TEXT NOT NULL, aggregate_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, late BOOLEAN NOT NULL, after_claim BOOLEAN NOT NULL)"
        )
        cur.execute("CREATE INDEX IF NOT EXISTS view_events_patient ON view_events (patient_id, position)")
        cur.execute("CREATE INDEX IF NOT EXISTS view_events_type ON view_events (type, position)")
        cur.execute("CREATE INDEX IF NOT EXISTS view_events_recorded ON view_events (recorded_at)")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS view_months (aggregate_id TEXT PRIMARY KEY, patient_id TEXT NOT NULL, "
            "month TEXT NOT NULL, claimed_at BIGINT)"
        )

    def clear(self, cur: Cursor) -> None:
        cur.execute("DELETE FROM view_events")
        cur.execute("DELETE FROM view_months")

    def apply(self, cur: Cursor, events: list[tuple[int, Any]], ledger: Ledger) -> None:
        # Month rows this page needs, read in one query; [patient_id, claimed_at, stored before].
        months: dict[str, list[Any]] = {}
        wanted = [e.originator_id.hex for _, e in events if not isinstance(e, PatientMonth.Opened | Patient.Event)]
        for aggregate_id, patient_id, claimed_at in select_in(
            cur, "SELECT aggregate_id, patient_id, claimed_at FROM view_months WHERE aggregate_id IN {}", wanted
        ):
            months[aggregate_id] = [patient_id, claimed_at, True]
        rows, opened, claimed = [], [], []
        for position, event in events:
            aggregate_id = event.originator_id.hex
            if isinstance(event, PatientMonth.Opened):
                months[aggregate_id] = [event.patient_id, None, False]
                opened.append((aggregate_id, event.month))
                continue
            fact = event.fact
            month = months.get(aggregate_id)
            patient_id = getattr(fact, "patient_id", None) or (month[0] if month else "")
            after_claim = False
            if isinstance(fact, records.ClaimSubmitted) and month is not None and month[1] is None:
                month[1] = position
                if month[2]:
                    claimed.append((position, aggregate_id))
            elif isinstance(fact, records.TimeLogged):
                after_claim = month is not None and month[1] is not None
            rows.append((
                position, patient_id, type(fact).__name__, _happened(fact, ledger), event.timestamp.isoformat(),
                aggregate_id, event.originator_version, is_late(fact, event.timestamp, ledger.policy), after_claim,
            ))  # fmt: skip
        cur.executemany(
            "INSERT INTO view_months (aggregate_id, patient_id, month, claimed_at) VALUES (%s, %s, %s, %s)",
            [(a, months[a][0], m, months[a][1]) for a, m in opened],
        )
        cur.executemany(
            "UPDATE view_months SET claimed_at = %s WHERE aggregate_id = %s AND claimed_at IS NULL", claimed
        )
        cur.executemany("INSERT INTO view_events VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)

    def settle(self, db: ViewDB, ledger: Ledger) -> int:
        return 0  # every page is complete in itself


class Refusals:
    """The refusal log: one row per refused claim, and one per claim left unsupported (G-16)."""

    name = "refusals"
    topics: tuple[str, ...] = (ClaimRefusal.ClaimRefused.TOPIC, PatientMonth.ClaimSupportWithdrawn.TOPIC)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS view_refusals (position BIGINT PRIMARY KEY, service_month TEXT NOT NULL, "
            "reasons TEXT NOT NULL, body TEXT NOT NULL)"
        )

    def clear(self, cur: Cursor) -> None:
        cur.execute("DELETE FROM view_refusals")

    def apply(self, cur: Cursor, events: list[tuple[int, Any]], ledger: Ledger) -> None:
        rows = []
        for position, event in events:
            if isinstance(event, PatientMonth.ClaimSupportWithdrawn):
                row = withdrawn_row(event, position, ledger)
            else:
                row = refusal_row(event, position, ledger)
            codes = " ".join(r["code"] for r in row.reasons)
            rows.append((position, row.service_month, f" {codes} ", ENCODE.encode(row).decode()))
        cur.executemany("INSERT INTO view_refusals VALUES (%s, %s, %s, %s)", rows)

    def settle(self, db: ViewDB, ledger: Ledger) -> int:
        return 0


def read_refusals(cur: Cursor, month: str | None, reason: str | None) -> list[RefusalRow]:
    query = "SELECT body FROM view_refusals WHERE 1 = 1"
    params: list[Any] = []
    if month:
        query += " AND service_month = %s"
        params.append(month)
    if reason:
        query += " AND reasons LIKE %s"
        params.append(f"% {reason} %")
    cur.execute(query + " ORDER BY position", params)
    return [msgspec.json.decode(r[0], type=RefusalRow) for r in cur.fetchall()]


class Worklist:
    """The billing worklist, one row per patient-month with activity, kept as the rules'
    assessment (priced with the default schedule).

    A page only marks the patient-months its events touch (`view_wl_dirty`, in the page's
    transaction with its tracking position); `settle` then recomputes each marked month
    once, however many pages touched it, loading its aggregates in bulk. A refresh holds its
    marks (row locks on PostgreSQL; SQLite serialises writers) until it commits the rows and
    removes the marks together, so a page that touches the month meanwhile marks it again
    afterwards, and a crash in between leaves work to do, never a stale row."""

    name = "worklist"
    topics: tuple[str, ...] = tuple(_topics(facts_only=False))

    def create(self, cur: Cursor) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS view_worklist (patient_id TEXT NOT NULL, month TEXT NOT NULL, "
            "npi TEXT, body TEXT, PRIMARY KEY (patient_id, month))"
        )
        cur.execute("CREATE INDEX IF NOT EXISTS view_worklist_month ON view_worklist (month, patient_id)")
        cur.execute(
            "CREATE TABLE IF NOT EXISTS view_wl_aggregates (aggregate_id TEXT PRIMARY KEY, "
            "patient_id TEXT NOT NULL, month TEXT)"
        )
        cur.execute(
            "CREATE TABLE IF NOT EXISTS view_wl_dirty (patient_id TEXT NOT NULL, month TEXT NOT NULL, "
            "mark BIGINT NOT NULL, PRIMARY KEY (patient_id, month))"
        )
        enrolments.create_marks(cur)

    def clear(self, cur: Cursor) -> None:
        for table in ("view_worklist", "view_wl_aggregates", "view_wl_dirty"):
            cur.execute(f"DELETE FROM {table}")
        enrolments.clear_marks(cur)

    def apply(self, cur: Cursor, events: list[tuple[int, Any]], ledger: Ledger) -> None:
        owners: dict[str, tuple[str, str]] = {}
        for _, event in events:
            if isinstance(event, PatientMonth.Opened):
                owners[event.originator_id.hex] = (event.patient_id, event.month)
            elif isinstance(event, Patient.PatientRegistered):
                owners[event.originator_id.hex] = (event.fact.patient_id, "")
        created = [(a, p, m or None) for a, (p, m) in owners.items()]
        unknown = [e.originator_id.hex for _, e in events if e.originator_id.hex not in owners]
        for aggregate_id, patient_id, month in select_in(
            cur, "SELECT aggregate_id, patient_id, month FROM view_wl_aggregates WHERE aggregate_id IN {}", unknown
        ):
            owners[aggregate_id] = (str(patient_id), str(month or ""))
        touched: dict[tuple[str, str], None] = {}
        patients: dict[str, None] = {}
        for _, event in events:
            patient_id, month = owners[event.originator_id.hex]
            if isinstance(event, PatientMonth.Event):
                touched[(patient_id, month)] = None
                if isinstance(event, PatientMonth.DataTransmitted):
                    touched[(patient_id, shift_month(month, 1))] = None  # a device period may end next month
            elif isinstance(event, Patient.Event) and not isinstance(event, Patient.PatientRegistered):
                patients[patient_id] = None
                active = _activity_month(getattr(event, "fact", None))
                if active:
                    touched[(patient_id, active)] = None
        for patient_id, month in select_in(
            cur, "SELECT patient_id, month FROM view_worklist WHERE patient_id IN {}", list(patients)
        ):
            touched[(str(patient_id), str(month))] = None
        mark = events[-1][0]
        cur.executemany("INSERT INTO view_wl_aggregates VALUES (%s, %s, %s)", created)
        cur.executemany(
            "INSERT INTO view_wl_dirty (patient_id, month, mark) VALUES (%s, %s, %s) "
            "ON CONFLICT (patient_id, month) DO UPDATE SET mark = excluded.mark",
            [(p, m, mark) for p, m in sorted(touched)],  # one order for every writer (no deadlock)
        )

    def settle(self, db: ViewDB, ledger: Ledger, chunk: int = 500) -> int:
        """Recompute every marked patient-month; returns how many were refreshed."""
        enrolments.mark_months(db, ledger)  # months with no fact in them (P-APCM-1)
        lock = " FOR UPDATE SKIP LOCKED" if db.row_locks else ""  # concurrent workers take disjoint marks
        done = 0
        while True:
            with db.transaction() as cur:
                cur.execute(f"SELECT patient_id, month, mark FROM view_wl_dirty LIMIT %s{lock}", (chunk,))
                marks = [(str(p), str(m), int(k)) for p, m, k in cur.fetchall()]
                if not marks:
                    return done
                views = ledger.month_views([(p, m) for p, m, _ in marks])
                upserts = []
                for patient_id, month, _ in marks:
                    view = views[(patient_id, month)]
                    if view is None:
                        continue
                    row = assess(view, DEFAULT_FEES)
                    if view.current or row.billable or row.blocked or row.claimed:  # else: no activity
                        upserts.append((patient_id, month, row.billing_provider_npi, ENCODE.encode(row).decode()))
                cur.executemany(
                    "INSERT INTO view_worklist (patient_id, month, npi, body) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (patient_id, month) DO UPDATE SET npi = excluded.npi, body = excluded.body",
                    upserts,
                )
                cur.executemany("DELETE FROM view_wl_dirty WHERE patient_id = %s AND month = %s AND mark <= %s", marks)
                done += len(marks)


def _activity_month(fact: records.Record | None) -> str | None:
    """Patient-level facts that give a month activity of its own (TCM, G0506, device setup)."""
    when: date | None = None
    if isinstance(fact, records.Discharged):
        when = fact.discharged_on
    elif isinstance(fact, records.FaceToFaceVisitRecorded | records.InitiatingVisitRecorded):
        when = fact.visit_on
    elif isinstance(fact, records.DeviceSetup):
        when = fact.setup_on
    return None if when is None else month_of_day(when)


def read_worklist(cur: Cursor, month: str, provider: str | None) -> list[WorklistRow]:
    query = "SELECT body FROM view_worklist WHERE month = %s"
    params: list[Any] = [month]
    if provider:
        query += " AND npi = %s"
        params.append(provider)
    cur.execute(query + " ORDER BY patient_id", params)
    return [msgspec.json.decode(r[0], type=WorklistRow) for r in cur.fetchall()]


def months_in(cur: Cursor) -> list[str]:
    cur.execute("SELECT DISTINCT month FROM view_worklist ORDER BY month")
    return [str(r[0]) for r in cur.fetchall()]


def patients_in(cur: Cursor, month: str) -> list[str]:
    """Patients with activity in the month, from the worklist view's index."""
    cur.execute("SELECT patient_id FROM view_worklist WHERE month = %s ORDER BY patient_id", (month,))
    return [str(r[0]) for r in cur.fetchall()]


ALL = (EventIndex(), Refusals(), enrolments.Enrolments(), Worklist())  # enrolments before the worklist reads them
