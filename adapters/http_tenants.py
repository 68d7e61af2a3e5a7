"""The HTTP API across practices: `/practices/{id}/...` is any route for that practice; a
route without the prefix is for the only practice (or the one `serve --practice` names).
Each practice has its own Service (ledger, views, keys, access log, follower), made on its
first request; a key reaches its own practice, or the practices a billing company's key was
given, and gets 403 on any other."""

from __future__ import annotations

import threading
from typing import Any

import anyio.to_thread
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException, PermissionDeniedException

from adapters import tenancy
from adapters.http_prefix import prefixed
from adapters.http_service import Service
from adapters.keys import KeyInfo, split_token
from adapters.store import store_url
from adapters.tenant_keys import SpanningKeys
from adapters.tenants import Catalog, Tenant, TenantError, no_practice

PREFIX = "/practices/"


class Tenancy:
    def __init__(self, home: str | None, practice: str | None = None, *, service: Service | None = None) -> None:
        """The practices of the home store; `service`: one ledger's service, as it is."""
        self.home, self.named = home, practice
        self._lock = threading.Lock()
        self._services: dict[str | None, Service] = {} if service is None else {None: service}
        self._started = False
        self.catalog = None if service is not None else Catalog.open(store_url(home))
        self.tenants = self._tenants()
        if not self.tenants and service is None:
            self._services[None] = Service(home)  # one practice's ledger, as before tenancy
        elif practice is not None and practice not in self.tenants:
            raise TenantError(no_practice(practice))
        self.spanning = None if self.catalog is None else SpanningKeys(self.catalog.db)

    def _tenants(self) -> dict[str, Tenant]:
        return {} if self.catalog is None else {t.practice_id: t for t in self.catalog.tenants()}

    def practice_of(self, named: str | None) -> str | None:
        """The practice a request is for: its prefix, `serve --practice`, or the only one."""
        if not self.tenants:
            if named is not None:
                raise NotFoundException(no_practice(named))
            return None
        chosen = named or self.named or (next(iter(self.tenants)) if len(self.tenants) == 1 else None)
        if chosen is None:
            raise HTTPException(status_code=400, detail="this server serves several practices: use /practices/{id}/...")
        if chosen not in self.tenants:
            with self._lock:
                self.tenants = self._tenants()  # added since start-up?
            if chosen not in self.tenants:
                raise NotFoundException(no_practice(chosen))
        return chosen

    def service(self, named: str | None) -> Service:
        practice = self.practice_of(named)
        found = self._services.get(practice)  # the common case, without the lock: the event loop
        if found is not None:  # asks on every request (metrics), and must not wait on a worker
            return found
        with self._lock:
            found = self._services.get(practice)
            if found is None:
                assert practice is not None
                found = self._services[practice] = self._open(self.tenants[practice])
            return found

    def _open(self, tenant: Tenant) -> Service:
        service = Service(tenant.url)
        resolved = tenancy.Resolved(tenant.url, tenant.practice_id, store_url(self.home))
        tenancy.attach(service.ledger, resolved)
        if self._started:
            service.start_following()  # made on a request, after start-up
        return service

    def position(self) -> int:
        """For /health, on the event loop: the default practice's log end as of its last
        catch-up, or the first open practice's; 0 before any is open. Never opens a store
        (that would hold the loop while it is read)."""
        services = dict(self._services)  # no lock: a practice being opened holds it (a copy is atomic)
        found = services.get(self.named) or next(iter(services.values()), None)
        return 0 if found is None else found.position

    def key(self, named: str | None, token: str) -> KeyInfo:
        """The key's id and role on this practice: 401 for no valid key, 403 for a key of
        another practice, or a billing company's key not given this one."""
        service = self.service(named)
        found = service.keys.check(token)
        if found is not None:
            return found
        if self.catalog is None or self.spanning is None:
            raise NotAuthorizedException("a valid API key is required (X-API-Key header)")
        practice = self.practice_of(named)
        assert practice is not None
        with self._lock:
            spanning = self.spanning.check(token)
            reaches = spanning is not None and self.spanning.reaches(spanning.id, practice)
            home = None if spanning is not None else self.catalog.key_home(_key_id(token))
        if spanning is not None and reaches:
            return spanning
        if spanning is not None or (home is not None and home != practice):
            raise PermissionDeniedException(f"this key is not for practice {practice}")
        raise NotAuthorizedException("a valid API key is required (X-API-Key header)")

    def start(self) -> None:
        if self.catalog is not None and (self.named or len(self.tenants) == 1):
            self.service(None)  # the default practice, open before the first request (/health reports it)
        self._started = True
        anyio.to_thread.current_default_thread_limiter().total_tokens = Service.WORKERS
        for service in list(self._services.values()):
            service.start_following()

    def stop(self) -> None:
        with self._lock:
            services = list(self._services.values())
        for service in services:  # every practice told first, so they wind down together
            service.halt()
        for service in services:
            service.stop()
        if self.catalog is not None:
            self.catalog.close()


def _key_id(token: str) -> str:
    parts = split_token(token)
    return "" if parts is None else parts[0]


def practice_paths(app: Any) -> Any:
    """ASGI: take `/practices/{id}` off the path (before routing), keeping the id for
    service_of; every route is then the same route for that practice."""

    async def handler(scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "")
        if scope["type"] in ("http", "websocket") and path.startswith(PREFIX):
            practice, _, rest = path[len(PREFIX) :].partition("/")
            scope = dict(scope, path="/" + rest, raw_path=("/" + rest).encode())
            scope.setdefault("state", {})
            scope["state"] = dict(scope["state"], practice=practice)
            if scope["type"] == "http":
                send = prefixed(send, practice)  # the workbench's links and cookies keep the prefix
        await app(scope, receive, send)

    return handler
