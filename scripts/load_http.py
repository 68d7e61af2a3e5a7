"""Load on a real `carelane serve` (loopback only, bounded, stops by itself): 1,000 concurrent
GETs and 50 concurrent POSTs, with /health probed every 50 ms from a process of its own.
Prints the answers by status and /health's latency (p50, p99, max) per store, with the load
generator at the server's CPU priority and then below it, and whether /health answered
within TARGET_MS throughout every run (exit 1 if not).

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
TARGET_MS = 100.0


def one(label: str, url: str, folder: str, polite: bool) -> None:
    """One store's run, in a process of its own: a polite load generator lowers its own
    priority, and the next store's server must not inherit it. Exit 3: /health was slower
    than TARGET_MS at least once, or a request did not get 200."""
    for run in start(url, Path(folder)):
        load = asyncio.run(hammer(run, polite=polite))
        print(f"{label:<9}", "polite  " if polite else "greedy  ", load.summary(), flush=True)
        if max(load.health_ms, default=0.0) > TARGET_MS or load.health_failed or set(load.statuses) != {200}:
            sys.exit(3)


def main() -> None:
    """Each store twice: the load generator at the server's priority (on 2 cores, it takes
    one from the server and PostgreSQL), then at a lower one, as clients elsewhere would."""
    context = multiprocessing.get_context("spawn")
    missed = []
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
                    if proc.exitcode == 3:
                        missed.append(f"{label} ({name})")
                    elif proc.exitcode != 0:
                        sys.exit(f"{label} ({name}): the run failed (exit {proc.exitcode})")
        finally:
            with psycopg.connect(parse(PG).pg_conninfo or "", autocommit=True) as conn:
                for schema in schemas:
                    conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    if missed:
        sys.exit(f"/health slower than {TARGET_MS:.0f} ms, or an answer not 200, in: {', '.join(missed)}")
    print(f"/health answered within {TARGET_MS:.0f} ms throughout every run, and every request got 200")


if __name__ == "__main__":
    main()
