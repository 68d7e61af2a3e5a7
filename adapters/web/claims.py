"""A claim sent from the month page, through the same gate and the same path as `POST /claims`:
one ClaimSubmitted line, recorded under the service's write lock, its answer counted in the
metrics and the views brought up to date. The form carries what the biller saw (codes, units,
billing NPI); the gate judges it against the record as it is now, so a form drawn before
another claim took the same codes is refused with every reason."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import msgspec

from adapters.http_service import Service
from adapters.ingest import BATCH, LineResult, ingest
from adapters.keys import KeyInfo
from domain import facts

PLACE_OF_SERVICE = "11"  # the office, as `carelane demo` bills care management


class ClaimForm(msgspec.Struct):
    """The posted form; every field a string, judged by the fact's contract, not here."""

    csrf_token: str = ""
    claim_id: str = ""
    patient_id: str = ""
    month: str = ""
    npi: str = ""
    lines: str = ""
    service_on: str = ""
    back: str = ""  # the month page's query string, to return to without JavaScript


@dataclass(frozen=True)
class Answer:
    claim_id: str
    codes: str
    status: str  # accepted | refused | invalid
    reasons: list[tuple[str, str]]  # every (code, message) of a refusal
    error: str | None = None
    duplicate: bool = False  # the same form sent again: the answer it got the first time


def fact_line(form: ClaimForm, key: KeyInfo) -> bytes:
    """The ClaimSubmitted line the form stands for; units that are not a number are left for
    the contract to refuse."""
    lines = []
    for item in form.lines.split():
        code, _, units = item.partition(":")
        lines.append({"code": code, "units": int(units) if units.isdigit() else units})
    body: dict[str, object] = {
        "type": "ClaimSubmitted",
        "claim_id": form.claim_id,
        "patient_id": form.patient_id,
        "billing_provider_npi": form.npi,
        "place_of_service": PLACE_OF_SERVICE,
        "lines": lines,
        "recorded_by": key.name,
    }
    if form.service_on:
        body["service_on"] = form.service_on
    else:
        body["service_month"] = form.month
    return msgspec.json.encode(body)


def submit(service: Service, line: bytes) -> LineResult:
    """As `POST /claims` records a body: the line's digest is the submission, so a form sent
    twice (a double click, a retry) gets the answer it got, and records nothing more."""
    submission = hashlib.sha256(line).hexdigest()[:32]
    results: list[LineResult] = []
    with service.writing:
        ingest(service.ledger, [line], results.append, (facts.ClaimSubmitted,), BATCH, submission)
    service.metrics.answered(results)
    service.refresh()
    return results[0]


def answer_of(form: ClaimForm, result: LineResult) -> Answer:
    items = [x.partition(":") for x in form.lines.split()]
    codes = ", ".join(code + (f" x{units}" if units not in ("", "1") else "") for code, _, units in items)
    reasons = [(r.code.value, r.message) for r in result.reasons or ()]
    return Answer(form.claim_id, codes, result.status, reasons, result.error, result.duplicate)
