"""Errors on the workbench's pages as pages (the API answers JSON): no session goes to the
sign-in page, a role refused or a stale form gets a 403 page saying why, bad input a 400 in
words, and a fault a 500 with the request id to quote (logged as the API logs it). To htmx
the same message comes as a notice fragment, or as a redirect to sign in."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException
from litestar.response import Redirect

from adapters.http_service import internal_error
from adapters.lines import in_words
from adapters.web.render import HEADERS, html, is_htmx

TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Not allowed", 500: "Something went wrong"}


def _page(request: Request[Any, Any, Any], status: int, message: str) -> Response[Any]:
    signed_in = request.scope.get("state", {}).get("web_session")
    if is_htmx(request.headers):
        # Shown in the page's notice area, whatever element the request meant to replace.
        headers = {"HX-Retarget": "#notice", "HX-Reswap": "innerHTML"}
        return html("_notice.html", status, headers, message=message, title=TITLES.get(status, "Error"))
    return html("error.html", status, session=signed_in, title=TITLES.get(status, "Error"), message=message)


def to_login(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    if is_htmx(request.headers):
        return Response("", status_code=401, headers=HEADERS | {"HX-Redirect": "/app/login"})
    return Redirect("/app/login", status_code=303, headers=HEADERS)


def refused(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    detail = exc.detail if isinstance(exc, HTTPException) else "You may not do this."
    return _page(request, 403, detail)


def bad_input(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """In words, never a regex nor the value sent (it may be a patient id)."""
    extra = getattr(exc, "extra", None)
    problems = [f"{x.get('key', '')}: {in_words(str(x.get('message', '')))}" for x in extra or []
                if isinstance(x, dict)] if isinstance(extra, list) else []  # fmt: skip
    detail = in_words(exc.detail) if isinstance(exc, HTTPException) else "bad request"
    return _page(request, 400, "; ".join(problems) or detail)


def not_found(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    return _page(request, status, "There is no such page here." if status == 404 else "Not allowed here.")


def fault(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    internal_error(request, exc)  # logged with the request id, as the API logs its faults
    request_id = request.scope.get("state", {}).get("request_id")
    return _page(request, 500, f"Something went wrong on the server. Quote request id {request_id} when you report it.")


HANDLERS: dict[int | type[Exception], Any] = {400: bad_input, 401: to_login, 403: refused, 404: not_found,
                                              405: not_found, 500: fault}  # fmt: skip
