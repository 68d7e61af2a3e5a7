"""Reading from a PostgreSQL hot standby (a streaming replica), or from a store opened
read-only: every read works, nothing is created, and a write is refused with one line.

adapters.store picks the recorders below (by topic, as it picks the chained ones) when the
server is in recovery; the views (adapters.viewdb) skip their CREATE ... IF NOT EXISTS
there, since the primary's tables replicate.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import click
from eventsourcing.persistence import StoredEvent

from adapters.chain_recorders import ChainedPostgresRecorder, ChainedSQLiteRecorder
from adapters.store import StoreError

MESSAGE = "this store is a read-only replica: send writes to the primary"


class ReadOnlyStore(StoreError, click.ClickException):
    """A write sent to a replica. A ClickException as well, so that any command that writes
    ends with this one line (click prints it) rather than a traceback, without each command
    catching it."""


class _RefusesWrites:
    read_only = True  # adapters.store.analyse leaves such a store alone

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        raise ReadOnlyStore(MESSAGE)


class ReadOnlyPostgresRecorder(_RefusesWrites, ChainedPostgresRecorder):
    """The chained recorder on a standby: its reads, and a clear refusal of any write."""


class ReadOnlySQLiteRecorder(_RefusesWrites, ChainedSQLiteRecorder):
    """The chained recorder on a SQLite file opened read-only."""
