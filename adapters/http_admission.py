"""Admission: a few requests at a time (twice the worker threads) are handled; the rest wait
their turn, in order of arrival, as parked tasks that cost the event loop nothing. /health
is never held, so that a monitor's probe does not queue behind a burst.

Why: every request admitted puts its routing, guards, encoding and logging on the event
loop, which is shared with /health. A burst of 100 requests put 100 requests' worth of that
work in the loop's queue at once, and /health waited its turn behind them. With four worker
threads, eight requests in hand keep every worker busy and the loop's queue short
(measured, PostgreSQL: worst /health 37-53 ms with eight, 70-118 ms with sixteen).

A request is admitted once its body has arrived: a client sending its body slowly waits
outside, not holding a place (the header-read timeout covers the headers)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

App = Callable[[Any, Any, Any], Awaitable[None]]
Receive = Callable[[], Awaitable[Any]]


def admission(app: App, limit: int, max_body: int) -> App:
    """`app` behind a door that lets `limit` requests in at a time (/health always)."""
    gate: list[asyncio.Semaphore] = []  # made on first use, inside the server's event loop

    async def asgi(scope: Any, receive: Receive, send: Any) -> None:
        if scope["type"] != "http" or _is_health(scope["path"]):
            await app(scope, receive, send)
            return
        scope.setdefault("state", {})["arrived"] = time.perf_counter()  # the logged duration counts the wait
        arrived = await _arrived(receive, max_body)
        if not gate:
            gate.append(asyncio.Semaphore(limit))
        async with gate[0]:
            await app(scope, _replay(arrived, receive), send)

    return asgi


def _is_health(path: str) -> bool:
    return path == "/health" or (path.startswith("/practices/") and path.count("/") == 3 and path.endswith("/health"))


async def _arrived(receive: Receive, max_body: int) -> list[Any]:
    """The request's messages up to its body's end (or past `max_body`: the app answers 413
    from what it reads next, and the client's disconnect ends the wait as well)."""
    messages: list[Any] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        size += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body") or size > max_body:
            return messages


def _replay(messages: list[Any], receive: Receive) -> Receive:
    """`receive` that gives the messages already read, then reads on."""
    held = deque(messages)
    messages.clear()  # the deque owns them: a large body is held once, and let go as it is read

    async def replayed() -> Any:
        return held.popleft() if held else await receive()

    return replayed
