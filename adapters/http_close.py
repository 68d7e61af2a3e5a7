"""Month closes over HTTP: a month's closes and the facts recorded after them (compliance,
auditor), and closing or re-opening a month (admin) with the key of $CARELANE_CLOSE_KEY."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Request, Response, get, post
from litestar.exceptions import HTTPException
from litestar.params import Parameter

from adapters import closing, reads
from adapters.http_service import Service, service_of
from domain import facts
from domain.catalog import DEFAULT_FEES
from domain.decisions.closing import BadReason, CloseRefused
from projections.after_close import AfterClose, after_close

Month = Annotated[str, Parameter(pattern=facts.MONTH_PATTERN, description="YYYY-MM")]
Reopen = Annotated[bool, Parameter(description="re-open the closed month instead (needs reason)")]
Reason = Annotated[str | None, Parameter(max_length=500, description="why the month is re-opened")]


class MonthCloses(msgspec.Struct):
    month: str
    closed: bool  # the last close stands (not re-opened)
    closes: list[closing.CloseRecord]  # oldest first
    after_close: list[AfterClose]  # facts of the month recorded while it stood closed


def _closes(service: Service, month: str) -> MonthCloses:
    closes = closing.history(service.ledger, month)
    closed = bool(closes) and closes[-1].reopened_at is None
    return MonthCloses(month, closed, closes, after_close(service.ledger, service.views, month))


def _patients(answer: MonthCloses) -> list[str]:
    return [c.patient_id for r in answer.closes for c in r.content.claims] + [r.patient_id for r in answer.after_close]


@get("/closes", opt={"roles": {"compliance", "auditor"}}, sync_to_thread=True)
def get_closes(request: Request[Any, Any, Any], month: Month) -> Response[MonthCloses]:
    """A month's signed closes (what was billed, the totals, the chain position signed, and
    whether each signature verifies), its re-opens with their reasons, and the facts recorded
    for it after a close."""
    service = service_of(request)
    answer = _closes(service, month)
    service.read(request, _patients(answer))
    return Response(answer)


@post("/close", opt={"roles": {"admin"}}, status_code=200, sync_to_thread=True)
def post_close(request: Request[Any, Any, Any], month: Month, reopen: Reopen = False,
               reason: Reason = None) -> Response[MonthCloses]:  # fmt: skip
    """Close the month, signed with the server's close key; `reopen=true&reason=...` re-opens
    a closed month instead. 409 when the month is closed already (or, to re-open, not closed)."""
    if reopen != (reason is not None):
        raise HTTPException(status_code=400, detail="reopen=true and reason go together")
    service = service_of(request)
    key = request.state["key"]
    try:
        signing = None if reopen else closing.load_key(closing.key_path(None))
    except closing.KeyProblem:
        raise HTTPException(
            status_code=409, detail=f"no usable close key: set {closing.KEY_ENV} on the server"
        ) from None

    def patients_of(m: str) -> list[str]:
        service.refresh()  # after the chain's tip was read: the views hold at least what it covers
        return reads.patients(service.ledger, service.views, m, refresh=False)

    try:
        with service.writing:
            if signing is None:
                closing.reopen(service.ledger, month, reason or "", f"api:{key.id}")
            else:
                closing.close(service.ledger, patients_of, month, signing, DEFAULT_FEES, f"api:{key.id}")
    except CloseRefused as e:
        raise HTTPException(status_code=422 if isinstance(e, BadReason) else 409, detail=str(e)) from None
    service.refresh()
    answer = _closes(service, month)
    service.read(request, _patients(answer))
    return Response(answer)


ROUTES = [get_closes, post_close]
