"""What the HTTP handlers share, and the access log and error answers around them."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import anyio.to_thread
import structlog
from litestar import MediaType, Request, Response
from litestar.connection import ASGIConnection
from litestar.exceptions import HTTPException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from adapters import chain
from adapters.access import AccessLog
from adapters.claim_index import ClaimIndex
from adapters.keys import Keys
from adapters.lines import in_words
from adapters.metrics import Metrics
from adapters.store import open_ledger
from adapters.viewdb import open_views
from domain.ledger import Ledger
from projections import runner, views
from projections.runner import ViewDB

log = structlog.get_logger("carelane.http")
T = TypeVar("T")


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
        self._opening = threading.Lock()
        self._opened: list[ViewDB] = []  # every thread's views connection, closed at shutdown
        self._threads: list[threading.Thread] = []  # the follower and the reconciler
        self.position = 0  # the log's end as of the last catch-up (what /health reports)
        runner.create(self.views, views.ALL)
        Keys(self.views)  # creates the key table once, here; threads only read it
        AccessLog(self.views)  # likewise the access log's table
        self.metrics = Metrics(self._positions)
        self.refresh()

    @property
    def views(self) -> ViewDB:
        return self._per_thread("views", self._open_views)

    def _open_views(self) -> ViewDB:
        db = open_views(self.ledger, self.url)
        with self._opening:
            self._opened.append(db)
        return db

    @property
    def keys(self) -> Keys:
        return self._per_thread("keys", lambda: Keys(self.views, create=False))

    @property
    def access(self) -> AccessLog:
        return self._per_thread("access", lambda: AccessLog(self.views, create=False))

    def _per_thread(self, name: str, make: Callable[[], T]) -> T:
        """One of each per worker thread: a connection is never shared across threads."""
        found: T | None = getattr(self._local, name, None)
        if found is None:
            found = make()
            setattr(self._local, name, found)
        return found

    def read(self, request: Any, patients: Iterable[str]) -> None:
        """Record that the request's key read these patients' records (adapters.access)."""
        key = request.state["key"]
        handler = request.scope.get("route_handler")
        route = min(handler.paths) if handler is not None and handler.paths else request.url.path
        self.access.record(key.id, key.role, f"{request.method} {route}", patients)

    def _positions(self) -> tuple[int, int, int]:
        """For /metrics: the log's end, the views' position, the chain's tip."""
        log_end = self.ledger.recorder.max_notification_id() or 0
        return log_end, self.position, chain.tip(self.ledger.recorder).position

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
        """On the event loop, at start-up: the worker threads' limit, and the follower."""
        anyio.to_thread.current_default_thread_limiter().total_tokens = self.WORKERS
        self.start_following()

    def start_following(self) -> None:
        threads = [threading.Thread(target=self.follow, name="carelane-follower", daemon=True)]
        if isinstance(self.ledger.elsewhere, ClaimIndex):  # holds lost to a crash, released as it runs
            args = (self.ledger, self._stop)
            threads.append(threading.Thread(target=self.ledger.elsewhere.keep_reconciled, args=args, daemon=True))
        for thread in threads:
            thread.start()
        self._threads += threads

    def halt(self) -> None:
        """Tell the background threads to stop (Tenancy.stop tells every practice's first)."""
        self._stop.set()

    def stop(self) -> None:
        """At shutdown: the background threads stop and are waited for, then every
        connection is closed (a server that stops must not leave PostgreSQL clients behind,
        nor close a connection under a catch-up)."""
        self.halt()
        for thread in self._threads:
            thread.join(timeout=30)
        with self._opening:
            opened, self._opened = self._opened, []
        for db in opened:
            db.close()
        self._local = threading.local()
        self.ledger.close()


def service_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Service:
    """The service of the practice a request is for (adapters.http_tenants; a Request is an
    ASGIConnection)."""
    return connection.app.state["tenancy"].service(practice_named(connection))  # type: ignore[no-any-return]


def practice_named(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The practice in the request's `/practices/{id}` prefix, if it had one."""
    return connection.scope.get("state", {}).get("practice")


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Every 500 is logged with the request's id (and the client told it), never with a
    traceback in the answer or PHI in the log."""
    request_id = request.scope.get("state", {}).get("request_id")
    log.error("http.internal_error", request_id=request_id, error=type(exc).__name__,
              route=request.scope.get("path_template"))  # fmt: skip
    detail = {"status_code": 500, "detail": "internal error; quote the request id", "request_id": request_id}
    return Response(detail, status_code=500, media_type=MediaType.JSON)


def bad_request(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A 400 that says what each parameter needs in words: never a regex, and never the
    query string back (it may hold a patient id)."""
    extra = getattr(exc, "extra", None) or []
    problems = [
        {"key": str(x.get("key", "")), "message": in_words(str(x.get("message", "")).replace("`", ""))}
        for x in (extra if isinstance(extra, list) else [])
        if isinstance(x, dict)
    ]
    detail = {"status_code": 400, "detail": f"bad request to {request.url.path}", "extra": problems}
    if not problems:
        detail["detail"] = in_words(str(getattr(exc, "detail", "bad request")))
    return Response(detail, status_code=400, media_type=MediaType.JSON)


def too_large(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """A 413 that gives the route's limit, so a client knows how far to split its batch."""
    said = str(getattr(exc, "detail", ""))
    if not isinstance(exc, RequestEntityTooLarge):  # a route's own 413 says its own limit
        return Response({"status_code": 413, "detail": said}, status_code=413, media_type=MediaType.JSON)
    limit = request.route_handler.resolve_request_max_body_size()
    if not limit:
        return Response({"status_code": 413, "detail": said}, status_code=413, media_type=MediaType.JSON)
    size = f"{limit / 2**20:g} MB" if limit >= 2**20 else f"{limit} bytes"
    detail = {
        "status_code": 413,
        "detail": f"body over {size}, the limit for {request.url.path}; send several requests",
    }
    return Response(detail, status_code=413, media_type=MediaType.JSON)


def request_log(app: Any) -> Any:
    """ASGI middleware: one log line per request with the key's id and role (never the key)."""

    async def middleware(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        started, status = state.get("arrived") or time.perf_counter(), [0]  # from arrival at the door
        request_id = uuid.uuid4().hex[:16]
        state["request_id"] = request_id

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", request_id.encode()))
            await send(message)

        try:
            await app(scope, receive, capture)
        finally:
            key = scope.get("state", {}).get("key")
            handler, params = scope.get("route_handler"), scope.get("path_params") or {}
            seconds = time.perf_counter() - started
            route = min(handler.paths) if handler is not None and handler.paths else "(no route)"
            _measured(scope, route, status[0], seconds)
            log.info(
                "http.request",
                request_id=request_id,
                method=scope["method"],
                # The route, not the path: a path can carry a patient id, kept as a hash below.
                path=route,
                patient_id=params.get("patient_id"),
                status=status[0],
                key_id=key.id if key else None,
                role=key.role if key else None,
                ms=round(seconds * 1000, 1),
            )

    return middleware


def _measured(scope: Any, route: str, status: int, seconds: float) -> None:
    tenants = scope["app"].state.get("tenancy") if "app" in scope else None
    if tenants is None:
        return
    try:
        service = tenants.service(scope.get("state", {}).get("practice"))
    except HTTPException:
        return  # a request for no practice here: nothing to count it against
    service.metrics.request(scope["method"], route, status, seconds)
