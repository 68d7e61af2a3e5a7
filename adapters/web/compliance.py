"""The compliance officer's dashboard at /app/compliance: the refusal log over the last 12
months as charts (adapters.web.charts), attempted double billing picked out, claims left
unsupported with their overpayment deadlines, facts recorded late, and `verify` run from the
page.

Filters (provider, program) narrow the refusals and the unsupported claims; late facts are
listed for the whole practice. The refusal log also lists claims left unsupported (G-16, led by
SUPPORT_WITHDRAWN): those are shown as unsupported claims, not counted as refusals.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body, FromQuery as Q
from litestar.response import Redirect

from adapters import chain, reads
from adapters.closing import verify_closes
from adapters.http_service import Service, service_of
from adapters.web import charts, pages, session as signin
from adapters.web.errors import HANDLERS
from adapters.web.render import HEADERS, html, is_htmx
from domain.catalog import lookup
from domain.month import month_bounds, month_of_day, shift_month
from domain.reasons import Reason
from projections.events import EventRow, Query, events
from projections.pace import today
from projections.refusals import RefusalRow

# Attempts to bill the same care twice (rules.md G-07, G-08, G-14 and the code conflicts).
DOUBLE = frozenset({"DUPLICATE_CLAIM", "LANE_CONFLICT", "PROVIDER_CONFLICT", "TIER_CONFLICT", "CODE_CONFLICT"})
MONTHS = 12
LATE_SHOWN = 200  # the newest late facts listed; the count says how many there are
ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
OFFICER = {"web_roles": {"compliance"}}
RED, BLUE = "#a11d1d", "#0b5cad"  # double billing, other reasons (app.css --bad, --accent)
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)


@dataclass(frozen=True)
class Filters:
    through: str  # the last of the 12 months
    provider: str = ""
    program: str = ""

    @property
    def months(self) -> list[str]:
        return [shift_month(self.through, d) for d in range(1 - MONTHS, 1)]


@dataclass
class Dashboard:
    filters: Filters
    refusals: list[RefusalRow]
    reason_chart: charts.Chart
    month_chart: charts.Chart
    attempts: list[RefusalRow]  # refusals with a double-billing reason
    unsupported: list[tuple[str, str, Any]]  # (patient, month, worklist Claimed)
    late: list[EventRow]
    late_count: int
    providers: list[str]
    double_count: int = 0
    programs: tuple[str, ...] = pages.PROGRAMS
    verified: Any = None


@dataclass(frozen=True)
class Verified:
    intact: bool
    problem: str
    closes: list[str]
    position: int
    digest: str
    checked_at: str


def parse(default: str, through: str | None, provider: str, program: str) -> Filters:
    through = (through or "").strip() or default
    if not pages.MONTH.match(through):
        raise pages.BadFilter("through: expected a month such as 2026-03")
    if provider and not pages.NPI.fullmatch(provider):
        raise pages.BadFilter("provider: expected a 10-digit NPI")
    if program and program not in pages.PROGRAMS:
        raise pages.BadFilter(f"program: expected one of {', '.join(pages.PROGRAMS)}")
    return Filters(through, provider, program)


def codes_of(row: RefusalRow) -> list[str]:
    """The reason codes a refusal gives, each once, in its order."""
    return list(dict.fromkeys(r.get("code", "") for r in row.reasons))


def in_program(codes: list[str], program: str) -> bool:
    return not program or any((s := lookup(c)) is not None and s.program is not None and s.program.value == program
                              for c in codes)  # fmt: skip


def reason_chart(rows: list[RefusalRow], f: Filters) -> charts.Chart:
    """Refusals by reason, the most frequent first; double billing in red."""
    counts = Counter(code for row in rows for code in codes_of(row))
    items = [charts.Bar(code, n, RED, "reason-bar double", (("reason", code), ("count", str(n))), "double billing")
             if code in DOUBLE else charts.Bar(code, n, BLUE, "reason-bar", (("reason", code), ("count", str(n))))
             for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]  # fmt: skip
    return charts.bars("reason-chart", f"Refusals by reason, {f.months[0]} to {f.through}", items)


def month_chart(rows: list[RefusalRow], months: list[str]) -> charts.Chart:
    """Refused claims per month of service, the double-billing attempts at the foot."""
    total = Counter(row.service_month for row in rows)
    double = Counter(row.service_month for row in rows if DOUBLE.intersection(codes_of(row)))
    items = [charts.Column(m, f"{ABBR[int(m[5:]) - 1]} {m[2:4]}", (double[m], total[m] - double[m]), "month-bar",
                           (("month", m), ("total", str(total[m])), ("double", str(double[m]))))
             for m in months]  # fmt: skip
    series = [charts.Series("attempted double billing", RED), charts.Series("other refusals", BLUE)]
    title = "Refused claims per month, attempted double billing in red at the foot of each column"
    return charts.columns("month-chart", title, items, series, stacked=True, show=str)


def refusals(every: list[RefusalRow], f: Filters) -> list[RefusalRow]:
    """Refusals for services in the 12 months, filtered; the G-16 rows left out."""
    shown = set(f.months)
    withdrawn = [Reason.SUPPORT_WITHDRAWN.value]
    return [r for r in every if r.service_month in shown and codes_of(r)[:1] != withdrawn
            and f.provider in ("", r.billing_provider_npi) and in_program(r.codes, f.program)]  # fmt: skip


def unsupported(service: Service, f: Filters) -> list[tuple[str, str, Any]]:
    """Claims left unsupported, the soonest repayment deadline first (unpaid ones last)."""
    found = []
    for month in f.months:
        for row in reads.worklist(service.ledger, service.views, month, f.provider or None, refresh=False):
            found += [(row.patient_id, month, c) for c in row.claimed
                      if c.status == "unsupported" and in_program(c.codes, f.program)]  # fmt: skip
    return sorted(found, key=lambda x: (x[2].repay_by or "9999", x[1], x[0]))


def late_facts(service: Service, f: Filters) -> tuple[list[EventRow], int]:
    first, last = month_bounds(f.months[0])[0], month_bounds(f.through)[1]
    query = Query(happened_from=first.isoformat(), happened_to=last.isoformat(), late=True)
    found = sorted(events(service.ledger, service.views, query), key=lambda e: e.recorded_at, reverse=True)
    return found[:LATE_SHOWN], len(found)


def dashboard(service: Service, f: Filters) -> Dashboard:
    every = reads.refusals(service.ledger, service.views, None, None, refresh=False)
    rows = refusals(every, f)
    attempts = [r for r in rows if DOUBLE.intersection(codes_of(r))]
    late, count = late_facts(service, f)
    return Dashboard(f, rows, reason_chart(rows, f), month_chart(rows, f.months), attempts, unsupported(service, f),
                     late, count, sorted({r.billing_provider_npi for r in every}), len(attempts))  # fmt: skip


def verify(service: Service) -> Verified:
    """`carelane verify`: the hash chain over every stored event, then the month closes."""
    recorder = service.ledger.recorder
    broken = chain.verify(recorder)
    closes = verify_closes(service.ledger)
    tip = chain.tip(recorder)
    problem = f"broken at position {broken.position}: {broken.problem}" if broken else ""
    return Verified(broken is None and not closes, problem, closes, tip.position, tip.hash,
                    datetime.now(UTC).isoformat(timespec="seconds"))  # fmt: skip


class VerifyForm(msgspec.Struct):
    csrf_token: str = ""
    through: str = ""
    provider: str = ""
    program: str = ""


def _filters(request: Request[Any, Any, Any], through: str | None, provider: str, program: str) -> Filters:
    try:
        return parse(month_of_day(today(service_of(request).ledger.policy)), through, provider, program)
    except pages.BadFilter as e:
        raise HTTPException(status_code=400, detail=str(e)) from None


@get("/app/compliance", opt=OFFICER, sync_to_thread=True)
def compliance_page(request: Request[Any, Any, Any], through: Q[str | None] = None, provider: Q[str] = "",
                    program: Q[str] = "") -> Response[str]:  # fmt: skip
    f = _filters(request, through, provider, program)
    session = signin.current(request)
    service = service_of(request)
    board = dashboard(service, f)
    board.verified = session.flash.pop("verify", None)
    patients = {r.patient_id for r in board.refusals} | {u[0] for u in board.unsupported}
    service.read(request, sorted(patients | {e.patient_id for e in board.late}))
    return html("compliance_dashboard.html", session=session, board=board, double=sorted(DOUBLE))


@post("/app/compliance/verify", opt=OFFICER, sync_to_thread=True)
def run_verify(request: Request[Any, Any, Any], data: Annotated[VerifyForm, FORM]) -> Response[Any]:
    """htmx gets the result in place; a plain form post returns to the dashboard showing it once."""
    signin.check_csrf(request, data.csrf_token)
    result = verify(service_of(request))
    if is_htmx(request.headers):
        return html("compliance_verify.html", verified=result)
    f = _filters(request, data.through, data.provider, data.program)
    signin.current(request).flash["verify"] = result
    query = "&".join(f"{k}={v}" for k, v in (("through", f.through), ("provider", f.provider),
                                             ("program", f.program)) if v)  # fmt: skip
    return Redirect(f"/app/compliance?{query}#verify", status_code=303, headers=HEADERS)


COMPLIANCE = Router("/", route_handlers=[compliance_page, run_verify], guards=[signin.session_guard],
                    exception_handlers=HANDLERS, include_in_schema=False)  # fmt: skip
ROUTES = [COMPLIANCE]
