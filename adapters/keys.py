"""API keys with roles, kept hashed in the ledger's database (`api_keys`).

A key is `cl_<id>_<secret>`: the id finds the row, the secret's sha256 is compared in constant
time. The secret is 32 random bytes, so a plain sha256 is enough (no password stretching needed
for a value nobody chose), and only its hash is stored: a leaked table gives no usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

import msgspec

from projections.runner import ViewDB

ROLES = ("recorder", "biller", "auditor", "compliance", "admin")


class KeyInfo(msgspec.Struct):
    id: str
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None


class Keys:
    TABLE = "api_keys"

    def __init__(self, db: ViewDB, *, create: bool = True) -> None:
        """`create=False` for a connection of a process that created the table already (the
        server's threads): creating takes the write lock, which a reader must never wait for."""
        self.db = db
        if not create:
            return
        with db.transaction() as cur:
            cur.execute(
                f"CREATE TABLE IF NOT EXISTS {self.TABLE} (id TEXT PRIMARY KEY, name TEXT NOT NULL, "
                "role TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)"
            )

    def add(self, name: str, role: str) -> tuple[KeyInfo, str]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
        info = KeyInfo(key_id, name, role, datetime.now(UTC).isoformat(timespec="seconds"))
        with self.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO {self.TABLE} (id, name, role, hash, created_at) VALUES (%s, %s, %s, %s, %s)",
                (key_id, name, role, _hash(secret), info.created_at),
            )
        return info, f"cl_{key_id}_{secret}"

    def all(self) -> list[KeyInfo]:
        with self.db.transaction() as cur:
            cur.execute(f"SELECT id, name, role, created_at, revoked_at FROM {self.TABLE} ORDER BY created_at, id")
            return [KeyInfo(*row) for row in cur.fetchall()]

    def revoke(self, key_id: str) -> bool:
        with self.db.transaction() as cur:
            cur.execute(
                f"UPDATE {self.TABLE} SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
                (datetime.now(UTC).isoformat(timespec="seconds"), key_id),
            )
            return cur.rowcount == 1

    def check(self, token: str) -> KeyInfo | None:
        """The key's id and role for a valid, unrevoked token; None otherwise."""
        parts = split_token(token)
        if parts is None:
            return None
        with self.db.reading() as cur:
            cur.execute(
                f"SELECT id, name, role, created_at, revoked_at, hash FROM {self.TABLE} WHERE id = %s", (parts[0],)
            )
            row = cur.fetchone()
        if row is None or row[4] is not None or not hmac.compare_digest(row[5], _hash(parts[1])):
            return None
        return KeyInfo(*row[:5])


def split_token(token: str) -> tuple[str, str] | None:
    """A token's key id and secret (`cl_<id>_<secret>`); None for anything else."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "cl":
        return None
    return parts[1], parts[2]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
