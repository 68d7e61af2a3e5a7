"""Load on a real `carelane serve` (loopback only, bounded, stops by itself): 1,000 concurrent
GETs and 50 concurrent POSTs, with /health probed every 50 ms from its own connection.
Prints the answers by status and /health's latency (p50, p99, max) per store.

    .venv/bin/python scripts/load_http.py
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.store import parse
from tests.e2e.test_http_load import hammer, start

PG = os.environ.get("CARELANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for run in start(f"sqlite:///{Path(tmp) / 'load.db'}", Path(tmp)):
            print("sqlite   ", asyncio.run(hammer(run)).summary())
        schema = f"load_{uuid.uuid4().hex[:8]}"
        try:
            for run in start(f"{PG}?schema={schema}", Path(tmp)):
                print("postgres ", asyncio.run(hammer(run)).summary())
        finally:
            with psycopg.connect(parse(PG).pg_conninfo or "", autocommit=True) as conn:
                conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
