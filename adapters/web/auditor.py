"""The auditor's page at /app/audit: a patient's timeline over a range of months, every fact
with when it happened and when it was recorded and its marks (late, voided, after close), each
claim's evidence as it stood when the claim was submitted, and an "as of" picker that replays
the record as the ledger knew it at an instant (projections.audit.packet). The picker's time is
the practice's wall clock (policy.zone), as the practice reads its own records. The page prints
without its forms (pages.css, @media print)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from litestar import Request, Response, Router, get
from litestar.exceptions import HTTPException
from litestar.params import QueryParameter

from adapters.http_service import Service, service_of
from adapters.web import pages, session as signin
from adapters.web.errors import HANDLERS
from adapters.web.render import html
from domain.month import Month, month_of_day, shift_month
from projections import audit
from projections.pace import today

READERS = {"web_roles": {"auditor", "compliance"}}
MOST_MONTHS = 24  # one page replays at most two years of a patient's record
LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")  # what a datetime-local input sends
HIDDEN = frozenset({"type", "patient_id", "recorded_by", "source"})  # shown in their own columns
MAX_PATIENT = 200


@dataclass(frozen=True)
class AuditQuery:
    patient: str
    first: str
    last: str
    as_of: datetime | None  # None: now
    as_of_text: str  # the picker's value, as sent


@dataclass(frozen=True)
class Row:
    """One fact on the timeline."""

    n: int
    type: str
    month: str  # the month section it came from, or "record" (not tied to a month)
    happened: str
    recorded: str
    recorded_by: str
    source: str
    flags: list[str]
    detail: str

    @property
    def classes(self) -> str:
        return " ".join("flag-" + f.split()[0] for f in self.flags)


@dataclass
class Timeline:
    query: AuditQuery
    packet: audit.Packet
    rows: list[Row]
    as_of: str  # the packet's instant, in the practice's zone
    zone: str


def parse(zone: ZoneInfo, default: str, patient: str, first: str, last: str, as_of: str) -> AuditQuery:
    """The page's query in words; `from` defaults to two months before `to`, `to` to this month."""
    patient, last, as_of = patient.strip(), last.strip() or default, as_of.strip()
    if len(patient) > MAX_PATIENT:
        raise pages.BadFilter(f"patient: at most {MAX_PATIENT} characters")
    if not pages.MONTH.match(last):
        raise pages.BadFilter("to: expected a month such as 2026-03")
    first = first.strip() or shift_month(last, -2)
    if not pages.MONTH.match(first):
        raise pages.BadFilter("from: expected a month such as 2026-03")
    if last < first:
        raise pages.BadFilter("to: before from")
    if len(Month(first).through(last)) > MOST_MONTHS:
        raise pages.BadFilter(f"from, to: at most {MOST_MONTHS} months at a time")
    instant = None
    if as_of:
        if not LOCAL.fullmatch(as_of):
            raise pages.BadFilter("as of: expected a date and time such as 2026-03-31T17:00")
        try:
            instant = datetime.fromisoformat(as_of).replace(tzinfo=zone)
        except ValueError:
            raise pages.BadFilter("as of: not a real date and time") from None
    return AuditQuery(patient, first, last, instant, as_of)


def local(text: str | None, zone: ZoneInfo) -> str:
    """An instant in the practice's zone; a bare date (or a month) as it is."""
    if not text or len(text) <= 10:
        return text or ""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return text
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z") if when.tzinfo else text


def detail(fact: dict[str, Any]) -> str:
    """The fact's own fields in one line (who and where have their columns)."""
    parts = []
    for key, value in fact.items():
        if key in HIDDEN or value is None or value == [] or value == {}:
            continue
        if isinstance(value, list):
            value = ", ".join(_brief(v) for v in value)
        parts.append(f"{key.replace('_', ' ')}: {_brief(value)}")
    return "; ".join(parts)


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(str(v) for v in value.values() if v is not None)
    return str(value)


def rows(packet: audit.Packet, zone: ZoneInfo) -> list[Row]:
    tagged = [("record", e) for e in packet.record] + [(s.month, e) for s in packet.sections for e in s.facts]
    tagged.sort(key=lambda me: (me[1].happened or "", me[1].recorded_at))
    return [Row(n, e.type, month, local(e.happened, zone), local(e.recorded_at, zone), e.recorded_by or "",
                e.source or "", list(e.flags), detail(e.fact)) for n, (month, e) in enumerate(tagged, 1)]  # fmt: skip


def timeline(service: Service, q: AuditQuery) -> Timeline:
    zone = service.ledger.policy.zone
    packet = audit.packet(service.ledger, q.patient, q.first, q.last, q.as_of)
    return Timeline(q, packet, rows(packet, zone), local(packet.as_of, zone), str(zone))


Text = Annotated[str, QueryParameter(max_length=300)]
From = Annotated[str, QueryParameter(name="from", max_length=20)]
To = Annotated[str, QueryParameter(name="to", max_length=20)]


@get("/app/audit", opt=READERS, sync_to_thread=True)
def audit_page(request: Request[Any, Any, Any], patient: Text = "", first: From = "", last: To = "",
               as_of: Text = "") -> Response[str]:  # fmt: skip
    """The picker; with a patient, the timeline as of the instant asked (now by default)."""
    service = service_of(request)
    zone = service.ledger.policy.zone
    current = month_of_day(today(service.ledger.policy))
    try:
        q = parse(zone, current, patient, first, last, as_of)
    except pages.BadFilter as e:
        raise HTTPException(status_code=400, detail=str(e)) from None
    session = signin.current(request)
    if not q.patient:
        return html("auditor_timeline.html", session=session, q=q, found=None, zone=str(zone), missing="")
    try:
        found = timeline(service, q)
    except audit.NotFound:
        missing = "No patient with that id was on record as of the instant asked."
        return html("auditor_timeline.html", 404, session=session, q=q, found=None, zone=str(zone), missing=missing)
    except audit.FutureInstant as e:
        raise HTTPException(status_code=400, detail=f"as of: {e}") from None
    service.read(request, [q.patient])
    return html("auditor_timeline.html", session=session, q=q, found=found, zone=str(zone), missing="")


AUDITOR = Router("/", route_handlers=[audit_page], guards=[signin.session_guard], exception_handlers=HANDLERS,
                 include_in_schema=False)  # fmt: skip
ROUTES = [AUDITOR]
