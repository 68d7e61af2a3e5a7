"""`GET /self-audit?from=&to=` (compliance): the self-audit of the ledger's claims over a range
of service months, as JSON, or with `Accept: text/html` the printable page, or `text/csv`.
Historical claims are the command line's (`carelane self-audit --historical`)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import MediaType, Request, Response, get
from litestar.exceptions import HTTPException
from litestar.params import QueryParameter

from adapters import reads
from adapters.commands.self_audit import MAX_MONTHS, rendered
from adapters.http_service import service_of
from domain import facts
from domain.month import Month
from projections.self_audit import run


@get("/self-audit", opt={"roles": {"compliance"}}, sync_to_thread=True)
def get_self_audit(
    request: Request[Any, Any, Any],
    first: Annotated[str, QueryParameter(name="from", pattern=facts.MONTH_PATTERN, description="YYYY-MM")],
    last: Annotated[str, QueryParameter(name="to", pattern=facts.MONTH_PATTERN, description="YYYY-MM")],
) -> Response[Any]:
    """Duplicates, overlapping care management, add-ons on an overpaid base, too few chronic
    conditions, missing consent or visit, short minutes and unsupported claims, each with its
    rule, the money at stake and the date to report and return it by."""
    if last < first:
        raise HTTPException(status_code=400, detail="to: before from")
    if len(Month(first).through(last)) > MAX_MONTHS:
        raise HTTPException(status_code=400, detail=f"at most {MAX_MONTHS} months at a time")
    service = service_of(request)
    audit = run(service.ledger, first, last, lambda m: reads.patients(service.ledger, service.views, m, refresh=False))
    service.read(request, dict.fromkeys([*(f.patient_id for f in audit.findings),
                                         *(x.patient_id for x in audit.not_judged)]))  # fmt: skip
    accept = request.headers.get("accept") or ""
    if "text/html" in accept:
        return Response(rendered(audit, "html"), media_type=MediaType.HTML)
    if "text/csv" in accept:
        return Response(rendered(audit, "csv"), media_type="text/csv")
    return Response(rendered(audit, "json"), media_type=MediaType.JSON)


ROUTES = [get_self_audit]
