"""API keys of a billing company that reach several practices, or all of them, kept in the
tenant catalog (a practice's own keys stay in its own store: adapters.keys)."""

from __future__ import annotations

from adapters.keys import KeyInfo, Keys
from projections.runner import ViewDB

EVERY = "*"


class SpanningKeys(Keys):
    TABLE = "carelane_tenant_keys"

    def __init__(self, db: ViewDB, *, create: bool = True) -> None:
        super().__init__(db, create=create)
        if create:
            with db.transaction() as cur:
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS carelane_key_scopes (key_id TEXT NOT NULL, practice_id TEXT NOT NULL, "
                    "PRIMARY KEY (key_id, practice_id))"
                )

    def add_for(self, name: str, role: str, practices: list[str] | None) -> tuple[KeyInfo, str]:
        """A key for these practices; None: every practice, those added later included."""
        info, token = self.add(name, role)
        with self.db.transaction() as cur:
            cur.executemany(
                "INSERT INTO carelane_key_scopes (key_id, practice_id) VALUES (%s, %s)",
                [(info.id, p) for p in (practices if practices is not None else [EVERY])],
            )
        return info, token

    def scope(self, key_id: str) -> set[str]:
        with self.db.reading() as cur:
            cur.execute("SELECT practice_id FROM carelane_key_scopes WHERE key_id = %s", (key_id,))
            return {str(row[0]) for row in cur.fetchall()}

    def reaches(self, key_id: str, practice_id: str) -> bool:
        found = self.scope(key_id)
        return EVERY in found or practice_id in found
