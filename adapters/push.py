"""Pushing a report out: one JSON POST to a URL the practice gives (a dashboard, a task
queue's webhook). The payload names patients, so it goes over HTTPS, or plain HTTP only to
this machine (loopback), unless the caller explicitly allows plain HTTP. Redirects are not
followed (one could lead to plain HTTP elsewhere), and no error repeats the URL's path,
query or credentials (a webhook's secret often sits there)."""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urlsplit

import httpx

TIMEOUT = 10.0  # seconds, for connecting and for the answer


class PushError(Exception):
    """Why nothing was pushed, or why the receiver did not take it; safe to show."""


def target(url: str, allow_http: bool = False) -> str:
    """Check that `url` may carry patient ids; returns how to name it in messages."""
    parts = _split(url)
    shown = where(parts)
    if parts.scheme == "https":
        return shown
    if parts.scheme != "http":
        raise PushError(f"{shown}: only https:// (or http:// to this machine) URLs can be pushed to")
    if not allow_http and not is_loopback(parts.hostname or ""):
        raise PushError(
            f"{shown}: refusing plain http to another host, the report names patients; "
            "use https, or --allow-http on a network you trust"
        )
    return shown


def push(url: str, body: bytes, *, allow_http: bool = False, timeout: float = TIMEOUT) -> int:
    """POST `body` (JSON) to `url`; returns the receiver's HTTP status (2xx), else raises PushError."""
    shown = target(url, allow_http)
    loopback = is_loopback(_split(url).hostname or "")
    try:
        # A proxy from the environment is for the way out; loopback never goes through one.
        with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=not loopback) as client:
            answer = client.post(
                url, content=body, headers={"Content-Type": "application/json", "User-Agent": "carelane-pace"}
            )
    except httpx.TimeoutException:
        raise PushError(f"{shown}: no answer within {timeout:g} s; nothing was confirmed") from None
    except httpx.ConnectError:
        raise PushError(f"{shown}: cannot connect (is the receiver up, and the address right?)") from None
    except httpx.HTTPError as e:
        raise PushError(f"{shown}: the push failed ({type(e).__name__})") from None
    if not 200 <= answer.status_code < 300:
        raise PushError(f"{shown}: the receiver answered HTTP {answer.status_code}; it did not take the report")
    return answer.status_code


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def where(parts: SplitResult) -> str:
    """scheme://host[:port], without credentials, path or query."""
    host = parts.hostname or "?"
    host = f"[{host}]" if ":" in host else host
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme or '?'}://{host}{port}"


def _split(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises on a port that is not a number in range
    except ValueError:
        raise PushError("the push URL is not a valid URL") from None
    if not parts.hostname:
        raise PushError("the push URL has no host (expected https://host/path)")
    return parts
