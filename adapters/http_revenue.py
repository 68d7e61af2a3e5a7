"""The revenue cycle over HTTP: the 837P export, the clearinghouse's and payer's files
coming back, and the denials worklist (biller role)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import MediaType, Request, Response, get, post, route
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromQuery, QueryParameter, RawBody

from adapters import exporting, reads
from adapters.http_service import service_of
from domain import facts
from domain.catalog import DEFAULT_FEES
from projections.denials import DenialRow, denials

Month = Annotated[str, QueryParameter(pattern=facts.MONTH_PATTERN, description="YYYY-MM")]
OptionalMonth = Annotated[str | None, QueryParameter(pattern=facts.MONTH_PATTERN, description="YYYY-MM")]
Batch = Annotated[str | None, QueryParameter(max_length=20, description="a batch id such as B000000001")]
MAX_REMIT = 20 * 1024 * 1024


@route("/export/837", http_method=["GET", "POST"], opt={"roles": {"biller"}}, sync_to_thread=True, status_code=200,
       media_type=MediaType.TEXT)  # fmt: skip
def export_837(request: Request[Any, Any, Any], month: OptionalMonth = None, batch: Batch = None,
               practice: FromQuery[str | None] = None,
               production: FromQuery[bool] = False) -> Response[str]:  # fmt: skip
    """An X12 837P of the month's due claims, billed as the registered practice, validated
    with pyx12 and recorded as a batch (X-Batch-Id); `batch=ID` sends a recorded batch again.
    A test file (ISA15 T) by default, which leaves its claims due; production=true sends them."""
    service = service_of(request)
    try:
        if batch is not None:
            kept = exporting.batch(service.ledger, batch)
            service.read(request, (c.patient_id for c in kept.claims))
            return Response(kept.text, headers={"X-Batch-Id": kept.batch_id})
        if month is None:
            raise HTTPException(status_code=400, detail="give month=YYYY-MM or batch=ID")
        patients = reads.patients(service.ledger, service.views, month, refresh=False)
        with service.writing:
            done = exporting.export(service.ledger, patients, month, DEFAULT_FEES, practice_id=practice,
                                    production=production)  # fmt: skip
        service.refresh()
    except exporting.ExportRefused as e:
        status = 404 if e.problems[0].startswith("no export batch") else 422
        raise HTTPException(status_code=status, detail="no 837P was made: " + "; ".join(e.problems[:50])) from None
    if done is None:
        raise NotFoundException(f"no claims are due for {month}")
    service.read(request, patients)
    return Response(done.text, headers={"X-Batch-Id": done.batch_id})


class RemitAnswer(msgspec.Struct):
    kind: str
    control: str
    already: bool
    recorded: int
    unchanged: int
    unknown: list[str]
    refused: list[str]
    batch: str | None
    accepted: bool | None
    groups: list[tuple[str | None, bool]]  # each batch a 999 answered, and whether it was accepted


@post("/remits", opt={"roles": {"biller"}}, status_code=200, sync_to_thread=True)
def post_remits(request: Request[Any, Any, Any], body: RawBody) -> Response[RemitAnswer]:
    """An X12 999, 277CA or 835 (the request body), recorded against the claims it answers;
    the same file sent again records nothing. 422 names what makes a file unreadable."""
    from adapters.receiving import receive
    from adapters.x12_in import Unreadable

    if len(body) > MAX_REMIT:
        raise HTTPException(status_code=413, detail=f"body over {MAX_REMIT} bytes")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise HTTPException(status_code=422, detail="the body is not UTF-8 text") from None
    service = service_of(request)
    try:
        with service.writing:
            got = receive(service.ledger, text, "body")
    except Unreadable as e:
        raise HTTPException(status_code=422, detail=str(e)) from None
    service.refresh()
    fields = {k: getattr(got, k) for k in RemitAnswer.__struct_fields__}
    return Response(RemitAnswer(**fields))


@get("/denials", opt={"roles": {"biller"}}, sync_to_thread=True)
def get_denials(request: Request[Any, Any, Any], month: Month) -> Response[list[DenialRow]]:
    """Denied, partly paid, reversed and underpaid claims of a month, explained."""
    service = service_of(request)
    rows = denials(service.ledger, reads.patients(service.ledger, service.views, month, refresh=False), month)
    service.read(request, (r.patient_id for r in rows))
    return Response(rows)


REVENUE_ROUTES = [export_837, post_remits, get_denials]
