"""The workbench under a practice's prefix (`/practices/{id}/app/...`): its pages, redirects
and cookies name `/app/...`, so the answer to a prefixed request says it with the prefix:
`Location` and `HX-Redirect` headers, cookie paths, and the links and forms of HTML pages
(rendered whole in memory, so rewriting them costs one pass over the page)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

Send = Callable[[Any], Awaitable[None]]
LINKS = (b'href="/app', b'action="/app', b'src="/app', b'hx-post="/app', b'hx-get="/app')


def prefixed(send: Send, practice: str) -> Send:
    """`send` for an answer to `/practices/{practice}/...`."""
    prefix = ("/practices/" + quote(practice, safe="")).encode()
    held: list[Any] = []  # an HTML page's start and body, until the body is whole
    body = bytearray()

    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            headers = [(k, _header(k, v, prefix)) for k, v in message.get("headers", [])]
            message = dict(message, headers=headers)
            if any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                held.append(message)
                return
        elif message["type"] == "http.response.body" and held:
            body.extend(message.get("body", b""))
            if message.get("more_body"):
                return
            page = _links(bytes(body), prefix)
            start = held.pop()
            start["headers"] = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            start["headers"].append((b"content-length", str(len(page)).encode()))
            await send(start)
            message = {"type": "http.response.body", "body": page, "more_body": False}
        await send(message)

    return wrapped


def _header(name: bytes, value: bytes, prefix: bytes) -> bytes:
    lower = name.lower()
    if lower in (b"location", b"hx-redirect") and value.startswith(b"/app"):
        return prefix + value
    if lower == b"set-cookie":
        return value.replace(b"Path=/app", b"Path=" + prefix + b"/app")
    return value


def _links(page: bytes, prefix: bytes) -> bytes:
    for link in LINKS:
        attribute, _, path = link.partition(b'"')
        page = page.replace(link, attribute + b'"' + prefix + path)
    return page
