"""`carelane demo`: a synthetic practice recorded on a fresh embedded store, then billed from
the worklist through the claim gate, with the refusals a careless biller would meet."""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any

import click
import msgspec

from adapters import output, reads
from adapters.ingest import LineResult, answer
from adapters.keys import Keys
from adapters.store import open_ledger, parse
from adapters.synthetic import PRACTICE_NPI, SPECIALIST_NPI, last_full_month, months_ending, practice_lines
from adapters.table import render
from adapters.viewdb import open_views
from domain import facts
from domain.ledger import Ledger
from domain.rules.assess import WorklistRow

DEMO_FILE = "carelane-demo.db"


class _Typed(msgspec.Struct):
    type: str = "(not JSON)"


def run(url: str, *, patients: int, seed: int, echo: Callable[[str], None]) -> None:
    _fresh(url)
    ledger = open_ledger(url)
    months = months_ending(last_full_month(date.today()), 2)
    practice, people = identities(patients)
    lines = [practice, *practice_lines(patients, months, seed), *people]
    echo(f"Synthetic practice: {patients} patients, months {', '.join(months)}, {len(lines)} facts")
    echo(f"Store: {url}\n")
    results = [(line, answer(ledger, line, n)) for n, line in enumerate(lines, start=1)]
    echo(_by_type(results) + "\n")
    echo(_problems(results, "Refused and invalid facts (every other line was recorded)") + "\n")
    views = open_views(ledger, url)

    def worklist(month: str) -> list[WorklistRow]:
        return reads.worklist(ledger, views, month)

    first = worklist(months[0])
    claims = _claims_from(first) + _careless(first)
    encoder = msgspec.json.Encoder()
    claimed = [(encoder.encode(c), answer(ledger, encoder.encode(c), n)) for n, c in enumerate(claims, start=1)]
    accepted = sum(r.status == "accepted" for _, r in claimed)
    echo(f"Claims for {months[0]} from its worklist: {accepted} accepted, {len(claims) - accepted} refused")
    echo(_problems(claimed, "Claims the gate refused") + "\n")
    echo(output.worklist(worklist(months[0]), "table") + "\n")
    echo(output.worklist(worklist(months[1]), "table") + "\n")
    echo(_open_in_app(url, Keys(views).add("demo", "admin")[1]))


def _open_in_app(url: str, token: str) -> str:
    """How to see this ledger in the workbench: one command, the address, a key to sign in
    with (an admin key of this demo ledger only; revoke it with `carelane keys revoke`)."""
    return (
        "Open this ledger in the workbench:\n"
        f"  carelane serve --db {url}\n"
        "  then http://127.0.0.1:8000/app, and sign in with this demo key\n"
        f"  (admin, this demo ledger only):\n  {token}"
    )


DEMO_GROUP_NPI = "1999999018"  # a valid check digit, in no registry: the demo practice is fictional


def identities(patients: int) -> tuple[bytes, list[bytes]]:
    """The demo's own practice and its patients' names and addresses: plainly fictional, so
    an 837P made from the demo (a test file, ISA15 T) can never pass for a real one."""
    practice = facts.PracticeRegistered(
        practice_id="DEMO", name="Carelane Demo Practice (fictional)", billing_npi=DEMO_GROUP_NPI,
        tax_id="00-0000000", address="1 Example Way", city="Springfield", state="IL", zip="627010000",
        submitter_id="DEMOSUBMITTER", receiver_id="DEMORECEIVER", payer_id="DEMOPAYER",
        contact_name="Demo Billing Office", contact_phone="5555550100", payer_name="Demo Payer (fictional)",
        practitioners=[facts.Practitioner(npi=PRACTICE_NPI, last_name="Example", first_name="Eve"),
                       facts.Practitioner(npi=SPECIALIST_NPI, last_name="Example", first_name="Fay")],
    )  # fmt: skip
    people = [
        facts.PatientDemographicsRecorded(
            patient_id=f"P{n:05d}",
            last_name="Demopatient",
            first_name=f"P{n:05d}",
            sex=facts.Sex.UNKNOWN,
            address=f"{n} Example Way",
            city="Springfield",
            state="IL",
            zip="62701",
            effective_on=date(2000, 1, 1),
        )
        for n in range(1, patients + 1)
    ]
    encoder = msgspec.json.Encoder()
    return encoder.encode(practice), [encoder.encode(p) for p in people]


def _claims_from(rows: list[WorklistRow]) -> list[facts.ClaimSubmitted]:
    """What a diligent biller sends: the worklist's billable codes, one claim per date of service."""
    claims = []
    for row in rows:
        monthly = [facts.ClaimLine(b.code, b.units) for b in row.billable if b.service_on is None]
        if monthly:
            claims.append(_claim(row, f"C-{row.patient_id}-{row.month}", monthly, service_month=row.month))
        for b in row.billable:
            if b.service_on is not None:
                lines = [facts.ClaimLine(b.code, b.units)]
                on = date.fromisoformat(b.service_on)
                claims.append(_claim(row, f"C-{row.patient_id}-{b.code}-{on:%m%d}", lines, service_on=on))
    return claims


def _claim(row: WorklistRow, claim_id: str, lines: list[facts.ClaimLine], **when: Any) -> facts.ClaimSubmitted:
    return facts.ClaimSubmitted(
        claim_id=claim_id,
        patient_id=row.patient_id,
        billing_provider_npi=row.billing_provider_npi or PRACTICE_NPI,
        place_of_service="11",
        lines=lines,
        **when,
    )


def _careless(rows: list[WorklistRow]) -> list[facts.ClaimSubmitted]:
    """What the gate is for: the same codes sent again, a second tier, a code over its cap."""
    ccm = [r for r in rows if r.lane == "CCM" and r.billable]
    out = []
    for n, row in enumerate(ccm[:3]):
        lines = [
            [facts.ClaimLine(b.code, b.units) for b in row.billable if b.service_on is None],
            [facts.ClaimLine("99491")],
            [facts.ClaimLine("99490"), facts.ClaimLine("99439", 3)],
        ][n]
        out.append(facts.ClaimSubmitted(
            claim_id=f"C-AGAIN-{row.patient_id}", patient_id=row.patient_id,
            billing_provider_npi=row.billing_provider_npi or PRACTICE_NPI, place_of_service="11",
            service_month=row.month, lines=lines,
        ))  # fmt: skip
    return out


def _fresh(url: str) -> None:
    """The demo writes only to an empty store: its own file is recreated, another must be empty."""
    store = parse(url)
    if store.kind == "sqlite" and os.path.basename(store.sqlite_path or "") == DEMO_FILE:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(f"{store.sqlite_path}{suffix}"):
                os.remove(f"{store.sqlite_path}{suffix}")
        return
    ledger: Ledger = open_ledger(url)
    if ledger.recorder.max_notification_id():
        raise click.ClickException(f"{url} already holds a ledger; the demo needs an empty store")


def _type_of(line: bytes) -> str:
    try:
        return msgspec.json.decode(line, type=_Typed).type
    except msgspec.MsgspecError:
        return "(not JSON)"


def _by_type(results: list[tuple[bytes, LineResult]]) -> str:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for line, result in results:
        counts[_type_of(line)][result.status] += 1
    rows: list[list[object]] = [[t, c["accepted"], c["refused"], c["invalid"]] for t, c in sorted(counts.items())]
    total: Counter[str] = Counter()
    for c in counts.values():
        total.update(c)
    rows.append(["total", total["accepted"], total["refused"], total["invalid"]])
    return render(["fact type", "accepted", "refused", "invalid"], rows, "What the ledger did with each fact")


def _problems(results: list[tuple[bytes, LineResult]], title: str) -> str:
    rows: list[list[object]] = []
    for line, result in results:
        if result.status == "refused":
            for reason in result.reasons or ():
                rows.append([result.line, _type_of(line), reason.code.value, reason.message])
        elif result.status == "invalid":
            rows.append([result.line, _type_of(line), "invalid", result.error])
    return render(["line", "fact type", "answer", "why"], rows, title)
