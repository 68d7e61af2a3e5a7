"""The reports page at /app/reports (biller and compliance): revenue claimed by program per
month, and billable against claimed against paid, over the last 3, 6 or 12 months, as charts
(adapters.web.charts) with their numbers in a table.

The numbers are `carelane report`'s for each month (projections.report): claimed is what
accepted, unvoided claims bill at the fee schedule in force; billable is what could still be
claimed now; paid is what the payer's answers (835) paid. They replay each patient-month with
activity, so the span is kept short by default. The page shows totals only, no patient, so it
records no read of a patient's record.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from litestar import Request, Response, Router, get
from litestar.exceptions import HTTPException
from litestar.params import FromQuery as Q

from adapters import reads
from adapters.http_service import Service, service_of
from adapters.web import charts, pages, session as signin
from adapters.web.errors import HANDLERS
from adapters.web.render import html
from domain.month import month_of_day, shift_month
from projections.pace import today
from projections.report import ReportRow, report

READERS = {"web_roles": {"biller", "compliance"}}
SPANS = (3, 6, 12)
ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
AMOUNTS = (charts.Series("billable now", "#8a4b00"), charts.Series("claimed", "#0b5cad"),
           charts.Series("paid", "#17663a"))  # fmt: skip


@dataclass(frozen=True)
class Filters:
    through: str
    span: int = 6
    provider: str = ""

    @property
    def months(self) -> list[str]:
        return [shift_month(self.through, d) for d in range(1 - self.span, 1)]


@dataclass(frozen=True)
class Month:
    month: str
    billable: Decimal
    claimed: Decimal
    paid: Decimal
    by_program: dict[str, Decimal]  # claimed, by program

    @property
    def label(self) -> str:
        return f"{ABBR[int(self.month[5:]) - 1]} {self.month[2:4]}"


@dataclass
class Reports:
    filters: Filters
    months: list[Month]
    programs: list[str]  # those with a claim in the span, in the catalog's order
    providers: list[str]
    revenue: charts.Chart
    amounts: charts.Chart


def parse(default: str, through: str | None, span: str, provider: str) -> Filters:
    through = (through or "").strip() or default
    if not pages.MONTH.match(through):
        raise pages.BadFilter("through: expected a month such as 2026-03")
    if span and span not in {str(s) for s in SPANS}:
        raise pages.BadFilter(f"months: expected one of {', '.join(map(str, SPANS))}")
    if provider and not pages.NPI.fullmatch(provider):
        raise pages.BadFilter("provider: expected a 10-digit NPI")
    return Filters(through, int(span or 6), provider)


def month_totals(month: str, rows: list[ReportRow]) -> Month:
    by_program: dict[str, Decimal] = {}
    for r in rows:
        by_program[r.program] = by_program.get(r.program, Decimal(0)) + Decimal(r.claimed_amount)
    return Month(month, sum((Decimal(r.billable_amount) for r in rows), Decimal(0)),
                 sum((Decimal(r.claimed_amount) for r in rows), Decimal(0)),
                 sum((Decimal(r.paid_amount) for r in rows), Decimal(0)), by_program)  # fmt: skip


def gather(service: Service, f: Filters) -> tuple[list[Month], list[str]]:
    """Each month's totals (for one provider, when asked), and every provider seen."""
    found, providers = [], set()
    for month in f.months:
        patients = reads.patients(service.ledger, service.views, month, refresh=False)
        rows = report(service.ledger, patients, month) if patients else []
        providers |= {r.billing_provider_npi for r in rows if r.billing_provider_npi != "(none)"}
        found.append(month_totals(month, [r for r in rows if f.provider in ("", r.billing_provider_npi)]))
    return found, sorted(providers)


def build(service: Service, f: Filters) -> Reports:
    months, providers = gather(service, f)
    seen = {p for m in months for p, v in m.by_program.items() if v}
    programs = [p for p in (*pages.PROGRAMS, "other") if p in seen]
    span = f"{f.months[0]} to {f.through}"
    revenue = charts.columns(
        "revenue-chart", f"Revenue claimed by program per month, {span}",
        [charts.Column(m.month, m.label, tuple(m.by_program.get(p, Decimal(0)) for p in programs), "revenue-month",
                       (("month", m.month), ("claimed", str(m.claimed)))) for m in months],
        [charts.Series(p, charts.PROGRAM_FILLS.get(p, charts.INK)) for p in programs], stacked=True,
    )  # fmt: skip
    amounts = charts.columns(
        "amounts-chart", f"Billable now, claimed and paid per month, {span}",
        [charts.Column(m.month, m.label, (m.billable, m.claimed, m.paid), "amounts-month",
                       (("month", m.month), ("billable", str(m.billable)), ("claimed", str(m.claimed)),
                        ("paid", str(m.paid)))) for m in months],
        AMOUNTS, stacked=False,
    )  # fmt: skip
    return Reports(f, months, programs, providers, revenue, amounts)


@get("/app/reports", opt=READERS, sync_to_thread=True)
def reports_page(request: Request[Any, Any, Any], through: Q[str | None] = None, months: Q[str] = "",
                 provider: Q[str] = "") -> Response[str]:  # fmt: skip
    service = service_of(request)
    try:
        f = parse(month_of_day(today(service.ledger.policy)), through, months, provider)
    except pages.BadFilter as e:
        raise HTTPException(status_code=400, detail=str(e)) from None
    return html("reports.html", session=signin.current(request), r=build(service, f), spans=SPANS)


REPORTS = Router("/", route_handlers=[reports_page], guards=[signin.session_guard], exception_handlers=HANDLERS,
                 include_in_schema=False)  # fmt: skip
ROUTES = [REPORTS]
