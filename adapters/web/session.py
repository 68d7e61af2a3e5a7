"""Sign-in for the workbench: an API key exchanged for a server-side session.

The cookie holds only a random session id (never the key); the store keeps the id's sha256,
the key's id, name and role, a CSRF token and the expiry, in this process's memory (a restart
signs everyone out). Every request re-checks that the key is still unrevoked, so revoking a
key ends its sessions. Forms carry the session's CSRF token; the sign-in form, before there is
a session, carries a token that must match a cookie of its own (double submit). Both cookies
are HttpOnly and SameSite=Strict, and Secure when the app is served over https.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from litestar import Response
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler

from adapters.http_service import practice_named, service_of
from adapters.keys import KeyInfo

COOKIE = "carelane_session"
LOGIN_COOKIE = "carelane_login"
LIFETIME = 8 * 3600  # seconds: a working day, then sign in again
LOGIN_LIFETIME = 3600  # the sign-in form's token
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
STALE_FORM = "This form has expired or did not come from this page. Reload the page and try again."


@dataclass
class Session:
    key: KeyInfo
    csrf: str
    expires: float
    flash: dict[str, Any] = field(default_factory=dict)  # answers shown once on the next page (no-JS claims)
    practice: str | None = None  # the practice signed in to (several practices: adapters.http_tenants)


class Sessions:
    """The sessions of one app, shared by its worker threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_hash: dict[str, Session] = {}

    def open(self, key: KeyInfo, practice: str | None = None) -> tuple[str, Session]:
        """A new session id (the cookie's value) and its session."""
        sid = secrets.token_urlsafe(32)
        session = Session(key, secrets.token_urlsafe(32), time.time() + LIFETIME, practice=practice)
        with self._lock:
            now = time.time()
            for gone in [h for h, s in self._by_hash.items() if s.expires <= now]:
                del self._by_hash[gone]
            self._by_hash[_hash(sid)] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            session = self._by_hash.get(_hash(sid))
            if session is not None and session.expires <= time.time():
                del self._by_hash[_hash(sid)]
                return None
            return session

    def close(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._by_hash.pop(_hash(sid), None)


_CREATING = threading.Lock()


def sessions_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Sessions:
    """The app's session store, made on first use (kept in the app's state)."""
    state = connection.app.state
    with _CREATING:
        found = state.get("web_sessions")
        if not isinstance(found, Sessions):
            found = Sessions()
            state["web_sessions"] = found
    return found


def practice_requested(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The practice the request is for (None: a ledger of one practice, no catalog)."""
    practice: str | None = connection.app.state["tenancy"].practice_of(practice_named(connection))
    return practice


def key_live(connection: ASGIConnection[Any, Any, Any, Any], key_id: str) -> bool:
    """The key still exists and is not revoked."""
    db = service_of(connection).keys.db
    with db.reading() as cur:
        cur.execute("SELECT revoked_at FROM api_keys WHERE id = %s", (key_id,))
        row = cur.fetchone()
    return row is not None and row[0] is None


def session_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """Pages naming `web_roles` need a live session of one of them (admin sees every page):
    401 (to the sign-in page) without one, 403 for another role. The key is put where the
    API's access log and request log look for it."""
    allowed = handler.opt.get("web_roles")
    if allowed is None:
        return
    session = sessions_of(connection).get(connection.cookies.get(COOKIE))
    if session is not None and session.practice != practice_requested(connection):
        session = None  # signed in to another practice: its cookie opens nothing here
    if session is None or not key_live(connection, session.key.id):
        raise NotAuthorizedException("Sign in to continue.")
    connection.state["key"] = session.key
    connection.state["web_session"] = session
    if session.key.role not in allowed and session.key.role != "admin":
        needs = " or ".join(sorted(allowed))
        raise PermissionDeniedException(f"Your role, {session.key.role}, may not see this page: it needs {needs}.")


def current(connection: ASGIConnection[Any, Any, Any, Any]) -> Session:
    """The session the guard found (on a page that names `web_roles`)."""
    session: Session = connection.state["web_session"]
    return session


def check_csrf(connection: ASGIConnection[Any, Any, Any, Any], sent: str | None) -> None:
    """The form's token (or htmx's header) must be the session's."""
    token = sent or connection.headers.get(CSRF_HEADER) or ""
    if not hmac.compare_digest(token.encode(), current(connection).csrf.encode()):
        raise PermissionDeniedException(STALE_FORM)


def check_login_csrf(connection: ASGIConnection[Any, Any, Any, Any], sent: str | None) -> None:
    cookie = connection.cookies.get(LOGIN_COOKIE) or ""
    if not cookie or not hmac.compare_digest((sent or "").encode(), cookie.encode()):
        raise PermissionDeniedException(STALE_FORM)


def secure(connection: ASGIConnection[Any, Any, Any, Any]) -> bool:
    return connection.url.scheme == "https"


def set_cookie(response: Response[Any], connection: ASGIConnection[Any, Any, Any, Any], name: str, value: str,
               max_age: int) -> None:  # fmt: skip
    response.set_cookie(name, value, max_age=max_age, path="/app", httponly=True, samesite="strict",
                        secure=secure(connection))  # fmt: skip


def clear_cookie(response: Response[Any], connection: ASGIConnection[Any, Any, Any, Any], name: str) -> None:
    """Expired at once, with the attributes it was set with."""
    response.set_cookie(name, "", max_age=0, expires=0, path="/app", httponly=True, samesite="strict",
                        secure=secure(connection))  # fmt: skip


def _hash(sid: str) -> str:
    """The store keeps the id's hash: a dump of this process's memory gives no usable cookie."""
    return hashlib.sha256(sid.encode()).hexdigest()
