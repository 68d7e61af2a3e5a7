"""Carelane benchmark: one run, one machine, the same generated data; figures as ratios
against baselines measured in the same run (the machine is shared and noisy).

    .venv/bin/python scripts/bench.py --patients 1000 --chunks 3 --months 2

Per store (SQLite file, PostgreSQL schema `bench`):
  1. bulk ingest facts/s, chunk after chunk as the store grows (every rule checked,
     batches as `carelane ingest` makes them);
  2. single-fact latency p50/p99 through the Application (one transaction per fact);
  3. projection catch-up events/s (rebuild from zero) per view;
  4. worklist query time for the month with the most patient-months;
  5. audit packet latency p50/p99 for random patients, after each chunk (how cost grows);
  6. bytes stored per event: the msgspec mapper against the library's JSON transcoder.
PostgreSQL baselines, measured right after each PostgreSQL chunk (the shared machine's speed
drifts over minutes): raw psycopg COPY of as many rows as the chunk had facts, sized as its
stored events (the ceiling), and the library's default path (JSON transcoder, one save per
fact). Writes JSON and Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_baselines import bytes_per_event, copy_rate, library_rate  # a sibling script

from adapters import logs
from adapters.ingest import BATCH, fewer_collections, ingest
from adapters.reads import worklist
from adapters.store import analyse, open_ledger, parse
from adapters.synthetic import months_ending, practice_lines
from adapters.viewdb import open_views
from domain import facts
from domain.ledger import Ledger
from projections import audit, runner, views
from tests.factories import time_entry

PG = os.environ.get("CARELANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def fresh(store: str, tmp: Path) -> str:
    if store == "sqlite":
        path = tmp / "bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    with psycopg.connect(parse(PG).pg_conninfo or "", autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS bench CASCADE")
    return f"{PG}?schema=bench"


def count_events(ledger: Ledger) -> int:
    return int(ledger.recorder.max_notification_id() or 0)


def bench_store(store: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    url = fresh(store, tmp)
    ledger = open_ledger(url)
    months = months_ending(args.end, args.months)
    out: dict[str, Any] = {"store": store, "chunks": []}
    patients = bench_chunks(ledger, store, args, months, out["chunks"])
    out.update(bench_singles(ledger, patients, args.singles))
    db = open_views(ledger, url)
    out.update(bench_projections(ledger, db))
    analyse(ledger)  # as `carelane project` does when it has caught up
    q = [timed(lambda: worklist(ledger, db, months[-1], refresh=False))[0] for _ in range(5)]
    rows = worklist(ledger, db, months[-1], refresh=False)
    out["worklist_rows"], out["worklist_query_s"] = len(rows), statistics.median(q)
    out["bytes_per_event"] = bytes_per_event(ledger)
    out["events"] = count_events(ledger)
    ledger.close()
    return out


def bench_chunks(
    ledger: Ledger, store: str, args: argparse.Namespace, months: list[str], chunks: list[dict[str, Any]]
) -> list[str]:
    """Ingest chunk after chunk as the store grows; each chunk's rate, its baselines and the
    audit latency after it. Returns the patients ingested."""
    patients: list[str] = []
    rng = random.Random(1)
    for chunk in range(args.chunks):
        first = 1 + chunk * args.patients
        lines = practice_lines(args.patients, months, seed=chunk + 1, first=first)
        patients += [f"P{n:05d}" for n in range(first, first + args.patients)]
        # as `carelane ingest` does: the lines, then fresh planner statistics where they went stale
        before = count_events(ledger)
        seconds, _ = timed(lambda lines=lines: (ingest(ledger, lines, lambda r: None, batch=BATCH), analyse(ledger)))
        baselines = pg_baselines(ledger, before, lines) if store == "postgres" else {}
        sample = rng.sample(patients, min(30, len(patients)))
        latencies = [timed(lambda p=p: audit.packet(ledger, p, months[0], months[-1]))[0] * 1000 for p in sample]
        chunks.append({
            "events_after": count_events(ledger), "facts": len(lines), "ingest_facts_per_s": len(lines) / seconds,
            "audit_p50_ms": percentile(latencies, 0.5), "audit_p99_ms": percentile(latencies, 0.99), **baselines,
        })  # fmt: skip
        print(f"  {store} chunk {chunk + 1}: {chunks[-1]}", file=sys.stderr)
    return patients


def pg_baselines(ledger: Ledger, before: int, lines: list[bytes]) -> dict[str, float]:
    """Measured right after the chunk, so that both see the same machine: it is shared, and
    its speed drifts over minutes. COPY writes as many rows as the chunk had facts (up to
    200,000), sized as the events the chunk stored."""
    sizes = [len(n.state) for n in ledger.recorder.select_notifications(before + 1, 100_000)]
    return {
        "copy_rows_per_s": copy_rate((sizes * (1 + len(lines) // len(sizes)))[: min(len(lines), 200_000)]),
        "library_default_facts_per_s": library_rate(lines[:1500]),
    }


def bench_singles(ledger: Ledger, patients: list[str], count: int) -> dict[str, float]:
    """One fact a transaction through the Application."""
    singles = []
    start = time.perf_counter()
    for n in range(count):
        fact = time_entry(f"S{n}", patients[n % len(patients)], staff_id=f"BENCH-{n}", minutes=5)
        singles.append(timed(lambda fact=fact: ledger.record(fact))[0] * 1000)
    return {
        "single_p50_ms": percentile(singles, 0.5),
        "single_p99_ms": percentile(singles, 0.99),
        "single_facts_per_s": count / (time.perf_counter() - start),
    }


def bench_projections(ledger: Ledger, db: Any) -> dict[str, Any]:
    """Each view rebuilt from zero: the log's events brought up to date per second (a view
    that reads only some topics still has to get past the rest; `applied` says how many)."""
    runner.create(db, views.ALL)
    runner.rebuild(db, views.ALL)
    rates, applied_by = {}, {}
    log_events = count_events(ledger)
    for projection in views.ALL:
        with fewer_collections():  # as `carelane project` does
            seconds, applied = timed(lambda p=projection: runner.catch_up(ledger, db, [p]))
        rates[projection.name] = log_events / seconds
        applied_by[projection.name] = applied[projection.name]
    return {"projection_events_per_s": rates, "projection_applied": applied_by}


def markdown(result: dict[str, Any]) -> str:
    lines = [f"Run {result['when']} on {result['machine']}; `{result['command']}`", ""]
    lines += ["| measure | SQLite | PostgreSQL | ratio / target |", "| --- | --- | --- | --- |"]
    s, p = result["stores"].get("sqlite", {}), result["stores"].get("postgres", {})

    def first(store: dict[str, Any], key: str) -> float:
        return float(store["chunks"][0][key]) if store else float("nan")

    pg_ingest = first(p, "ingest_facts_per_s")
    copy = first(p, "copy_rows_per_s")
    lib = first(p, "library_default_facts_per_s")
    lines.append(f"| bulk ingest, facts/s (every rule checked) | {first(s, 'ingest_facts_per_s'):,.0f} | "
                 f"{pg_ingest:,.0f} | PG = {pg_ingest / copy:.1%} of raw COPY (target 10%, goal 30%); "
                 f"{pg_ingest / lib:.1f}x the library default (target 10x) |")  # fmt: skip
    lines.append(f"| raw psycopg COPY, rows/s (ceiling), right after the first PG chunk | | {copy:,.0f} | |")
    lines.append(f"| library default path, facts/s, right after the first PG chunk | | {lib:,.0f} | |")
    for key, label in (("single_p50_ms", "single fact p50, ms"), ("single_p99_ms", "single fact p99, ms")):
        lines.append(f"| {label} | {s.get(key, 0):.1f} | {p.get(key, 0):.1f} | |")
    for name in ("events", "refusals", "worklist"):
        sv = s.get("projection_events_per_s", {}).get(name, 0)
        pv = p.get("projection_events_per_s", {}).get(name, 0)
        applied = p.get("projection_applied", {}).get(name, 0)
        lines.append(f"| projection catch-up `{name}` from zero, log events/s ({applied:,} of them applied on PG) "
                     f"| {sv:,.0f} | {pv:,.0f} | target 20,000 |")  # fmt: skip
    rows = p.get("worklist_rows", 0)
    lines.append(f"| worklist query ({rows} patient-months), s | {s.get('worklist_query_s', 0):.3f}"
                 f" | {p.get('worklist_query_s', 0):.3f} | target < 1 s for 10,000 |")  # fmt: skip
    lines += growth_rows(s, p)
    for store_name, store in (("SQLite", s), ("PostgreSQL", p)):
        b = store.get("bytes_per_event")
        if b:
            lines.append(f"| {store_name} bytes per event: msgspec mapper / library JSON | {b['msgspec']:.0f} | "
                         f"{b['library_json']:.0f} | {b['msgspec'] / b['library_json']:.2f} |")  # fmt: skip
    return "\n".join(lines) + "\n"


def growth_rows(s: dict[str, Any], p: dict[str, Any]) -> list[str]:
    """One row per chunk: ingest rate and audit latency as the store grows."""
    out = []
    for store_name, store in (("SQLite", s), ("PostgreSQL", p)):
        for c in store.get("chunks", []):
            against = (f"; {c['ingest_facts_per_s'] / c['copy_rows_per_s']:.1%} of the COPY measured after it, "
                       f"{c['ingest_facts_per_s'] / c['library_default_facts_per_s']:.1f}x the library default"
                       if "copy_rows_per_s" in c else "")  # fmt: skip
            out.append(f"| {store_name} at {c['events_after']:,} events: ingest facts/s; audit p50 / p99 ms | "
                       f"{c['ingest_facts_per_s']:,.0f} | {c['audit_p50_ms']:.1f} / {c['audit_p99_ms']:.1f} | "
                       f"flat as the store grows; audit target p99 < 100 ms{against} |")  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=1000, help="patients per chunk")
    parser.add_argument("--chunks", type=int, default=3, help="chunks ingested one after another (store growth)")
    parser.add_argument("--months", type=int, default=2)
    parser.add_argument("--end", default="2026-10")
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--out", default=str(Path(__file__).parent / "bench-results"))
    args = parser.parse_args()
    logs.configure("WARNING")
    tmp = Path(args.out)
    tmp.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "python scripts/bench.py " + " ".join(sys.argv[1:]),
        "stores": {},
    }
    for store in args.stores.split(","):
        print(f"{store}...", file=sys.stderr)
        result["stores"][store] = bench_store(store, args, tmp)
    (tmp / "latest.json").write_text(json.dumps(result, indent=1, default=str))
    text = markdown(result)
    (tmp / "latest.md").write_text(text)
    print(text)


if __name__ == "__main__":
    assert facts  # the contract module is imported for its event topics
    main()
