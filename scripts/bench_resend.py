"""Resend against first send: the same generated file ingested twice into a fresh store, on
SQLite and PostgreSQL in one run. The figure is the ratio resend time / first-send time,
each measured in the same run (the machine is shared and noisy); a resend should cost no
more than a first send, and every resent line must be answered accepted with its original
position.

    .venv/bin/python scripts/bench_resend.py --patients 300 --months 2
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters import logs
from adapters.ingest import BATCH, LineResult, fewer_collections, ingest
from adapters.store import open_ledger, parse
from adapters.synthetic import months_ending, practice_lines

PG = os.environ.get("CARELANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def send(url: str, lines: list[bytes]) -> tuple[float, list[LineResult]]:
    """As `carelane ingest FILE` sends it: the file's digest is the submission, so its
    refused lines are remembered and answered again the same way on the resend."""
    ledger = open_ledger(url)
    results: list[LineResult] = []
    submission = hashlib.sha256(b"\n".join(lines)).hexdigest()[:32]
    started = time.perf_counter()
    with fewer_collections():
        ingest(ledger, lines, results.append, batch=BATCH, submission=submission)
    elapsed = time.perf_counter() - started
    ledger.close()
    return elapsed, results


def run(url: str, lines: list[bytes]) -> dict[str, Any]:
    first, answers = send(url, lines)
    again, resent = send(url, lines)
    recorded = {r.line: r.position for r in answers if r.status == "accepted"}
    same = all(r.status == "accepted" and r.position == recorded[r.line] for r in resent if r.line in recorded)
    same = same and [(r.line, r.status, r.reasons) for r in answers] == [(r.line, r.status, r.reasons) for r in resent]
    return {"first_s": round(first, 2), "resend_s": round(again, 2), "ratio": round(again / first, 2), "same": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="scripts/bench-results/resend.json")
    args = parser.parse_args()
    logs.configure("ERROR")
    lines = practice_lines(args.patients, months_ending("2026-10", args.months), args.seed)
    result: dict[str, Any] = {"lines": len(lines)}
    with tempfile.TemporaryDirectory() as tmp:
        result["sqlite"] = run(f"sqlite:///{Path(tmp) / 'resend.db'}", lines)
    schema = f"bench_resend_{uuid.uuid4().hex[:8]}"
    try:
        result["postgres"] = run(f"{PG}?schema={schema}", lines)
    finally:
        with psycopg.connect(parse(PG).pg_conninfo or "", autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"{len(lines)} lines; resend time / first-send time, same run:")
    for store in ("sqlite", "postgres"):
        r = result[store]
        print(f"  {store:8}  first {r['first_s']:7.2f} s  resend {r['resend_s']:7.2f} s  ratio {r['ratio']:.2f}"
              f"  answers identical: {r['same']}")  # fmt: skip


if __name__ == "__main__":
    main()
