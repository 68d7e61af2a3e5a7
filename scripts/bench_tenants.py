"""Several practices (issue 16): 20 practices' facts in one NDJSON file, each line naming
its `practice_id`, ingested by `carelane ingest --workers 1` and by `--workers 2` into fresh
stores in one run; the figure is the speed-up (target 1.6x on this 2-core machine, where the
database shares the cores). Also the cross-practice claim check's cost per claim: a
practice's claims recorded with the claim index attached and without (no catalog), after the
same other facts; and the same claims when one of them is held by another practice.

    .venv/bin/python scripts/bench_tenants.py --patients 10000        # quick
    .venv/bin/python scripts/bench_tenants.py                         # 100,000 patients

Each measurement is taken twice, the second round in the opposite order (the machine is
shared). Beside wall times: the CPU the carelane processes used (with their workers), the
PostgreSQL server's, and the whole machine's; a machine already busy on both cores cannot
go faster with a second worker. `--shared` patients share a Medicare id with a claimed patient
of the practice before; their claims must be refused PROVIDER_CONFLICT (G-07), and are counted.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import msgspec
import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters import logs, tenancy
from adapters.claim_index import ClaimIndex
from adapters.ingest import BATCH, fewer_collections, ingest
from adapters.lines import decode_line
from adapters.store import open_ledger, parse
from adapters.synthetic import months_ending, practice_lines
from adapters.tenants import Catalog
from domain import elsewhere, facts
from domain.decisions.work import Work
from tests.factories import practice

PG = os.environ.get("CARELANE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
CARELANE = str(Path(sys.executable).with_name("carelane"))
CLAIM = b'"type":"ClaimSubmitted"'
TICK = os.sysconf("SC_CLK_TCK")
ERRORS = Path(tempfile.gettempdir()) / "bench_tenants.stderr"
started = time.perf_counter()


def say(text: str) -> None:
    print(f"[{time.perf_counter() - started:6.0f} s] {text}", file=sys.stderr, flush=True)


def practice_ids(count: int) -> list[str]:
    return [f"pr{k + 1:02d}" for k in range(count)]


def claimants(lines: list[bytes]) -> dict[str, set[str]]:
    """Each patient with a claim, and the months claimed."""
    out: dict[str, set[str]] = {}
    for line in lines:
        if CLAIM in line:
            claim = msgspec.json.decode(line)
            out.setdefault(claim["patient_id"], set()).add(claim["service_month"])
    return out


def registered(line: bytes) -> dict[str, Any] | None:
    return msgspec.json.decode(line) if line.startswith(b'{"type":"PatientRegistered"') else None


def share_ids(lines: list[bytes], theirs: dict[str, str]) -> list[bytes]:
    """The lines with each patient in `theirs` registered under the Medicare id it names."""
    out = []
    for line in lines:
        if (fact := registered(line)) is not None and fact["patient_id"] in theirs:
            line = msgspec.json.encode(fact | {"medicare_id": theirs[fact["patient_id"]]})
        out.append(line)
    return out


def write_facts(path: Path, args: argparse.Namespace, months: list[str]) -> dict[str, Any]:
    """Every practice's facts, tagged with its practice_id; the expected PROVIDER_CONFLICTs.
    Returns counts, and the last practice's own lines (for the check's cost)."""
    per, ids = args.patients // args.practices, practice_ids(args.practices)
    info: dict[str, Any] = {"lines": 0, "claims": 0, "conflicts_expected": 0}
    previous: tuple[dict[str, set[str]], dict[str, str]] | None = None
    with path.open("wb") as out:
        for k, pid in enumerate(ids):
            lines = practice_lines(per, months, seed=k + 1, first=1 + k * per)
            claimed = claimants(lines)
            share = len(range(k - 1, args.shared, args.practices - 1)) if k else 0  # pairs spread over practices
            if previous is not None and share:
                # its first claimants take the ids of the last ones before (never ones that took an id)
                theirs = sorted(previous[0])[-share:]
                mine = sorted(claimed)[:share]
                lines = share_ids(lines, {m: previous[1][t] for m, t in zip(mine, theirs, strict=True)})
                info["conflicts_expected"] += sum(
                    len(claimed[m] & previous[0][t]) for m, t in zip(mine, theirs, strict=True)
                )
            previous = claimed, {r["patient_id"]: r["medicare_id"] for x in lines if (r := registered(x))}
            tag = b'{"practice_id":"' + pid.encode() + b'",'
            out.writelines(tag + line[1:] + b"\n" for line in lines)
            info["lines"] += len(lines)
            info["claims"] += sum(len(m) for m in claimed.values())
            say(f"generated {pid}: {len(lines)} lines")
    info["sample"] = lines
    return info


def cpu_seconds() -> dict[str, float]:
    """CPU so far: carelane children we waited for; PostgreSQL (live processes, plus the
    exited backends the postmaster reaped); the whole machine's busy time (/proc/stat)."""
    own = resource.getrusage(resource.RUSAGE_CHILDREN)
    pg = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue  # gone meanwhile
        if text[text.index("(") + 1 : text.rindex(")")] == "postgres":
            fields = text[text.rindex(")") + 2 :].split()
            pg += (int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14])) * (fields[1] == "1")) / TICK
    cpu = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(cpu) - cpu[3] - cpu[4]  # all but idle and iowait
    return {"carelane": own.ru_utime + own.ru_stime, "postgres": pg, "machine": busy / TICK}


def carelane(home: str, *args: str, timeout: float) -> tuple[float, dict[str, float], str]:
    """Run the CLI in its own process group (ended whole on timeout); wall seconds, CPU
    seconds by whom, and its stdout."""
    before, t0 = cpu_seconds(), time.perf_counter()
    with open(ERRORS, "ab") as errors:  # the first refusals it shows, and any warning
        proc = subprocess.Popen([CARELANE, "--db", home, *args], stdout=subprocess.PIPE, stderr=errors,
                                start_new_session=True)  # fmt: skip
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own group: the CLI and its workers
        proc.communicate()
        raise SystemExit(f"carelane {args[0]} took over {timeout:.0f} s; stopped (scale down: --patients)") from None
    wall, after = time.perf_counter() - t0, cpu_seconds()
    if proc.returncode not in (0, 2, 3):  # 2, 3: the synthetic feed's bad lines
        raise SystemExit(f"carelane {' '.join(args)} exited {proc.returncode}")
    return wall, {k: after[k] - before[k] for k in after}, out.decode()


def store_home(kind: str, name: str, tmp: Path) -> str:
    return f"sqlite:///{tmp / (name + '.db')}" if kind == "sqlite" else f"{PG}?schema={name}"


def one_ingest(
    kind: str, name: str, workers: int, files: tuple[Path, Path], args: argparse.Namespace
) -> dict[str, Any]:
    home = store_home(kind, name, files[0].parent)
    carelane(home, "practices", "add", str(files[0]), timeout=args.timeout)
    say(f"{kind} --workers {workers}: ingesting into {name} ...")
    wall, cpu, out = carelane(home, "ingest", str(files[1]), "--workers", str(workers), timeout=args.timeout)
    found = re.search(r"(\d+) lines: (\d+) accepted.*?(\d+) refused, (\d+) invalid", out) or sys.exit(out)
    conflicts = re.search(r"refused PROVIDER_CONFLICT: (\d+)", out)
    result = {"workers": workers, "wall_s": round(wall, 1), **{f"{k}_cpu_s": round(v, 1) for k, v in cpu.items()},
              "accepted": int(found[2]), "refused": int(found[3]), "invalid": int(found[4]),
              "provider_conflicts": int(conflicts[1]) if conflicts else 0}  # fmt: skip
    say(f"  {result}")
    return result


def ingest_runs(kind: str, files: tuple[Path, Path], args: argparse.Namespace, tag: str) -> list[dict[str, Any]]:
    """Two rounds, 1 then 2 workers, then 2 then 1; each into fresh stores."""
    rounds = enumerate(((1, 2), (2, 1)), start=1)
    return [one_ingest(kind, f"{tag}_r{n}w{w}", w, files, args) | {"round": n} for n, order in rounds for w in order]


def claims_timed(url: str, lines: list[bytes], mode: str) -> tuple[float, int]:
    """A practice's facts other than claims recorded, then its claims timed, as the CLI
    records a file (batches; one submission). `mode`: "none" (no catalog), "check" (the
    claim index attached, as routing.record opens a practice), "conflict" (and its first
    claim's patient already billed by another practice)."""
    ledger = open_ledger(url)
    catalog = Catalog.open(url, create=True) if mode != "none" else None
    if catalog is not None:
        catalog.add("pr-check")
        ledger = tenancy.attach(ledger, tenancy.Resolved(url, "pr-check", url))
    claims = [x for x in lines if CLAIM in x]
    with fewer_collections():
        ingest(ledger, [x for x in lines if CLAIM not in x], lambda r: None, batch=BATCH, submission="rest")
        if catalog is not None and mode == "conflict":
            first = decode_line(claims[0], 1)
            assert isinstance(first, facts.ClaimSubmitted)
            mine = elsewhere.slots(Work(ledger.load, ledger.context, ledger.clock()), first)
            assert mine and not ClaimIndex(catalog, "pr-other").reserve("C-OTHER", mine).held
        t0 = time.perf_counter()
        tally = ingest(ledger, claims, lambda r: None, batch=BATCH, submission="claims")
        seconds = time.perf_counter() - t0
    ledger.close()
    return seconds, tally.status["accepted"]


MODES = ("none", "check", "conflict")


def check_cost(kind: str, lines: list[bytes], tag: str, tmp: Path) -> list[dict[str, Any]]:
    """Claims with the cross-practice check against without it, and with one claim refused
    PROVIDER_CONFLICT; twice, the second time in the opposite order."""
    rounds = []
    for rnd, order in enumerate((MODES, MODES[::-1]), start=1):
        timed = {mode: claims_timed(store_home(kind, f"{tag}_c{rnd}{mode}", tmp), lines, mode) for mode in order}
        (without, n), (with_, _), (conflict, accepted) = (timed[m] for m in MODES)
        rounds.append({"round": rnd, "claims": n, "without_s": round(without, 3), "with_s": round(with_, 3),
                       "extra_ms_per_claim": round((with_ - without) / n * 1000, 3),
                       "ratio": round(with_ / without, 2), "one_conflict_s": round(conflict, 3),
                       "conflict_accepted": accepted})  # fmt: skip
        say(f"{kind} claim check: {rounds[-1]}")
    return rounds


def drop_schemas(prefix: str) -> None:
    with psycopg.connect(parse(PG).pg_conninfo or "", autocommit=True) as conn:
        names = conn.execute("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, %s)", (prefix,)).fetchall()
        for (name,) in names:
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


def markdown(result: dict[str, Any]) -> str:
    g = result["data"]
    out = [f"Run {result['when']} on {result['machine']}; `{result['command']}`", "",
           f"{result['practices']} practices, {result['patients']:,} patients, {g['lines']:,} lines, "
           f"{g['claims']:,} claims, months {result['months']}; {g['conflicts_expected']} claims of patients sharing "
           "a Medicare id with another practice's claimed patient (expected PROVIDER_CONFLICT).", ""]  # fmt: skip
    for kind, store in result["stores"].items():
        out += [f"### {kind}", "", "| round | workers | wall s | speed-up | carelane CPU s | PostgreSQL CPU s | "
                "cores busy (others') | accepted | refused | PROVIDER_CONFLICT |", "| --- " * 10 + "|"]  # fmt: skip
        for r in store["ingest"]:
            one = next(x for x in store["ingest"] if x["round"] == r["round"] and x["workers"] == 1)
            speed, busy = f"{one['wall_s'] / r['wall_s']:.2f}x" if r["workers"] > 1 else "", r["machine_cpu_s"]
            others = (busy - r["carelane_cpu_s"] - r["postgres_cpu_s"]) / r["wall_s"]
            out.append(f"| {r['round']} | {r['workers']} | {r['wall_s']} | {speed} | {r['carelane_cpu_s']} | "
                       f"{r['postgres_cpu_s']} | {busy / r['wall_s']:.2f} ({others:.2f}) | {r['accepted']:,} | "
                       f"{r['refused']:,} | {r['provider_conflicts']} |")  # fmt: skip
        out += ["", "| round | claims | without check s | with check s | extra ms/claim | with / without "
                "| with check, one claim held elsewhere, s |", "| --- " * 7 + "|"]  # fmt: skip
        for c in store["check"]:
            out.append(
                f"| {c['round']} | {c['claims']:,} | {c['without_s']} | {c['with_s']} | "
                f"{c['extra_ms_per_claim']} | {c['ratio']}x | {c['one_conflict_s']} |"
            )
        out.append("")
    return "\n".join(out)


def run_store(kind: str, files: tuple[Path, Path], sample: list[bytes], args: argparse.Namespace) -> dict[str, Any]:
    tag = f"bt_{uuid.uuid4().hex[:6]}"
    try:
        return {"ingest": ingest_runs(kind, files, args, tag), "check": check_cost(kind, sample, tag, files[0].parent)}
    finally:
        if kind == "postgres":
            drop_schemas(tag)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=100_000, help="in all, split evenly among the practices")
    parser.add_argument("--practices", type=int, default=20)
    parser.add_argument("--months", type=int, default=1, help="months of facts (every month has claims)")
    parser.add_argument("--end", default="2026-10")
    parser.add_argument("--shared", type=int, default=3, help="patients sharing a Medicare id with another practice's")
    parser.add_argument("--stores", default="postgres", help="postgres, sqlite, or both (comma-separated)")
    parser.add_argument("--timeout", type=float, default=900, help="seconds one carelane run may take")
    parser.add_argument("--out", default=str(Path(__file__).parent / "bench-results" / "tenants.md"))
    args = parser.parse_args()
    logs.configure("ERROR")
    months = months_ending(args.end, args.months)
    result: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "patients": args.patients,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "command": "python scripts/bench_tenants.py " + " ".join(sys.argv[1:]), "practices": args.practices,
        "months": f"{months[0]} to {months[-1]}",
    }  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-tenants-") as tmp:
        files = (Path(tmp) / "practices.ndjson", Path(tmp) / "facts.ndjson")
        registrations = [practice(practice_id=p, name=f"Bench {p}") for p in practice_ids(args.practices)]
        files[0].write_bytes(b"\n".join(msgspec.json.encode(r) for r in registrations) + b"\n")
        data = write_facts(files[1], args, months)
        result["data"], sample = data, data.pop("sample")
        result["stores"] = {kind: run_store(kind, files, sample, args) for kind in args.stores.split(",")}
    Path(args.out).write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
