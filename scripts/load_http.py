"""Load on a real `carelane serve` (loopback only, bounded, stops by itself): 1,000 concurrent
GETs and 50 concurrent POSTs, with /health probed every 50 ms from a process of its own.
Prints the answers by status and /health's latency (p50, p99, max) per store, with the load
generator at the server's CPU priority and then below it.

    .venv/bin/python scripts/load_http.py
"""

from __future__ import annotations

import asyncio
import multiprocessing
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


def one(label: str, url: str, folder: str, polite: bool) -> None:
    """One store's run, in a process of its own: a polite load generator lowers its own
    priority, and the next store's server must not inherit it."""
    for run in start(url, Path(folder)):
        print(f"{label:<9}", "polite  " if polite else "greedy  ", asyncio.run(hammer(run, polite=polite)).summary())


def main() -> None:
    """Each store twice: the load generator at the server's priority (on 2 cores, it takes
    one from the server and PostgreSQL), then at a lower one, as clients elsewhere would."""
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        schemas = []
        try:
            for polite in (False, True):
                schemas.append(f"load_{uuid.uuid4().hex[:8]}")
                name = "polite" if polite else "greedy"
                for label, url in (("sqlite", f"sqlite:///{Path(tmp) / f'load-{name}.db'}"),
                                   ("postgres", f"{PG}?schema={schemas[-1]}")):  # fmt: skip
                    proc = context.Process(target=one, args=(label, url, tmp, polite))
                    proc.start()
                    proc.join()
                    if proc.exitcode != 0:
                        sys.exit(f"{label} ({name}): the run failed (exit {proc.exitcode})")
        finally:
            with psycopg.connect(parse(PG).pg_conninfo or "", autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


if __name__ == "__main__":
    main()
