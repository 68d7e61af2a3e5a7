"""Months a patient is enrolled in a program that bills without logged time (P-APCM-1: "no
minimum time"), so the worklist has a row for each such month though nothing was logged.

`Enrolments` keeps, per patient and program, the first month of consent and the month a
revocation takes effect through (G-09: the end of that month). The worklist
(projections.views.Worklist) marks those months for assessment up to the current month with
`mark_months`, and each new month as the calendar reaches it: a view is computed when facts
arrive, and a month with no fact in it would otherwise never get a row.
"""

from __future__ import annotations

from typing import Any

from domain import catalog, records
from domain.catalog import Kind
from domain.ledger import Ledger
from domain.month import Month, month_of_day
from domain.patient import Patient
from domain.timing import month_of
from projections import runner
from projections.runner import Cursor, ViewDB

# The programs whose monthly codes need no logged activity: read from the catalog.
WITHOUT_ACTIVITY = frozenset(s.program for s in catalog.CODES if s.kind is Kind.APCM and s.program is not None)


class Enrolments:
    name = "enrolments"
    topics: tuple[str, ...] = (Patient.ConsentRecorded.TOPIC, Patient.ConsentRevoked.TOPIC, Patient.PatientDied.TOPIC)

    def create(self, cur: Cursor) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS view_enrolled (patient_id TEXT NOT NULL, program TEXT NOT NULL, "
            "since TEXT NOT NULL, until TEXT, PRIMARY KEY (patient_id, program))"
        )

    def clear(self, cur: Cursor) -> None:
        cur.execute("DELETE FROM view_enrolled")

    def apply(self, cur: Cursor, events: list[tuple[int, Any]], ledger: Ledger) -> None:
        for _, event in events:
            fact = event.fact
            if isinstance(fact, records.PatientDied):  # G-18: no month after the death is billed
                died = month_of_day(fact.died_on)
                cur.execute(
                    "UPDATE view_enrolled SET until = %s WHERE patient_id = %s AND (until IS NULL OR until > %s)",
                    (died, fact.patient_id, died),
                )
                continue
            if fact.program not in WITHOUT_ACTIVITY:
                continue
            if isinstance(fact, records.ConsentRecorded):  # a consent after a revocation enrols again
                cur.execute(
                    "INSERT INTO view_enrolled (patient_id, program, since, until) VALUES (%s, %s, %s, NULL) "
                    "ON CONFLICT (patient_id, program) DO UPDATE SET until = NULL, since = CASE "
                    "WHEN excluded.since < view_enrolled.since THEN excluded.since ELSE view_enrolled.since END",
                    (fact.patient_id, str(fact.program), month_of_day(fact.recorded_on)),
                )
            else:
                cur.execute(
                    "UPDATE view_enrolled SET until = %s WHERE patient_id = %s AND program = %s",
                    (month_of_day(fact.revoked_on), fact.patient_id, str(fact.program)),
                )

    def settle(self, db: ViewDB, ledger: Ledger) -> int:
        return 0


def create_marks(cur: Cursor) -> None:
    """The worklist's own record of the enrolled months it has marked, and when it looked."""
    cur.execute(
        "CREATE TABLE IF NOT EXISTS view_wl_enrolled (patient_id TEXT NOT NULL, program TEXT NOT NULL, "
        "since TEXT NOT NULL, through TEXT NOT NULL, PRIMARY KEY (patient_id, program))"
    )
    cur.execute("CREATE TABLE IF NOT EXISTS view_wl_state (name TEXT PRIMARY KEY, value TEXT NOT NULL)")


def clear_marks(cur: Cursor) -> None:
    cur.execute("DELETE FROM view_wl_enrolled")
    cur.execute("DELETE FROM view_wl_state")


def mark_months(db: ViewDB, ledger: Ledger) -> int:
    """Mark for the worklist every enrolled month up to the current one not marked before;
    how many. Nothing to do (one read) while neither the month nor the enrolments moved."""
    current = month_of(ledger.clock(), ledger.policy)
    looked = f"{current} {runner.position(db, Enrolments.name)}"
    with db.transaction() as cur:
        cur.execute("SELECT value FROM view_wl_state WHERE name = 'enrolled'")
        found = cur.fetchone()
        if found is not None and found[0] == looked:
            return 0
        cur.execute(
            "SELECT e.patient_id, e.program, e.since, e.until, m.since, m.through FROM view_enrolled e "
            "LEFT JOIN view_wl_enrolled m ON m.patient_id = e.patient_id AND m.program = e.program "
            "WHERE e.since <= %s AND (m.through IS NULL OR e.since < m.since OR m.through < "
            "CASE WHEN e.until IS NOT NULL AND e.until < %s THEN e.until ELSE %s END)",
            (current, current, current),
        )
        marks, ranges = [], []
        for patient_id, program, since, until, done_since, done_through in cur.fetchall():
            last = min(until or current, current)
            done = set(Month(done_since).through(done_through)) if done_since else set()
            marks += [(patient_id, month) for month in Month(since).through(last) if month not in done]
            ranges.append((patient_id, program, since, max(last, done_through or last)))
        marks.sort()  # keys taken in one order by every writer: two never wait on each other
        cur.executemany(  # an existing mark stands: its month is recomputed anyway
            "INSERT INTO view_wl_dirty (patient_id, month, mark) VALUES (%s, %s, 0) "
            "ON CONFLICT (patient_id, month) DO NOTHING",
            marks,
        )
        cur.executemany(
            "INSERT INTO view_wl_enrolled (patient_id, program, since, through) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (patient_id, program) DO UPDATE SET since = excluded.since, through = excluded.through",
            ranges,
        )
        cur.execute(
            "INSERT INTO view_wl_state (name, value) VALUES ('enrolled', %s) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (looked,),
        )
    return len(marks)
