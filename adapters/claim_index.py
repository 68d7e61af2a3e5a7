"""The cross-practice claim index (domain.elsewhere's port), in the tenant catalog.

It holds only what the check needs: a keyed hash of the MBI, the slot (a program, or the
CCM/PCM/APCM lane), the month, the practice and the claim id; never a practice's clinical
facts. One row per (MBI, slot, month) names the practice that holds it; a practice's claims
hold it through rows of their own, and the slot is freed when the last of them is released.

Consistency under concurrent claims at two practices: a claim reserves its slots in one
transaction on the catalog, in a fixed order (sorted), before its own store records it. The
slot row's primary key decides: PostgreSQL's INSERT ... ON CONFLICT waits for a concurrent
insert of the same key to commit and then sees it; SQLite's BEGIN IMMEDIATE lets one writer
in at a time. A claim whose own save then fails releases what it reserved; one lost to a
crash between the two is released by `reconcile` (run by `carelane project`, and every few
minutes by a server or `project --follow`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import structlog

from adapters.store import StoreError
from adapters.tenants import Catalog, CatalogDB, open_catalog_db
from domain.elsewhere import Held, Reservation, Slot
from domain.ledger import Ledger
from projections.runner import Cursor

STALE_AFTER = timedelta(minutes=10)  # a hold older than this whose claim is not on file is lost
RECONCILE_EVERY = 300.0  # seconds between a long-running process's reconciles
FULL_EVERY = 12  # every 12th reconcile (hourly) reads every hold, not only the newest
log = structlog.get_logger("carelane.claim_index")


class _Taken(Exception):
    def __init__(self, held: list[Held]) -> None:
        self.held = held


class ClaimIndex:
    """domain.elsewhere.ClaimsElsewhere for one practice, on the catalog's connection."""

    def __init__(self, catalog: Catalog, practice_id: str) -> None:
        self.home, self.practice_id = catalog.home, practice_id
        self._secret = catalog.secret()
        self._lock = " FOR UPDATE" if catalog.db.row_locks else ""  # SQLite's writer lock does it
        self._local = threading.local()
        self._local.db = catalog.db
        self._opened = [catalog.db]  # every thread's connection, closed with the ledger
        self._checked_to: str | None = None  # holds made before this were reconciled here

    @property
    def db(self) -> CatalogDB:
        """The catalog's connection for this thread: the server reads worklists in worker
        threads while a write reserves, and a connection is never shared across threads."""
        found: CatalogDB | None = getattr(self._local, "db", None)
        if found is None:
            found = open_catalog_db(self.home, create=False)
            if found is None:
                raise StoreError("the tenant catalog is gone from the home store")
            self._local.db = found
            self._opened.append(found)
        return found

    def close(self) -> None:
        for db in self._opened:
            db.close()
        self._opened.clear()

    def _hash(self, medicare_id: str) -> str:
        return hmac.new(self._secret, medicare_id.encode(), hashlib.sha256).hexdigest()

    def peek(self, slots: Sequence[Slot]) -> list[Held]:
        """In one query per 400 patients (a month's worklist asks for thousands)."""
        by_hash = {(self._hash(s.medicare_id), s.slot, s.month): s for s in slots}
        hashes = sorted({h for h, _, _ in by_hash})
        out = []
        with self.db.reading() as cur:
            for start in range(0, len(hashes), 400):
                chunk = hashes[start : start + 400]
                cur.execute(
                    "SELECT mbi_hash, slot, month, practice_id, program FROM carelane_claim_slots "
                    f"WHERE practice_id <> %s AND mbi_hash IN ({', '.join(['%s'] * len(chunk))})",
                    (self.practice_id, *chunk),
                )
                for mbi_hash, slot, month, practice, program in cur.fetchall():
                    if (s := by_hash.get((mbi_hash, slot, month))) is not None:
                        out.append(Held(str(practice), slot, str(program), month, s.medicare_id))
        return out

    def reserve(self, claim_id: str, slots: Sequence[Slot]) -> Reservation:
        ordered = sorted(slots, key=lambda s: (self._hash(s.medicare_id), s.slot, s.month))  # one lock order
        now = datetime.now(UTC).isoformat(timespec="seconds")
        attempt = secrets.token_hex(8)
        try:
            with self.db.transaction() as cur:
                held = [h for s in ordered if (h := self._claim_slot(cur, s)) is not None]
                if held:
                    raise _Taken(held)  # rolls back what this claim inserted
                cur.executemany(
                    "INSERT INTO carelane_claim_holds (practice_id, claim_id, mbi_hash, slot, month, attempt, "
                    "held_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [(self.practice_id, claim_id, self._hash(s.medicare_id), s.slot, s.month, attempt, now)
                     for s in ordered],
                )  # fmt: skip
        except _Taken as taken:
            return Reservation(taken.held, None)
        return Reservation([], attempt)

    def _claim_slot(self, cur: Cursor, s: Slot) -> Held | None:
        """Take the slot for this practice, or name the practice holding it. DO UPDATE, not
        DO NOTHING: it locks the row, and on PostgreSQL inserts again if a release deleted
        the row meanwhile (DO NOTHING then a SELECT would find no row and take it as free)."""
        cur.execute(
            "INSERT INTO carelane_claim_slots (mbi_hash, slot, month, practice_id, program) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (mbi_hash, slot, month) "
            "DO UPDATE SET practice_id = carelane_claim_slots.practice_id RETURNING practice_id, program",
            (self._hash(s.medicare_id), s.slot, s.month, self.practice_id, s.program),
        )
        practice, program = cur.fetchone()
        if practice == self.practice_id:
            return None
        return Held(str(practice), s.slot, str(program), s.month, s.medicare_id)

    def release(self, claim_ids: Sequence[str]) -> None:
        """Every hold of these claims (voided, or never saved)."""
        self._release("claim_id", list(dict.fromkeys(claim_ids)))

    def abandon(self, attempt: str) -> None:
        """The holds of one reservation whose claim was not saved by it (a concurrent writer
        of the same claim may have saved it, under holds of its own)."""
        self._release("attempt", [attempt])

    def _release(self, column: str, values: list[str]) -> None:
        if not values:
            return
        marks = ", ".join(["%s"] * len(values))
        with self.db.transaction() as cur:
            cur.execute(
                f"SELECT DISTINCT mbi_hash, slot, month FROM carelane_claim_holds WHERE practice_id = %s "
                f"AND {column} IN ({marks}) ORDER BY mbi_hash, slot, month",  # the lock order of reserve
                (self.practice_id, *values),
            )
            keys = [tuple(row) for row in cur.fetchall()]
            for key in keys:  # lock each slot before its holds change
                cur.execute(
                    "SELECT practice_id FROM carelane_claim_slots WHERE mbi_hash = %s AND slot = %s AND month = %s"
                    + self._lock,
                    key,
                )
            cur.execute(
                f"DELETE FROM carelane_claim_holds WHERE practice_id = %s AND {column} IN ({marks})",
                (self.practice_id, *values),
            )
            for key in keys:
                self._free_if_unheld(cur, key)

    def _free_if_unheld(self, cur: Cursor, key: tuple[str, ...]) -> None:
        cur.execute(
            "SELECT COUNT(*) FROM carelane_claim_holds WHERE practice_id = %s AND mbi_hash = %s AND slot = %s "
            "AND month = %s",
            (self.practice_id, *key),
        )
        if cur.fetchone()[0] == 0:
            cur.execute(
                "DELETE FROM carelane_claim_slots WHERE mbi_hash = %s AND slot = %s AND month = %s "
                "AND practice_id = %s",
                (*key, self.practice_id),
            )

    def backfill(self, ledger: Ledger, claim_ids: Sequence[str]) -> list[tuple[str, list[Held]]]:
        """Put the store's own standing claims in the index (a store with history joining a
        catalog): each claim, and the other practices' holds it meets, if any. Such a
        conflict was billed before the ledger could see it; it is reported, not undone."""
        met = []
        for claim_id in claim_ids:
            slots = ledger.claim_slots(claim_id)
            if slots and (held := self.reserve(claim_id, slots).held):
                met.append((claim_id, held))
        return met

    def reconcile(self, ledger: Ledger, now: datetime | None = None, stale_after: timedelta = STALE_AFTER) -> int:
        """Release this practice's holds whose claim is not on file or no longer stands (a
        crash between reserving and saving, a void whose release failed, or a void recorded
        before tenancy); holds newer than `stale_after` are left to the claim still being
        recorded. Only the stale attempts are released: a retry of the same claim, reserved
        since, keeps its own. After the first look, only holds made since are read, until
        `full()` asks for every hold again. Returns how many attempts were released."""
        cutoff = ((now or datetime.now(UTC)) - stale_after).isoformat(timespec="seconds")
        since = self._checked_to or ""
        with self.db.reading() as cur:
            cur.execute(
                "SELECT DISTINCT claim_id, attempt FROM carelane_claim_holds WHERE practice_id = %s "
                "AND held_at >= %s AND held_at < %s",
                (self.practice_id, since, cutoff),
            )
            attempts = [(str(claim), str(attempt)) for claim, attempt in cur.fetchall()]
        stands = {c: ledger.claim_stands(c) for c in dict.fromkeys(c for c, _ in attempts)}
        lost = [attempt for claim, attempt in attempts if not stands[claim]]
        if lost:
            self._release("attempt", lost)
        self._checked_to = max(cutoff, since)
        return len(lost)

    def full(self) -> None:
        """The next reconcile reads every hold again (a claim that stood at an earlier look
        may have been voided since, with its release lost)."""
        self._checked_to = None

    def keep_reconciled(
        self,
        ledger: Ledger,
        stop: threading.Event,
        every: float = RECONCILE_EVERY,
        stale_after: timedelta = STALE_AFTER,
    ) -> None:
        """Reconcile every `every` seconds until `stop` (a server, `project --follow`): a hold
        lost to a crash would otherwise block the other practices until the next `carelane
        project`. Each look reads the holds made since the last; every FULL_EVERY-th reads
        them all. The first look waits a tick: a process that just started has work first."""
        ticks = 0
        while not stop.wait(every):
            ticks += 1
            if ticks % FULL_EVERY == 0:
                self.full()
            try:
                if lost := self.reconcile(ledger, stale_after=stale_after):
                    log.info("claim_index.released", practice_id=self.practice_id, attempts=lost)
            except Exception:  # retried at the next tick; said in the log
                log.exception("claim_index.reconcile_failed", practice_id=self.practice_id)
