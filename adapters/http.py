"""The HTTP API (Litestar, msgspec schemas): the command line's operations for systems.

Every request needs an API key (`X-API-Key`, or `Authorization: Bearer`) except /health and
the OpenAPI document; each route names the roles that may call it (401 without a valid key,
403 for a role that may not). Every request is logged with the key's id and role, never the
key. Bad input gets a 4xx naming the problem; a failed request records nothing partially
(each fact line is its own transaction, as on the command line).
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar, cast

import anyio.to_thread
import msgspec
import structlog
from litestar import Litestar, MediaType, Request, Response, concurrency, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import FromPath, FromQuery, QueryParameter

from adapters import audit_html, reads, routing
from adapters.access import Access
from adapters.http_admission import Door
from adapters.http_close import ROUTES as CLOSE_ROUTES
from adapters.http_devices import post_readings
from adapters.http_eligible import ROUTES as ELIGIBLE_ROUTES
from adapters.http_pace import ROUTES as PACE_ROUTES
from adapters.http_revenue import REVENUE_ROUTES
from adapters.http_self_audit import ROUTES as SELF_AUDIT_ROUTES
from adapters.http_service import (
    Service,
    bad_request,
    internal_error,
    practice_named,
    request_log,
    service_of,
    too_large,
)
from adapters.http_tenants import Tenancy, practice_paths
from adapters.http_timeouts import header_timeout
from adapters.ingest import BATCH, CLAIM_FACTS, NOT_CLAIMS, LineResult, ingest
from adapters.web.app import ROUTES as WEB_ROUTES
from domain import facts
from domain.reasons import Reason
from domain.rules.assess import WorklistRow
from projections import audit
from projections.events import EventRow, Query, events
from projections.refusals import RefusalRow

log = structlog.get_logger("carelane.http")
T = TypeVar("T")
MONTH = facts.MONTH_PATTERN
DAY = r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
Month = Annotated[str, QueryParameter(pattern=MONTH, description="YYYY-MM")]
MAX_BODY = 20 * 1024 * 1024
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Health(msgspec.Struct):
    status: str
    position: int


class Problem(msgspec.Struct):
    status_code: int
    detail: str


async def roles_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Async so that a route needing no key (/health, the schema) is answered without a trip
    to a worker thread: a sync guard waits in the workers' queue, behind every request
    already there (measured: /health waited up to 500 ms behind a burst of 100)."""
    allowed = handler.opt.get("roles")
    if allowed is not None:
        await concurrency.sync_to_thread(_check_key, connection, allowed)


def _check_key(connection: ASGIConnection[Any, Any, Any, Any], allowed: set[str]) -> None:
    """The key's lookup may read the store: run in a worker thread."""
    header = connection.headers.get("x-api-key") or ""
    auth = connection.headers.get("authorization") or ""
    token = header or (auth[7:] if auth.lower().startswith("bearer ") else "")
    if not token:
        raise NotAuthorizedException("a valid API key is required (X-API-Key header)")
    key = connection.app.state["tenancy"].key(practice_named(connection), token)
    connection.state["key"] = key
    if key.role not in allowed and key.role != "admin":
        raise PermissionDeniedException(f"role {key.role} may not call this; needs one of {', '.join(sorted(allowed))}")


async def _body(request: Request[Any, Any, Any]) -> bytes:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status_code=413, detail=f"body over {MAX_BODY} bytes; send several requests")
    return body


def _lines(body: bytes) -> list[bytes]:
    """NDJSON lines, or the items of a JSON array (in the worker thread: a large array
    decoded on the event loop would hold every other connection)."""
    if body.lstrip()[:1] == b"[":
        try:
            items = msgspec.json.decode(body)
        except msgspec.DecodeError as e:
            raise HTTPException(status_code=400, detail=f"body: not a JSON array ({e})") from None
        return [msgspec.json.encode(item) for item in items]
    return body.splitlines()


def _json(value: T) -> Response[T]:
    """The answer encoded here, in the handler's worker thread: a large one encoded on the
    event loop (30,000 line answers, a year of events) would hold /health, and every other
    connection, until it was done."""
    return Response(cast(T, msgspec.json.encode(value)), media_type=MediaType.JSON)


async def _answer(
    request: Request[Any, Any, Any], body: bytes, only: tuple[type[facts.Fact], ...]
) -> Response[list[LineResult]]:
    """Record the lines in a worker thread (the event loop keeps answering), then bring the
    views up to date so the next read sees them."""
    service = service_of(request)
    practice = request.app.state["tenancy"].practice_of(practice_named(request))

    def record() -> Response[list[LineResult]]:
        lines = _lines(body)
        # The body's lines are the submission: the same body sent again (a retry after a
        # lost answer) gets the same answers (domain.answered).
        submission = hashlib.sha256(b"\n".join(lines)).hexdigest()[:32]
        results: list[LineResult] = []
        own = routing.own_lines(lines, practice, results.append)  # each line's practice_id: this one
        with service.writing:
            ingest(service.ledger, own, results.append, only, BATCH, submission)
        results.sort(key=lambda r: r.line)
        service.metrics.answered(results)
        service.refresh()
        return _json(results)

    return await anyio.to_thread.run_sync(record)


@post("/facts", opt={"roles": {"recorder", "biller"}}, status_code=200, summary="Record facts (NDJSON or a JSON array)")
async def post_facts(request: Request[Any, Any, Any]) -> Response[list[LineResult]]:
    """One answer per line, exactly as `carelane ingest --report`. Claim facts (submitted,
    adjudicated, voided) are the biller's, and the record's facts the recorder's: a line of
    the other kind is answered invalid, naming the role it needs."""
    role = request.state["key"].role
    only = {"admin": (), "biller": CLAIM_FACTS}.get(role, NOT_CLAIMS)
    return await _answer(request, await _body(request), only)


@post("/claims", opt={"roles": {"biller"}}, status_code=200, summary="Submit claims through the gate")
async def post_claims(request: Request[Any, Any, Any]) -> Response[list[LineResult]]:
    """ClaimSubmitted lines only; each is accepted whole or refused with every reason."""
    return await _answer(request, await _body(request), (facts.ClaimSubmitted,))


@get("/worklist", opt={"roles": {"biller"}}, sync_to_thread=True)
def get_worklist(
    request: Request[Any, Any, Any], month: Month, provider: FromQuery[str | None] = None
) -> Response[list[WorklistRow]]:
    service = service_of(request)
    rows = reads.worklist(service.ledger, service.views, month, provider, refresh=False)
    service.read(request, (row.patient_id for row in rows))
    return _json(rows)


@get("/refusals", opt={"roles": {"compliance"}}, sync_to_thread=True)
def get_refusals(
    request: Request[Any, Any, Any],
    month: Annotated[str | None, QueryParameter(pattern=MONTH)] = None,
    reason: FromQuery[Reason | None] = None,
) -> Response[list[RefusalRow]]:
    service = service_of(request)
    rows = reads.refusals(service.ledger, service.views, month, reason.value if reason else None, refresh=False)
    service.read(request, (row.patient_id for row in rows))
    return _json(rows)


@get("/events", opt={"roles": {"auditor", "compliance"}}, sync_to_thread=True)
def get_events(
    request: Request[Any, Any, Any],
    patient: FromQuery[str | None] = None,
    fact_type: Annotated[list[str] | None, QueryParameter(name="type")] = None,
    first: Annotated[str | None, QueryParameter(name="from", pattern=DAY)] = None,
    last: Annotated[str | None, QueryParameter(name="to", pattern=DAY)] = None,
    recorded_after: FromQuery[datetime | None] = None,
    late: FromQuery[bool] = False,
) -> Response[list[EventRow]]:
    unknown = sorted(set(fact_type or ()) - facts.FACT_TYPE_NAMES)
    if unknown:
        raise HTTPException(status_code=400, detail=f"type: unknown fact types {unknown}")
    if recorded_after is not None and recorded_after.tzinfo is None:
        raise HTTPException(status_code=400, detail="recorded_after: needs an offset")
    service = service_of(request)
    after = recorded_after.astimezone(UTC).isoformat() if recorded_after else None
    query = Query(patient, tuple(fact_type or ()), first, last, after, late)
    rows = list(events(service.ledger, service.views, query))
    service.read(request, (row.patient_id for row in rows))
    return _json(rows)


@get("/audit/{patient_id:str}", opt={"roles": {"auditor", "compliance"}}, sync_to_thread=True)
def get_audit(
    request: Request[Any, Any, Any],
    patient_id: FromPath[str],
    first: Annotated[str, QueryParameter(name="from", pattern=MONTH)],
    last: Annotated[str, QueryParameter(name="to", pattern=MONTH)],
    as_of: FromQuery[datetime | None] = None,
) -> Response[Any]:
    """The record packet: JSON, or a printable page with `Accept: text/html`."""
    if last < first:
        raise HTTPException(status_code=400, detail="to: before from")
    if as_of is not None and as_of.tzinfo is None:
        raise HTTPException(status_code=400, detail="as_of: needs an offset")
    service = service_of(request)
    try:
        packet = audit.packet(service.ledger, patient_id, first, last, as_of)
    except audit.NotFound as e:
        raise NotFoundException(str(e)) from None
    except audit.FutureInstant as e:
        raise HTTPException(status_code=400, detail=f"as_of: {e}") from None
    service.read(request, [patient_id])
    if "text/html" in (request.headers.get("accept") or ""):
        return Response(audit_html.render(packet), media_type=MediaType.HTML)
    return Response(msgspec.json.encode(packet), media_type=MediaType.JSON)


@get("/access", opt={"roles": {"compliance"}}, sync_to_thread=True)
def get_access(
    request: Request[Any, Any, Any], patient: FromQuery[str | None] = None, since: FromQuery[datetime | None] = None
) -> Response[list[Access]]:
    """The access log: who read which patient's record, by which route, when (45 CFR
    164.312(b)). Reading it is not itself logged per patient."""
    if since is not None and since.tzinfo is None:
        raise HTTPException(status_code=400, detail="since: needs an offset")
    return _json(service_of(request).access.of(patient, since.astimezone(UTC).isoformat() if since else None))


@get("/metrics", opt={"roles": {"admin"}}, sync_to_thread=True, media_type=METRICS_TYPE)
def get_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus text format: requests and latency by route, facts and refusal reasons,
    projection lag, the chain's tip. Admin only."""
    return Response(service_of(request).metrics.text(), media_type=METRICS_TYPE)


@get("/health", sync_to_thread=False)
def health(request: Request[Any, Any, Any]) -> Health:
    """Answered on the event loop from memory, never waiting for the store: the log's end as
    of the views' last catch-up."""
    return Health("ok", request.app.state["tenancy"].position())


ROUTES: list[Any] = [  # Any: the route modules' lists mix handler kinds Litestar's stubs name apart
    post_facts, post_claims, get_worklist, get_refusals, get_events, get_audit, *REVENUE_ROUTES, *PACE_ROUTES,
    *CLOSE_ROUTES, *SELF_AUDIT_ROUTES, *ELIGIBLE_ROUTES, post_readings, get_access, get_metrics, health, *WEB_ROUTES,
]  # fmt: skip


def create_app(url: str | None = None, practice: str | None = None) -> Litestar:
    """The API on the store at `url`; where it is a billing company's home store, on every
    practice in its catalog, each under `/practices/{id}` (adapters.http_tenants)."""
    tenants = Tenancy(url, practice)
    if concurrency.get_asyncio_executor() is None:  # Litestar's sync handlers and guards run here,
        # not under anyio's limiter: Service.WORKERS bounds them only through this executor
        concurrency.set_asyncio_executor(ThreadPoolExecutor(Service.WORKERS, thread_name_prefix="carelane-worker"))
    app = Litestar(
        route_handlers=ROUTES,
        guards=[roles_guard],
        state=State({"tenancy": tenants}),
        middleware=[request_log],
        request_max_body_size=MAX_BODY,  # Litestar's own default is 10 MB
        exception_handlers={500: internal_error, 400: bad_request, 413: too_large},
        on_startup=[tenants.start],
        on_shutdown=[tenants.stop],
        openapi_config=OpenAPIConfig(
            title="Carelane",
            version="0.1.0",
            description="Compliance ledger for Medicare care-management billing",
            components=Components(
                security_schemes={
                    "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header")
                }
            ),
            security=[{"apiKey": []}],
        ),
    )
    # the prefix comes off before routing; the door is outermost (adapters.http_admission)
    app.asgi_handler = Door(practice_paths(app.asgi_handler), 2 * Service.WORKERS, MAX_BODY, header_timeout())
    return app
