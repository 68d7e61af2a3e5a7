"""The revenue cycle on the biller's month: the month's 837P downloaded from the page (the
export `GET /export/837` and `carelane export-837` make, recorded as a batch), and the month's
denials (projections.denials) under the worklist.

The API's export needs an API key in a header, which a browser signed in with a session does
not send; the page therefore posts a form (with its CSRF token: an export records a batch) to
a route of its own that runs the same export. A test file (ISA15 T) is the default and leaves
its claims due; a production file marks them exported. An export that cannot be made returns
to the month page with the reasons, once.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Request, Response, Router, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException
from litestar.params import Body
from litestar.response import Redirect

from adapters import exporting, reads
from adapters.http_service import Service, service_of
from adapters.web import pages, session as signin
from adapters.web.errors import HANDLERS
from adapters.web.render import HEADERS
from domain.catalog import DEFAULT_FEES
from projections.denials import DenialRow, denials

BILLER = {"web_roles": {"biller"}}
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
# A claim with no answer from the payer yet cannot be a denial: its patient is not replayed.
UNANSWERED = frozenset({"accepted", "exported", "acknowledged", "rejected", "voided"})
MAX_PROBLEMS = 20


class ExportForm(msgspec.Struct):
    csrf_token: str = ""
    month: str = ""
    production: str = ""  # "true" for a production file
    back: str = ""  # the month page's query string


def flash_key(month: str) -> str:
    return f"export:{month}"


def denied(service: Service, lines: list[pages.Line], month: str) -> list[DenialRow]:
    """The month's denied, partly paid, reversed and underpaid claims among the rows shown."""
    answered = [line.row.patient_id for line in lines if any(c.status not in UNANSWERED for c in line.row.claimed)]
    return denials(service.ledger, answered, month) if answered else []


def _back(query: str, month: str) -> str:
    kept = {k: v for k, v in parse_qsl(query) if k in ("month", *pages.FILTERS)}
    return "/app/month?" + urlencode(kept or {"month": month})


@post("/app/month/837", opt=BILLER, sync_to_thread=True)
def export_837(request: Request[Any, Any, Any], data: Annotated[ExportForm, FORM]) -> Response[Any]:
    """The month's due claims as an X12 837P download, or the page again with why not."""
    signin.check_csrf(request, data.csrf_token)
    if not pages.MONTH.match(data.month):
        raise HTTPException(status_code=400, detail="month: expected a month such as 2026-03")
    session = signin.current(request)
    service = service_of(request)
    production = data.production == "true"
    patients = reads.patients(service.ledger, service.views, data.month, refresh=False)
    try:
        with service.writing:
            done = exporting.export(service.ledger, patients, data.month, DEFAULT_FEES, production=production)
        service.refresh()
    except exporting.ExportRefused as e:
        done, problems = None, e.problems[:MAX_PROBLEMS]
    else:
        problems = [] if done else [f"no claim of {data.month} is due: every accepted claim has been sent"]
    if done is None:
        session.flash[flash_key(data.month)] = problems
        return Redirect(_back(data.back, data.month), status_code=303, headers=HEADERS)
    service.read(request, patients)
    kind = "production" if production else "test"
    name = f"837P-{data.month}-{done.batch_id}-{kind}.x12"
    headers = HEADERS | {"Content-Disposition": f'attachment; filename="{name}"', "X-Batch-Id": done.batch_id}
    return Response(done.text, status_code=200, media_type="application/edi-x12", headers=headers)


REVENUE = Router("/", route_handlers=[export_837], guards=[signin.session_guard], exception_handlers=HANDLERS,
                 include_in_schema=False)  # fmt: skip
ROUTES = [REVENUE]
