"""`GET /eligible?month=` (biller): patients who qualify for a program they are not enrolled
in, why, what is missing to start, and the month's revenue (as `carelane eligible`)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, get
from litestar.params import Parameter

from adapters.http_service import service_of
from domain import facts
from domain.catalog import DEFAULT_FEES
from projections.eligible import Offer, candidates, eligible

Month = Annotated[str, Parameter(pattern=facts.MONTH_PATTERN, description="YYYY-MM")]


@get("/eligible", opt={"roles": {"biller"}}, sync_to_thread=True)
def get_eligible(request: Request[Any, Any, Any], month: Month) -> Response[list[Offer]]:
    """Offers for the month: each patient, program and starting codes, the reasons by code,
    what the record lacks to start, the monthly revenue, and `best` within each group of
    programs billed one at a time. Read from the views as they stand (writes refresh them)."""
    service = service_of(request)
    with service.views.reading() as cur:
        patients = candidates(cur, month)
    rows = eligible(service.ledger, patients, month, DEFAULT_FEES)
    service.read(request, dict.fromkeys(r.patient_id for r in rows))
    return Response(rows)


ROUTES = [get_eligible]
