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
crash between the two is released by `reconcile` (run by `carelane project`).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from adapters.store import StoreError
from adapters.tenants import Catalog, CatalogDB, open_catalog_db
from domain.elsewhere import Held, Slot
from domain.ledger import Ledger
from projections.runner import Cursor

STALE_AFTER = timedelta(minutes=10)  # a hold older than this whose claim is not on file is lost


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
        return found

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

    def reserve(self, claim_id: str, slots: Sequence[Slot]) -> list[Held]:
        ordered = sorted(slots, key=lambda s: (self._hash(s.medicare_id), s.slot, s.month))  # one lock order
        now = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            with self.db.transaction() as cur:
                held = []
                for s in ordered:
                    cur.execute(
                        "INSERT INTO carelane_claim_slots (mbi_hash, slot, month, practice_id, program) "
                        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                        (self._hash(s.medicare_id), s.slot, s.month, self.practice_id, s.program),
                    )
                    owner = self._owner(cur, s, self._lock)
                    if owner is not None:
                        held.append(owner)
                if held:
                    raise _Taken(held)  # rolls back what this claim inserted
                cur.executemany(
                    "INSERT INTO carelane_claim_holds (practice_id, claim_id, mbi_hash, slot, month, held_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [(self.practice_id, claim_id, self._hash(s.medicare_id), s.slot, s.month, now) for s in ordered],
                )
        except _Taken as taken:
            return taken.held
        return []

    def _owner(self, cur: Cursor, s: Slot, lock: str) -> Held | None:
        """Who holds the slot, when it is another practice."""
        cur.execute(
            "SELECT practice_id, program FROM carelane_claim_slots WHERE mbi_hash = %s AND slot = %s AND month = %s"
            + lock,
            (self._hash(s.medicare_id), s.slot, s.month),
        )
        row = cur.fetchone()
        if row is None or row[0] == self.practice_id:
            return None
        return Held(str(row[0]), s.slot, str(row[1]), s.month, s.medicare_id)

    def release(self, claim_ids: Sequence[str]) -> None:
        if not claim_ids:
            return
        with self.db.transaction() as cur:
            for claim_id in dict.fromkeys(claim_ids):
                cur.execute(
                    "SELECT mbi_hash, slot, month FROM carelane_claim_holds WHERE practice_id = %s AND claim_id = %s",
                    (self.practice_id, claim_id),
                )
                for key in cur.fetchall():
                    self._drop(cur, claim_id, tuple(key))

    def _drop(self, cur: Cursor, claim_id: str, key: tuple[str, str, str]) -> None:
        cur.execute(
            "SELECT practice_id FROM carelane_claim_slots WHERE mbi_hash = %s AND slot = %s AND month = %s"
            + self._lock,
            key,
        )
        cur.execute(
            "DELETE FROM carelane_claim_holds WHERE practice_id = %s AND claim_id = %s "
            "AND mbi_hash = %s AND slot = %s AND month = %s",
            (self.practice_id, claim_id, *key),
        )
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

    def reconcile(self, ledger: Ledger, now: datetime | None = None) -> int:
        """Release this practice's holds whose claim is not on file or no longer stands (a
        crash between reserving and saving, or a void recorded before tenancy); holds newer
        than STALE_AFTER are left to the claim still being recorded. Returns how many."""
        cutoff = ((now or datetime.now(UTC)) - STALE_AFTER).isoformat(timespec="seconds")
        with self.db.reading() as cur:
            cur.execute(
                "SELECT DISTINCT claim_id FROM carelane_claim_holds WHERE practice_id = %s AND held_at < %s",
                (self.practice_id, cutoff),
            )
            claims = [str(row[0]) for row in cur.fetchall()]
        lost = [c for c in claims if not ledger.claim_stands(c)]
        self.release(lost)
        return len(lost)
