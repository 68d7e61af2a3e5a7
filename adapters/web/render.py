"""Jinja2 pages and fragments, escaped by default, with headers that keep them in this site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import MediaType, Response

HERE = Path(__file__).parent
ENV = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,  # every value, in every template: patient ids and reasons come from feeds
    undefined=StrictUndefined,  # a misspelt name fails the test, never renders as ""
    trim_blocks=True,
    lstrip_blocks=True,
)
# Only this server's scripts and styles, no framing, forms post only here; PHI pages never cached.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def html(template: str, status: int = 200, headers: dict[str, str] | None = None, **context: Any) -> Response[str]:
    text = ENV.get_template(template).render(**context)
    return Response(text, status_code=status, media_type=MediaType.HTML, headers=HEADERS | (headers or {}))


def is_htmx(headers: Any) -> bool:
    """An htmx request (it wants a fragment, not a page)."""
    return bool(headers.get("hx-request")) and not headers.get("hx-history-restore-request")
