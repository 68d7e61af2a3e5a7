"""The HTTP API (Litestar, msgspec schemas): the command line's operations for systems.

Every request needs an API key (`X-API-Key`, or `Authorization: Bearer`) except /health and
the OpenAPI document; each route names the roles that may call it (401 without a valid key,
403 for a role that may not). Every request is logged with the key's id and role, never the
key. Bad input gets a 4xx naming the problem; a failed request records nothing partially
(each fact line is its own transaction, as on the command line).
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio.to_thread
import msgspec
import structlog
from litestar import Litestar, MediaType, Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.config import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.params import Parameter

from adapters import audit_html, reads, x12
from adapters.ingest import BATCH, CLAIM_FACTS, NOT_CLAIMS, LineResult, ingest
from adapters.keys import Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from domain import facts
from domain.catalog import DEFAULT_FEES
from domain.ledger import Ledger
from domain.reasons import Reason
from domain.rules.assess import WorklistRow
from projections import audit, runner, views
from projections.events import EventRow, Query, events
from projections.refusals import RefusalRow
from projections.runner import ViewDB

log = structlog.get_logger("carelane.http")
MONTH = facts.MONTH_PATTERN
DAY = r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$"
Month = Annotated[str, Parameter(pattern=MONTH, description="YYYY-MM")]
MAX_BODY = 20 * 1024 * 1024


class Health(msgspec.Struct):
    status: str
    position: int


class Problem(msgspec.Struct):
    status_code: int
    detail: str


class Service:
    """What the handlers share: one ledger (its recorder pools connections across threads),
    and per thread a connection to the views and the key store. Handlers run in worker
    threads, never on the event loop, so /health answers while a large POST is recorded.
    Reads never write: the views are brought up to date by the writes that change them
    (after each POST) and by a follower thread for writes from other processes."""

    FOLLOW_EVERY = 2.0  # seconds between the follower's catch-ups
    # Worker threads at once: within the store's connection pool (the library's SQLite pool
    # holds 15, PostgreSQL's more), so a burst waits for a thread, never for a connection.
    WORKERS = 4

    def __init__(self, url: str | None) -> None:
        self.url = url
        self.ledger: Ledger = open_ledger(url)
        self._local = threading.local()
        self._refreshing = threading.Lock()
        self.writing = threading.Lock()  # one POST records at a time (SQLite has one writer)
        self._stop = threading.Event()
        self.position = 0  # the log's end as of the last catch-up (what /health reports)
        runner.create(self.views, views.ALL)
        Keys(self.views)  # creates the key table once, here; threads only read it
        self.refresh()

    @property
    def views(self) -> ViewDB:
        db: ViewDB | None = getattr(self._local, "views", None)
        if db is None:
            db = self._local.views = open_views(self.ledger, self.url)
        return db

    @property
    def keys(self) -> Keys:
        found: Keys | None = getattr(self._local, "keys", None)
        if found is None:
            found = self._local.keys = Keys(self.views, create=False)
        return found

    def refresh(self) -> None:
        """Bring the views to the log's end; one catch-up at a time (a second waits)."""
        with self._refreshing:
            runner.catch_up(self.ledger, self.views, views.ALL)
            self.position = self.ledger.recorder.max_notification_id() or 0

    def follow(self) -> None:
        while not self._stop.wait(self.FOLLOW_EVERY):
            try:
                self.refresh()
            except Exception:  # a failed catch-up is retried at the next tick; say so
                log.exception("http.follower_failed")

    def start(self) -> None:
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.WORKERS
        threading.Thread(target=self.follow, name="carelane-follower", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()


def _service(request: Request[Any, Any, Any]) -> Service:
    return request.app.state["service"]  # type: ignore[no-any-return]  # State is untyped


def roles_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    allowed = handler.opt.get("roles")
    if allowed is None:
        return
    header = connection.headers.get("x-api-key") or ""
    auth = connection.headers.get("authorization") or ""
    token = header or (auth[7:] if auth.lower().startswith("bearer ") else "")
    key = connection.app.state["service"].keys.check(token) if token else None
    if key is None:
        raise NotAuthorizedException("a valid API key is required (X-API-Key header)")
    connection.state["key"] = key
    if key.role not in allowed and key.role != "admin":
        raise PermissionDeniedException(f"role {key.role} may not call this; needs one of {', '.join(sorted(allowed))}")


async def _lines(request: Request[Any, Any, Any]) -> list[bytes]:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(status_code=413, detail=f"body over {MAX_BODY} bytes; send several requests")
    if body.lstrip()[:1] == b"[":
        try:
            items = msgspec.json.decode(body)
        except msgspec.DecodeError as e:
            raise HTTPException(status_code=400, detail=f"body: not a JSON array ({e})") from None
        return [msgspec.json.encode(item) for item in items]
    return body.splitlines()


async def _answer(
    request: Request[Any, Any, Any], lines: list[bytes], only: tuple[type[facts.Fact], ...]
) -> list[LineResult]:
    """Record the lines in a worker thread (the event loop keeps answering), then bring the
    views up to date so the next read sees them."""
    service = _service(request)

    def record() -> list[LineResult]:
        results: list[LineResult] = []
        with service.writing:
            ingest(service.ledger, lines, results.append, only, batch=BATCH)
        service.refresh()
        return results

    return await anyio.to_thread.run_sync(record)


@post("/facts", opt={"roles": {"recorder", "biller"}}, status_code=200, summary="Record facts (NDJSON or a JSON array)")
async def post_facts(request: Request[Any, Any, Any]) -> list[LineResult]:
    """One answer per line, exactly as `carelane ingest --report`. Claim facts (submitted,
    adjudicated, voided) are the biller's, and the record's facts the recorder's: a line of
    the other kind is answered invalid, naming the role it needs."""
    role = request.state["key"].role
    only = {"admin": (), "biller": CLAIM_FACTS}.get(role, NOT_CLAIMS)
    return await _answer(request, await _lines(request), only)


@post("/claims", opt={"roles": {"biller"}}, status_code=200, summary="Submit claims through the gate")
async def post_claims(request: Request[Any, Any, Any]) -> list[LineResult]:
    """ClaimSubmitted lines only; each is accepted whole or refused with every reason."""
    return await _answer(request, await _lines(request), (facts.ClaimSubmitted,))


@get("/worklist", opt={"roles": {"biller"}}, sync_to_thread=True)
def get_worklist(request: Request[Any, Any, Any], month: Month, provider: str | None = None) -> list[WorklistRow]:
    service = _service(request)
    return reads.worklist(service.ledger, service.views, month, provider, refresh=False)


@get("/refusals", opt={"roles": {"compliance"}}, sync_to_thread=True)
def get_refusals(
    request: Request[Any, Any, Any],
    month: Annotated[str | None, Parameter(pattern=MONTH)] = None,
    reason: Reason | None = None,
) -> list[RefusalRow]:
    service = _service(request)
    return reads.refusals(service.ledger, service.views, month, reason.value if reason else None, refresh=False)


@get("/events", opt={"roles": {"auditor", "compliance"}}, sync_to_thread=True)
def get_events(
    request: Request[Any, Any, Any],
    patient: str | None = None,
    fact_type: Annotated[list[str] | None, Parameter(query="type")] = None,
    first: Annotated[str | None, Parameter(query="from", pattern=DAY)] = None,
    last: Annotated[str | None, Parameter(query="to", pattern=DAY)] = None,
    recorded_after: datetime | None = None,
    late: bool = False,
) -> list[EventRow]:
    unknown = sorted(set(fact_type or ()) - facts.FACT_TYPE_NAMES)
    if unknown:
        raise HTTPException(status_code=400, detail=f"type: unknown fact types {unknown}")
    if recorded_after is not None and recorded_after.tzinfo is None:
        raise HTTPException(status_code=400, detail="recorded_after: needs an offset")
    service = _service(request)
    after = recorded_after.astimezone(UTC).isoformat() if recorded_after else None
    query = Query(patient, tuple(fact_type or ()), first, last, after, late)
    return list(events(service.ledger, service.views, query))


@get("/audit/{patient_id:str}", opt={"roles": {"auditor", "compliance"}}, sync_to_thread=True)
def get_audit(
    request: Request[Any, Any, Any],
    patient_id: str,
    first: Annotated[str, Parameter(query="from", pattern=MONTH)],
    last: Annotated[str, Parameter(query="to", pattern=MONTH)],
    as_of: datetime | None = None,
) -> Response[Any]:
    """The record packet: JSON, or a printable page with `Accept: text/html`."""
    if last < first:
        raise HTTPException(status_code=400, detail="to: before from")
    if as_of is not None and as_of.tzinfo is None:
        raise HTTPException(status_code=400, detail="as_of: needs an offset")
    try:
        packet = audit.packet(_service(request).ledger, patient_id, first, last, as_of)
    except audit.NotFound as e:
        raise NotFoundException(str(e)) from None
    if "text/html" in (request.headers.get("accept") or ""):
        return Response(audit_html.render(packet), media_type=MediaType.HTML)
    return Response(packet, media_type=MediaType.JSON)


@get("/export/837", opt={"roles": {"biller"}}, sync_to_thread=True, media_type=MediaType.TEXT)
def get_837(request: Request[Any, Any, Any], month: Month) -> str:
    """The X12 837P of the month's accepted, unpaid claims (validated with pyx12)."""
    service = _service(request)
    claims = x12.claims_for(service.ledger, reads.patients(service.ledger, service.views, month, refresh=False), month)
    if not claims:
        raise NotFoundException(f"no accepted, unpaid claims for {month}")
    now = datetime.now().astimezone()
    text = x12.build(claims, DEFAULT_FEES, x12.Profile(), {}, int(now.timestamp()) % 1_000_000_000, now)
    problems = x12.validate(text)
    if problems:
        raise HTTPException(status_code=422, detail="837P failed X12 validation: " + "; ".join(problems[:5]))
    return text


@get("/health", sync_to_thread=False)
def health(request: Request[Any, Any, Any]) -> Health:
    """Answered on the event loop from memory, never waiting for the store: the log's end as
    of the views' last catch-up."""
    return Health("ok", _service(request).position)


def _internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every 500 is logged with the request's id (and the client told it), never with a
    traceback in the answer or PHI in the log."""
    request_id = request.scope.get("state", {}).get("request_id")
    log.error("http.internal_error", request_id=request_id, error=type(exc).__name__,
              route=request.scope.get("path_template"))  # fmt: skip
    detail = {"status_code": 500, "detail": "internal error; quote the request id", "request_id": request_id}
    return Response(detail, status_code=500, media_type=MediaType.JSON)


def create_app(url: str | None = None) -> Litestar:
    service = Service(url)

    return Litestar(
        route_handlers=[post_facts, post_claims, get_worklist, get_refusals, get_events, get_audit, get_837, health],
        guards=[roles_guard],
        state=State({"service": service}),
        middleware=[_request_log],
        exception_handlers={500: _internal_error},
        on_startup=[lambda: service.start()],
        on_shutdown=[lambda: service.stop()],
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


def _request_log(app: Any) -> Any:
    """ASGI middleware: one log line per request with the key's id and role (never the key)."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started, status = time.perf_counter(), [0]
        request_id = uuid.uuid4().hex[:16]
        scope.setdefault("state", {})["request_id"] = request_id

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            key = scope.get("state", {}).get("key")
            handler = scope.get("route_handler")
            params = scope.get("path_params") or {}
            log.info(
                "http.request",
                request_id=request_id,
                method=scope["method"],
                # The route, not the path: a path can carry a patient id, kept as a hash below.
                path=min(handler.paths) if handler is not None and handler.paths else "(no route)",
                patient_id=params.get("patient_id"),
                status=status[0],
                key_id=key.id if key else None,
                role=key.role if key else None,
                ms=round((time.perf_counter() - started) * 1000, 1),
            )

    return middleware
