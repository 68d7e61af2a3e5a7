"""The ADR binder: the record packet (projections.audit) as a PDF that goes back to a Medicare
medical reviewer, for one claim or for a request (a patient and a range of months).

A cover sheet (practice, patient, claims, dates, and the 45 days a reviewer gives to answer),
then per claim the evidence it stood on when it was submitted as tables (binder_tables), the
patient's timeline over the months, and the integrity digest with the command that recomputes
it. Drawn from templates/binder.html by WeasyPrint, which is given no way to fetch anything:
every value in the binder comes from the ledger, and nothing it names is loaded.
"""

from __future__ import annotations

import re
import shlex
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import HTTPException

from adapters.exporting import practices
from adapters.http_service import Service, service_of
from adapters.web import auditor, pages, session as signin
from adapters.web.binder_tables import Table, tables
from adapters.web.errors import HANDLERS
from adapters.web.render import ENV, HEADERS, html
from domain import records
from domain.month import month_of_day
from projections import audit
from projections.evidence import Evidence
from projections.pace import today

RESPOND_WITHIN = 45  # days from the date on a medical-review (ADR) letter to the answer
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
SAFE = re.compile(r"[^A-Za-z0-9._-]+")
# WeasyPrint shares fontconfig and Pango state across a process; one binder is drawn at a time.
_DRAWING = threading.Lock()


@dataclass(frozen=True)
class BinderQuery:
    audit: auditor.AuditQuery
    claim: str  # "": every claim in the months
    requested: date | None  # the date on the reviewer's letter


@dataclass(frozen=True)
class ClaimPart:
    evidence: Evidence
    month: str
    tables: list[Table]
    submitted: str  # in the practice's zone


@dataclass
class Binder:
    query: BinderQuery
    packet: audit.Packet
    practice: records.PracticeRegistered | None
    patient_name: str
    claims: list[ClaimPart]
    rows: list[auditor.Row]
    as_of: str  # the packet's instant, in the practice's zone
    generated: str
    zone: str
    respond_by: date | None
    days_left: int | None
    command: str  # recomputes the digest

    @property
    def title(self) -> str:
        what = (
            f"claim {self.query.claim}" if self.query.claim else f"{self.packet.months[0]} to {self.packet.months[-1]}"
        )
        return f"ADR binder, {what}"


def parse(service: Service, patient: str, first: str, last: str, as_of: str, claim: str, requested: str) -> BinderQuery:
    """The timeline's query, the claim, and the letter's date, checked in words."""
    policy = service.ledger.policy
    q = auditor.parse(policy.zone, month_of_day(today(policy)), patient, first, last, as_of)
    if not q.patient:
        raise pages.BadFilter("patient: give a patient id")
    claim, requested = claim.strip(), requested.strip()
    if len(claim) > 100:
        raise pages.BadFilter("claim: at most 100 characters")
    letter = None
    if requested:
        try:
            letter = date.fromisoformat(requested) if DAY.fullmatch(requested) else None
        except ValueError:
            letter = None
        if letter is None:
            raise pages.BadFilter("request dated: expected a date such as 2026-04-20")
    return BinderQuery(q, claim, letter)


class NoSuchClaim(LookupError):
    """The claim asked for is not among the months' claims as of the instant."""


def build(service: Service, q: BinderQuery) -> Binder:
    """The packet, narrowed to the claim when one is named (its month and the patient's record)."""
    ledger, zone = service.ledger, service.ledger.policy.zone
    packet = audit.packet(ledger, q.audit.patient, q.audit.first, q.audit.last, q.audit.as_of)
    when = partial(auditor.local, zone=zone)
    parts = [ClaimPart(c, s.month, tables(c, ledger.rulebook, when), when(c.submitted_at))
             for s in packet.sections for c in s.claims if not q.claim or c.claim_id == q.claim]  # fmt: skip
    if q.claim and not parts:
        raise NoSuchClaim(q.claim)
    months = {"record", *(p.month for p in parts)} if q.claim else None
    rows = [r for r in auditor.rows(packet, zone) if months is None or r.month in months]
    respond_by = q.requested + timedelta(days=RESPOND_WITHIN) if q.requested else None
    left = (respond_by - today(ledger.policy)).days if respond_by else None
    practice = billing_practice(ledger, [p.evidence.billing_provider_npi for p in parts])
    as_of, generated = auditor.local(packet.as_of, zone), auditor.local(packet.generated_at, zone)
    tenant = None if ledger.elsewhere is None else ledger.elsewhere.practice_id
    return Binder(q, packet, practice, patient_name(packet), parts, rows, as_of, generated, str(zone), respond_by,
                  left, verify_command(packet, tenant))  # fmt: skip


def billing_practice(ledger: Any, npis: list[str]) -> records.PracticeRegistered | None:
    """The practice that billed the claims (by its NPI or a practitioner's); the only one
    registered when none names them."""
    known = list(practices(ledger).values())
    for p in known:
        if {p.billing_npi, *(x.npi for x in p.practitioners)} & set(npis):
            return p
    return known[0] if len(known) == 1 else None


def patient_name(packet: audit.Packet) -> str:
    """The name on the latest demographics fact of the record, if any."""
    named = [e for e in packet.record if e.type == "PatientDemographicsRecorded"]
    if not named:
        return ""
    fact = named[-1].fact
    return f"{fact.get('last_name', '')}, {fact.get('first_name', '')}".strip(", ")


def verify_command(packet: audit.Packet, practice: str | None = None) -> str:
    """The command whose packet carries the same digest (the same streams, to the same
    instant), naming the practice where the ledger serves several."""
    args = ["carelane", *(["--practice", practice] if practice else []), "audit", packet.patient_id,
            "--from", packet.months[0], "--to", packet.months[-1],
            "--as-of", packet.as_of, "--format", "json"]  # fmt: skip
    return " ".join(shlex.quote(a) for a in args)


def filename(binder: Binder) -> str:
    """Names the claim or the months, never the patient (it is seen in download lists)."""
    what = (
        f"claim-{binder.query.claim}" if binder.query.claim else f"{binder.packet.months[0]}-{binder.packet.months[-1]}"
    )
    return f"adr-binder-{SAFE.sub('_', what)[:80]}.pdf"


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> Any:
    raise ValueError("the binder loads nothing from outside its own HTML")


def pdf(binder: Binder) -> bytes:
    from weasyprint import HTML  # type: ignore[import-untyped]  # WeasyPrint ships no type hints

    text = ENV.get_template("binder.html").render(b=binder, respond_within=RESPOND_WITHIN)
    with _DRAWING:
        out: bytes = HTML(string=text, url_fetcher=_refuse_fetch).write_pdf()
    return out


@get("/app/audit/binder.pdf", opt=auditor.READERS, sync_to_thread=True)
def binder_pdf(request: Request[Any, Any, Any], patient: auditor.Text = "", first: auditor.From = "",
               last: auditor.To = "", as_of: auditor.Text = "", claim: auditor.Text = "",
               requested: auditor.Text = "") -> Response[Any]:  # fmt: skip
    """The binder as a download; the patient's record read is logged as the timeline's is."""
    service = service_of(request)
    try:
        q = parse(service, patient, first, last, as_of, claim, requested)
    except pages.BadFilter as e:
        raise HTTPException(status_code=400, detail=str(e)) from None
    try:
        binder = build(service, q)
    except audit.FutureInstant as e:
        raise HTTPException(status_code=400, detail=f"as of: {e}") from None
    except (audit.NotFound, NoSuchClaim) as e:
        what = "patient" if isinstance(e, audit.NotFound) else "claim in these months"
        return html("error.html", 404, session=signin.current(request), title="Not found",
                    message=f"No {what} with that id was on record as of the instant asked.")  # fmt: skip
    service.read(request, [q.audit.patient])
    disposition = f'attachment; filename="{filename(binder)}"'
    return Response(pdf(binder), media_type="application/pdf", headers=HEADERS | {"Content-Disposition": disposition})


BINDER = Router("/", route_handlers=[binder_pdf], guards=[signin.session_guard], exception_handlers=HANDLERS,
                include_in_schema=False)  # fmt: skip
ROUTES = [BINDER]
