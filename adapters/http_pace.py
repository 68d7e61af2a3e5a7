"""`GET /pace` (biller): who will miss a threshold at the present pace, and renewals coming
due, as `carelane pace --format json` prints them."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from adapters import reads
from adapters.http_service import service_of
from domain import facts
from domain.catalog import DEFAULT_FEES
from projections.pace import RENEWALS_WITHIN, PaceReport, pace_report, today

Month = Annotated[str, Parameter(pattern=facts.MONTH_PATTERN, description="YYYY-MM")]
AsOf = Annotated[
    date | None,
    Parameter(description="YYYY-MM-DD, kept in the month (default: today in the practice's time zone)"),
]
Within = Annotated[int, Parameter(ge=0, le=366, description="renewals due up to this many days after as_of")]


@get("/pace", opt={"roles": {"biller"}}, sync_to_thread=True)
def get_pace(
    request: Request[Any, Any, Any], month: Month, as_of: AsOf = None, within: Within = RENEWALS_WITHIN
) -> Response[PaceReport]:
    """Thresholds the month will miss at the present pace (flagged first) and renewals due."""
    service = service_of(request)
    patients = reads.patients(service.ledger, service.views, month, refresh=False)
    day = as_of or today(service.ledger.policy)
    report = pace_report(service.ledger, patients, month, day, DEFAULT_FEES, within)
    service.read(
        request, dict.fromkeys([*(r.patient_id for r in report.pace), *(r.patient_id for r in report.renewals)])
    )
    return Response(report)


ROUTES = [get_pace]
