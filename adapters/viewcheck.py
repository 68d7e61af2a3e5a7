"""`carelane verify --views`: the read models compared with a rebuild from the log.

The chain proves the log; the views are derived from it and kept in the same database, so
someone with write access could change a worklist total or delete refusal rows. The check
builds every view afresh in a scratch SQLite file, from the same log up to the same
position, and names each row that differs. `carelane project --rebuild` repairs them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from adapters.viewdb import SQLiteViews
from domain.ledger import Ledger
from projections import runner, views
from projections.runner import ViewDB

# Each view table a user reads, with the columns that key its rows.
TABLES: dict[str, tuple[str, ...]] = {
    "view_events": ("position",),
    "view_refusals": ("position",),
    "view_worklist": ("patient_id", "month"),
}
SHOWN = 20  # differences listed in full; the rest are counted


def differences(ledger: Ledger, live: ViewDB) -> list[str]:
    """Every row of the live views that differs from a fresh build (none: they match)."""
    runner.create(live, views.ALL)
    runner.catch_up(ledger, live, views.ALL)  # the live views first reach the log's end
    with tempfile.TemporaryDirectory() as scratch:
        fresh = SQLiteViews(str(Path(scratch) / "views.db"))
        try:
            runner.create(fresh, views.ALL)
            runner.catch_up(ledger, fresh, views.ALL)
            found = [line for table, keys in TABLES.items() for line in _compare(table, keys, live, fresh)]
        finally:
            fresh.close()
    if len(found) > SHOWN:
        found = [*found[:SHOWN], f"... and {len(found) - SHOWN} more"]
    return found


def _compare(table: str, keys: tuple[str, ...], live: ViewDB, fresh: ViewDB) -> Iterator[str]:
    mine, theirs = _rows(live, table, keys), _rows(fresh, table, keys)
    for key in sorted(mine.keys() | theirs.keys()):
        where = f"{table} {', '.join(f'{k}={v}' for k, v in zip(keys, key, strict=True))}"
        if key not in mine:
            yield f"{where}: missing (the log has it)"
        elif key not in theirs:
            yield f"{where}: not in the log (added to the view)"
        elif mine[key] != theirs[key]:
            changed = [c for c in theirs[key] if mine[key].get(c) != theirs[key][c]]
            yield f"{where}: {', '.join(changed)} differ from the log"


def _rows(db: ViewDB, table: str, keys: tuple[str, ...]) -> dict[tuple[str, ...], dict[str, str]]:
    with db.transaction() as cur:
        cur.execute(f"SELECT * FROM {table}")  # a fixed table name from TABLES
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    out = {}
    for row in rows:
        values = {name: _text(value) for name, value in zip(names, row, strict=True)}
        out[tuple(values[k] for k in keys)] = values
    return out


def _text(value: Any) -> str:
    """One spelling for both stores (PostgreSQL booleans, SQLite integers)."""
    return str(int(value)) if isinstance(value, bool) else str(value)
