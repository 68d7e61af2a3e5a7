"""The baselines scripts/bench.py measures beside Carelane in the same run: raw psycopg COPY
(the ceiling for writing the rows), the library's default path (JSON transcoder, one save a
fact), and the library's JSON size for the same events."""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder, Transcoding

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.store import parse
from domain.ledger import Ledger

PG = os.environ.get("CARELANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


class DateAsISO(Transcoding):
    """What a user of the library's JSON transcoder must add for dates (it has none)."""

    type = __import__("datetime").date
    name = "date_iso"

    def encode(self, obj: Any) -> str:
        return str(obj.isoformat())

    def decode(self, data: str) -> Any:
        return self.type.fromisoformat(data)


def bytes_per_event(ledger: Ledger) -> dict[str, float]:
    """Average stored state: the msgspec mapper against the library's JSON transcoder."""
    transcoder = JSONTranscoder()
    Application().register_transcodings(transcoder)
    transcoder.register(DateAsISO())
    ours, default = [], []
    for n in ledger.recorder.select_notifications(start=1, limit=5000):
        ours.append(len(n.state))
        event = ledger.mapper.to_domain_event(n)
        state = {k: v for k, v in vars(event).items() if k not in ("originator_id", "originator_version")}
        plain = {k: (msgspec.to_builtins(v) if isinstance(v, msgspec.Struct | list) else v) for k, v in state.items()}
        default.append(len(transcoder.encode(plain)))
    return {"msgspec": statistics.mean(ours), "library_json": statistics.mean(default)}


class Plain(Aggregate):
    """The library's default path: a plain aggregate, JSON transcoder, one save per fact."""

    class Recorded(Aggregate.Event):
        payload: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            aggregate.count = getattr(aggregate, "count", 0) + 1


def copy_rate(sizes: list[int]) -> float:
    """Raw psycopg COPY of as many rows as `sizes`, each that many bytes of state, into a
    plain table with no index: the ceiling for writing those rows. Rows/s."""
    with psycopg.connect(parse(PG).pg_conninfo or "", autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_copy")
        conn.execute("CREATE TABLE bench_copy (id uuid, version int, topic text, state bytea)")
        rows = [(uuid.uuid4(), 1, "carelane.PatientMonth.TimeLogged.v1", os.urandom(size)) for size in sizes]
        start = time.perf_counter()
        with conn.cursor().copy("COPY bench_copy FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        rate = len(rows) / (time.perf_counter() - start)
        conn.execute("DROP TABLE bench_copy")
    return rate


def library_rate(lines: list[bytes]) -> float:
    """The library's default path: a plain aggregate, JSON transcoder, one save per fact. Facts/s."""
    store = parse(f"{PG}?schema=bench_default")
    with psycopg.connect(parse(PG).pg_conninfo or "", autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench_default CASCADE")
        conn.execute("CREATE SCHEMA bench_default")
    env = {k: v for k, v in store.env.items() if k not in ("MAPPER_TOPIC", "APPLICATION_RECORDER_TOPIC")}
    app = Application(env)
    ids: dict[str, uuid.UUID] = {}
    start = time.perf_counter()
    for raw in lines:
        payload = msgspec.json.decode(raw)
        key = payload.get("patient_id") or payload.get("claim_id") or "x"
        if key in ids:
            agg = app.repository.get(ids[key])
        else:
            agg = Plain()
            ids[key] = agg.id
        agg.trigger_event(Plain.Recorded, payload=payload)
        app.save(agg)
    rate = len(lines) / (time.perf_counter() - start)
    app.close()
    return rate
