"""The workbench's routes under /app: sign-in and sign-out, the biller's month, its CSV, and a
claim sent from it. Every page is complete without JavaScript; htmx, when it runs, swaps the
claimed row in place. Pages name their roles in `web_roles` (the API's `roles` guard leaves
them alone) and are read from a session (adapters.web.session), never from an API key header.
"""

from __future__ import annotations

import functools
import secrets
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

import msgspec
from litestar import Request, Response, Router, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import Body, FromPath, FromQuery as Q
from litestar.response import Redirect

from adapters import output
from adapters.http_service import service_of
from adapters.keys import ROLES
from adapters.web import claims, pages, reports, revenue, session as signin
from adapters.web.auditor import ROUTES as AUDITOR_ROUTES
from adapters.web.binder import ROUTES as BINDER_ROUTES
from adapters.web.compliance import ROUTES as COMPLIANCE_ROUTES
from adapters.web.errors import HANDLERS
from adapters.web.render import HEADERS, HERE, html, is_htmx
from domain.month import month_of_day
from projections.pace import today

BILLER = {"web_roles": {"biller"}}
ANYONE = {"web_roles": set(ROLES)}
FORM = Body(media_type=RequestEncodingType.URL_ENCODED)
STATIC = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "pages.css": "text/css; charset=utf-8",
}
START = {
    "biller": "/app/month",
    "admin": "/app/month",
    "compliance": "/app/compliance",
    "auditor": "/app/audit",
}  # the page each role starts on
BAD_KEY = "That key was not accepted: it is wrong, revoked, or not a Carelane API key."


class LoginForm(msgspec.Struct):
    key: str = ""
    csrf_token: str = ""


class CsrfForm(msgspec.Struct):
    csrf_token: str = ""


def _login_page(request: Request[Any, Any, Any], status: int = 200, **notice: str) -> Response[str]:
    """The sign-in form with a fresh token, matched by a cookie of its own."""
    token = secrets.token_urlsafe(32)
    response = html("login.html", status, session=None, csrf=token, error=notice.get("error", ""),
                    info=notice.get("info", ""))  # fmt: skip
    signin.set_cookie(response, request, signin.LOGIN_COOKIE, token, signin.LOGIN_LIFETIME)
    return response


@get("/app/login", sync_to_thread=False)
def login_page(request: Request[Any, Any, Any], signed_out: Q[bool] = False) -> Response[str]:
    return _login_page(request, info="You are signed out." if signed_out else "")


@post("/app/login", sync_to_thread=True, request_max_body_size=4096)  # read before any key: kept small
def login(request: Request[Any, Any, Any], data: Annotated[LoginForm, FORM]) -> Response[Any]:
    """A valid, unrevoked key opens a session: a new id each time (never one the browser
    brought), the old one closed."""
    signin.check_login_csrf(request, data.csrf_token)
    key = service_of(request).keys.check(data.key.strip()) if data.key.strip() else None
    if key is None:
        return _login_page(request, 401, error=BAD_KEY if data.key.strip() else "Enter your API key.")
    store = signin.sessions_of(request)
    store.close(request.cookies.get(signin.COOKIE))
    sid, _ = store.open(key, signin.practice_requested(request))
    response = Redirect(START.get(key.role, "/app"), status_code=303, headers=HEADERS)
    signin.set_cookie(response, request, signin.COOKIE, sid, signin.LIFETIME)
    signin.clear_cookie(response, request, signin.LOGIN_COOKIE)
    return response


@post("/app/logout", opt=ANYONE, sync_to_thread=False)
def logout(request: Request[Any, Any, Any], data: Annotated[CsrfForm, FORM]) -> Response[Any]:
    signin.check_csrf(request, data.csrf_token)
    signin.sessions_of(request).close(request.cookies.get(signin.COOKIE))
    response = Redirect("/app/login?signed_out=true", status_code=303, headers=HEADERS)
    signin.clear_cookie(response, request, signin.COOKIE)
    return response


@get("/app", opt=ANYONE, sync_to_thread=False)
def home(request: Request[Any, Any, Any]) -> Response[Any]:
    session = signin.current(request)
    if session.key.role in START:
        return Redirect(START[session.key.role], status_code=303, headers=HEADERS)
    return html("home.html", session=session)


def _filters(request: Request[Any, Any, Any], **given: str | None) -> pages.Filters:
    default = month_of_day(today(service_of(request).ledger.policy))
    try:
        return pages.parse_filters(default, given.get("month"), *(given.get(k) or "" for k in pages.FILTERS))
    except pages.BadFilter as e:
        raise HTTPException(status_code=400, detail=str(e)) from None


@get("/app/month", opt=BILLER, sync_to_thread=True)
def month_page(request: Request[Any, Any, Any], month: Q[str | None] = None, program: Q[str] = "",
               provider: Q[str] = "", status: Q[str] = "", sort: Q[str] = "") -> Response[str]:  # fmt: skip
    """The worklist, filtered and sorted; answers to claims sent without JavaScript shown once."""
    f = _filters(request, month=month, program=program, provider=provider, status=status, sort=sort)
    session = signin.current(request)
    answers = session.flash.pop(f.month, {})
    service = service_of(request)
    page = pages.page(service, f, answers)
    service.read(request, (line.row.patient_id for line in page.lines))
    return html("month.html", session=session, page=page, statuses=pages.STATUSES, sorts=pages.SORTS,
                programs=pages.PROGRAMS, denials=revenue.denied(service, page.lines, f.month),
                export_problems=session.flash.pop(revenue.flash_key(f.month), None))  # fmt: skip


@get("/app/month.csv", opt=BILLER, sync_to_thread=True)
def month_csv(request: Request[Any, Any, Any], month: Q[str | None] = None, program: Q[str] = "",
              provider: Q[str] = "", status: Q[str] = "", sort: Q[str] = "") -> Response[str]:  # fmt: skip
    """The worklist CSV (`carelane worklist --format csv`) of the rows the page shows."""
    f = _filters(request, month=month, program=program, provider=provider, status=status, sort=sort)
    service = service_of(request)
    _, lines = pages.rows(service, f)
    service.read(request, (line.row.patient_id for line in lines))
    text = output.worklist([line.row for line in lines], "csv") + "\n"
    disposition = f'attachment; filename="worklist-{f.month}.csv"'
    return Response(text, media_type="text/csv; charset=utf-8", headers=HEADERS | {"Content-Disposition": disposition})


@post("/app/month/claim", opt=BILLER, sync_to_thread=True)
def send_claim(request: Request[Any, Any, Any], data: Annotated[claims.ClaimForm, FORM]) -> Response[Any]:
    """The row's billable set through the gate. htmx gets the row drawn again with the answer;
    a plain form post gets the month page back (post, redirect, get) with the answer on it."""
    signin.check_csrf(request, data.csrf_token)
    session = signin.current(request)
    service = service_of(request)
    result = claims.submit(service, claims.fact_line(data, session.key))
    answer = claims.answer_of(data, result)
    if not is_htmx(request.headers):
        session.flash.setdefault(data.month, {})[data.patient_id] = answer
        return Redirect(f"/app/month?{_back(data.back)}", status_code=303, headers=HEADERS)
    line = pages.one(service, data.month, data.patient_id) if pages.MONTH.match(data.month) else None
    if line is None:  # no row to draw it in (the month has no such patient): the answer alone
        why = "; ".join([f"{code} {message}" for code, message in answer.reasons] + [answer.error or ""])
        return html("_notice.html", title=f"Claim {data.claim_id} {answer.status}", message=why.strip("; "))
    line.answer = answer
    service.read(request, [data.patient_id])
    return html("_row.html", session=session, line=line, back=_back(data.back))


def _back(query: str) -> str:
    """The month page's filters the form came from, rebuilt from their names (never echoed)."""
    kept = {k: v for k, v in parse_qsl(query) if k in ("month", *pages.FILTERS)}
    return urlencode(kept)


@functools.cache
def _asset(name: str) -> bytes:
    return (HERE / "static" / name).read_bytes()


@get("/app/static/{name:str}", sync_to_thread=False)
def static(name: FromPath[str]) -> Response[bytes]:
    """The workbench's own script and styles (a fixed list: no path reaches the disk)."""
    if name not in STATIC:
        raise NotFoundException()
    return Response(_asset(name), media_type=STATIC[name], headers={"Cache-Control": "public, max-age=3600",
                                                                    "X-Content-Type-Options": "nosniff"})  # fmt: skip


# Full paths (not a router prefix): the access log and request log name a route by its paths.
WORKBENCH = Router(
    "/",
    route_handlers=[login_page, login, logout, home, month_page, month_csv, send_claim, static],
    guards=[signin.session_guard],
    exception_handlers=HANDLERS,
    include_in_schema=False,
)
ROUTES = [WORKBENCH, *revenue.ROUTES, *reports.ROUTES, *COMPLIANCE_ROUTES, *AUDITOR_ROUTES, *BINDER_ROUTES]
