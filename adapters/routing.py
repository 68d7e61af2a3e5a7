"""Ingest across practices: each line goes to its practice's store (its `practice_id`, or
the command's `--practice`), and practices are recorded in parallel worker processes.

Each practice's ledger sees the whole file's line numbers: the lines of other practices
are blank to it (numbered, never answered), so its answers, refusal memory and resend
policy (domain.answered) name the same lines as the file, and a resend to one practice
repeats its answers whatever the other practices did.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field

import msgspec

from adapters import logs, tenancy
from adapters.ingest import BATCH, LineResult, ingest, numbered
from adapters.lines import has_duplicate_key
from adapters.store import analyse, open_ledger
from adapters.tenants import Catalog, Tenant, no_practice
from domain import facts
from domain.reasons import Because, Reason

FIELD = b'"practice_id"'


class _Named(msgspec.Struct):
    """All the parent reads of a line to route it; the practice's worker decodes the rest."""

    practice_id: object = None


_NAMED = msgspec.json.Decoder(_Named)


@dataclass
class Job:
    """One practice's share of a file."""

    tenant: Tenant
    home: str
    lines: list[tuple[int, bytes]] = field(default_factory=list)
    only: tuple[type[facts.Fact], ...] = ()
    submission: str | None = None
    reconsider: bool = False
    batch: int = BATCH


def split(
    lines: Iterable[bytes], catalog: Catalog, default: str | None, on_answer: Callable[[LineResult], None]
) -> dict[str, list[tuple[int, bytes]]]:
    """Each line's practice: its own `practice_id` (taken off the line, except on a
    PracticeRegistered, where it is the fact's own field), or the default. A line that names
    no practice is answered invalid here (a field missing), one naming a practice the ledger
    does not serve is refused UNKNOWN_PRACTICE (as a patient it does not know is)."""
    known = {t.practice_id for t in catalog.tenants()}
    out: dict[str, list[tuple[int, bytes]]] = {}
    for lineno, raw in numbered(lines):
        practice = _practice(raw, default)
        if practice is None:
            on_answer(LineResult(lineno, "invalid", error=f"line {lineno}: $.practice_id: {UNNAMED}"))
            continue
        if practice not in known:
            unknown = Because(Reason.UNKNOWN_PRACTICE, no_practice(practice).removeprefix("UNKNOWN_PRACTICE: "))
            on_answer(LineResult(lineno, "refused", reasons=[unknown]))
            continue
        assert practice is not None
        out.setdefault(practice, []).append((lineno, raw))  # taken off in the worker (_with_gaps), in parallel
    return out


def _practice(raw: bytes, default: str | None) -> str | None:
    """_practice_of's practice, without decoding the whole line nor encoding it again: the
    parent's share of routing is serial (whole lines cost it ~10 us each, measured)."""
    if not _may_name(raw):
        return default
    try:
        named = _NAMED.decode(raw)
    except msgspec.DecodeError:  # not JSON, or not an object: the practice's decoder answers it
        return default
    return named.practice_id if isinstance(named.practice_id, str) else default


def _may_name(raw: bytes) -> bool:
    return FIELD in raw or b"\\u" in raw  # a key can be spelled with escapes ("practice\\u005fid")


def own_lines(lines: list[bytes], practice: str | None, on_invalid: Callable[[LineResult], None]) -> list[bytes]:
    """The lines of one practice's request (HTTP): `practice_id` taken off the lines that
    name this practice; a line naming another is answered invalid here, and left blank so
    the others keep their line numbers. With no practices (`practice` None) lines are as sent."""
    if practice is None:
        return lines
    out = []
    for lineno, raw in enumerate(lines, start=1):
        named, line = _practice_of(raw, practice)
        if named != practice:
            on_invalid(
                LineResult(
                    lineno, "invalid", error=f"line {lineno}: $.practice_id: this route is for practice {practice}"
                )
            )
            line = b""
        out.append(line)
    return out


def _practice_of(raw: bytes, default: str | None) -> tuple[str | None, bytes]:
    if not _may_name(raw):
        return default, raw
    try:
        data = msgspec.json.decode(raw)
    except msgspec.DecodeError:
        return default, raw  # not JSON: the practice's decoder answers it invalid
    if not isinstance(data, dict) or not isinstance(data.get("practice_id"), str):
        return default, raw
    if data.get("type") == "PracticeRegistered":
        return str(data["practice_id"]), raw
    practice = str(data.pop("practice_id"))
    if has_duplicate_key(raw):
        return practice, raw  # kept whole, so the decoder refuses its duplicate keys
    return practice, msgspec.json.encode(data)


UNNAMED = "this ledger serves several practices; give practice_id on the line or --practice"


@contextlib.contextmanager
def pool(workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """The worker processes, started at once (spawned: a forked child would share the
    parent's database connections), so that they import carelane, about 4 s each here,
    while the parent reads and routes the file. None for one worker."""
    if workers <= 1:
        yield None
        return
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as started:
        for _ in range(workers):
            started.submit(_ready)  # a spawn pool starts a process per job submitted, not before
        yield started


def _ready() -> None:
    """A worker's first job: none; by then it has imported this module."""


def run(jobs: list[Job], workers: ProcessPoolExecutor | None, on_done: Callable[[str, list[LineResult]], None]) -> None:
    """Record each job, in the workers when there are any; the largest first, so that no
    worker is left with a large practice at the end while the other idles."""
    jobs = sorted(jobs, key=lambda job: len(job.lines), reverse=True)
    if workers is None or len(jobs) <= 1:
        for job in jobs:
            on_done(job.tenant.practice_id, record(job))
        return
    futures = {workers.submit(record, job): job.tenant.practice_id for job in jobs}
    failed = []
    for future in as_completed(futures):
        try:
            on_done(futures[future], future.result())
        except Exception as e:  # the other practices' answers still count
            failed.append(f"practice {futures[future]}: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
    if failed:
        raise RuntimeError("; ".join(failed))


def record(job: Job) -> list[LineResult]:
    """One practice's lines, recorded in its own store with the cross-practice check."""
    logs.configure(os.environ.get("CARELANE_LOG_LEVEL", "WARNING"))  # a spawned worker starts unconfigured
    resolved = tenancy.Resolved(job.tenant.url, job.tenant.practice_id, job.home)
    ledger = tenancy.attach(open_ledger(job.tenant.url), resolved)
    results: list[LineResult] = []
    try:
        ingest(ledger, _with_gaps(job.lines), results.append, job.only, job.batch, job.submission, job.reconsider)
        analyse(ledger)
    finally:
        ledger.close()
    return results


def _with_gaps(lines: list[tuple[int, bytes]]) -> Iterator[bytes]:
    """The practice's lines at their own line numbers, blank lines between."""
    at = 1
    for lineno, raw in lines:
        while at < lineno:
            yield b""
            at += 1
        yield _practice_of(raw, None)[1] if _may_name(raw) else raw
        at += 1
