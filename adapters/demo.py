"""`carelane demo`: a synthetic practice recorded on a fresh embedded store, shown as tables."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date

import click
import msgspec

from adapters.ingest import LineResult, answer
from adapters.store import open_ledger, parse
from adapters.synthetic import last_full_month, months_ending, practice_lines
from adapters.table import render
from domain.keys import patient_month_key
from domain.ledger import Ledger
from domain.patient_month import PatientMonth

DEMO_FILE = "carelane-demo.db"


class _Typed(msgspec.Struct):
    type: str = "(unreadable)"


def run(url: str, *, patients: int, seed: int, echo: Callable[[str], None]) -> None:
    _fresh(url)
    ledger = open_ledger(url)
    months = months_ending(last_full_month(date.today()), 2)
    lines = practice_lines(patients, months, seed)
    echo(f"Synthetic practice: {patients} patients, months {', '.join(months)}, {len(lines)} facts")
    echo(f"Store: {url}\n")
    results = [(line, answer(ledger, line, n)) for n, line in enumerate(lines, start=1)]
    echo(_by_type(results))
    echo("")
    echo(_problems(results))
    echo("")
    echo(_months(ledger, results))


def _fresh(url: str) -> None:
    """The demo writes only to an empty store: its own file is recreated, another must be empty."""
    store = parse(url)
    if store.kind == "sqlite" and os.path.basename(store.sqlite_path or "") == DEMO_FILE:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{store.sqlite_path}{suffix}"):
                os.remove(f"{store.sqlite_path}{suffix}")
        return
    ledger = open_ledger(url)
    if ledger.recorder.max_notification_id():
        raise click.ClickException(f"{url} already holds a ledger; the demo needs an empty store")


def _type_of(line: bytes) -> str:
    try:
        return msgspec.json.decode(line, type=_Typed).type
    except msgspec.MsgspecError:
        return "(unreadable)"


def _by_type(results: list[tuple[bytes, LineResult]]) -> str:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for line, result in results:
        counts[_type_of(line)][result.status] += 1
    rows = [[t, c["accepted"], c["refused"], c["invalid"]] for t, c in sorted(counts.items())]
    total = Counter[str]()
    for c in counts.values():
        total.update(c)
    rows.append(["total", total["accepted"], total["refused"], total["invalid"]])
    return render(["fact type", "accepted", "refused", "invalid"], rows, "What the ledger did with each fact")


def _problems(results: list[tuple[bytes, LineResult]]) -> str:
    rows = []
    for line, result in results:
        if result.status == "refused":
            for reason in result.reasons or ():
                rows.append([result.line, _type_of(line), reason.code.value, reason.message])
        elif result.status == "invalid":
            rows.append([result.line, _type_of(line), "invalid", result.error])
    return render(["line", "fact type", "answer", "why"], rows, "Refused and invalid lines (nothing else was lost)")


def _months(ledger: Ledger, results: list[tuple[bytes, LineResult]], limit: int = 15) -> str:
    rows = []
    month_ids: dict[tuple[str, str], None] = {}
    for line, result in results:
        if result.status != "accepted":
            continue
        fact = msgspec.json.decode(line)
        month = (fact.get("started_at") or fact.get("transmitted_on") or "")[:7]
        if month and "patient_id" in fact:
            month_ids.setdefault((fact["patient_id"], month), None)
    for patient_id, month in list(month_ids)[:limit]:
        pm: object = ledger.repository.get(patient_month_key(patient_id, month))
        assert isinstance(pm, PatientMonth)
        minutes: Counter[str] = Counter()
        for entry in pm.entries.values():
            if entry.voided is None:
                minutes[entry.logged.program.value] += entry.logged.minutes
        days = sum(len(d) for d in pm.device_days.values())
        rows.append([patient_id, month, ", ".join(f"{p} {m}" for p, m in sorted(minutes.items())) or "-", days or "-"])
    more = len(month_ids) - len(rows)
    title = f"Patient-months recorded (first {len(rows)}; {more} more)" if more > 0 else "Patient-months recorded"
    return render(["patient", "month", "minutes by program", "device days"], rows, title)
