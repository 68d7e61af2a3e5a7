"""Admission: a few requests at a time (twice the worker threads) are handled; the rest wait
their turn, as parked tasks that cost the event loop nothing. /health is never held, so that
a monitor's probe does not queue behind a burst.

Why: every request admitted puts its routing, guards, encoding and logging on the event
loop, which is shared with /health. A burst of 100 requests put 100 requests' worth of that
work in the loop's queue at once, and /health waited its turn behind them. With four worker
threads, eight requests in hand keep every worker busy and the loop's queue short
(measured, PostgreSQL: worst /health 37-53 ms with eight, 70-118 ms with sixteen).

A small body (up to PRE_READ bytes) is read before its request waits, so a client sending
one slowly holds no place. A larger one is read inside, after the key is checked: the door
never holds more than PRE_READ bytes of a request that has not shown a key, never answers
`Expect: 100-continue` for the app, and leaves a body announced past the limit for the app
to refuse unread. Inside, each piece of a body must come within `body_gap` seconds (408), so
a client that stops sending gives its place back. A client that leaves while waiting, its
body sent, is not handled; one that leaves mid-body is answered 499 when its turn comes.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.exceptions import HTTPException
from litestar.utils import normalize_path

PRE_READ = 64 * 1024  # as much as uvicorn buffers of a body before the app asks for it
App = Callable[[Any, Any, Any], Awaitable[None]]
Receive = Callable[[], Awaitable[Any]]
Watch = asyncio.Task[Any] | dict[str, Any] | None  # a watch for the client leaving, or its leaving


class Door:
    """`app` behind a door that lets `limit` requests in at a time (/health always)."""

    def __init__(self, app: App, limit: int, max_body: int, body_gap: float) -> None:
        self.app, self.limit, self.max_body, self.body_gap = app, limit, max_body, body_gap
        self.inside = self.waiting = 0
        # one gate per event loop: an asyncio semaphore belongs to the loop it first waits on
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    async def __call__(self, scope: Any, receive: Receive, send: Any) -> None:
        if scope["type"] != "http" or _is_health(scope["path"]):
            await self.app(scope, receive, send)
            return
        scope.setdefault("state", {})["arrived"] = time.perf_counter()  # the logged duration counts the wait
        read = await _read_small(scope, receive, self.max_body, self.body_gap)
        if read and read[-1]["type"] == "http.disconnect":
            return  # the client left while sending: nobody to answer
        gate = self._gates.setdefault(asyncio.get_running_loop(), asyncio.Semaphore(self.limit))
        complete = bool(read) and not read[-1].get("more_body")
        self.waiting += 1
        try:
            left = await _wait_for_place(gate, receive if complete else None)
        finally:
            self.waiting -= 1
        if isinstance(left, dict):
            return  # the client left while waiting: its request is not handled
        self.inside += 1
        try:
            await self.app(scope, _replay(read, left, receive, self.body_gap), send)
        finally:
            self.inside -= 1
            gate.release()
            if isinstance(left, asyncio.Task):
                left.cancel()  # the app answered without asking for more: stop watching


def _is_health(path: str) -> bool:
    """As Litestar routes it: '/health/', '//health' and '/practices//health' too."""
    parts = normalize_path(path).split("/")[1:]
    return parts == ["health"] or (parts[0] == "practices" and parts[-1] == "health" and len(parts) <= 3)


async def _next_piece(receive: Receive, gap: float) -> Any:
    """The body's next piece: within `gap` seconds (408), and a client gone mid-body answered
    499 (a client's doing, never logged as a server error)."""
    try:
        message = await asyncio.wait_for(receive(), gap)
    except TimeoutError:
        raise HTTPException(status_code=408, detail=f"the body did not arrive within {gap:g} s") from None
    if message["type"] == "http.disconnect":
        raise HTTPException(status_code=499, detail="the client left before its body arrived")
    return message


def _announced(scope: Any) -> tuple[int | None, bool]:
    """The body's Content-Length (None if not given) and whether the client awaits 100 Continue."""
    length, expect = None, False
    for name, value in scope.get("headers", []):
        if name.lower() == b"content-length" and value.strip().isdigit():
            length = int(value)
        expect = expect or (name.lower() == b"expect" and value.strip().lower() == b"100-continue")
    return length, expect


async def _read_small(scope: Any, receive: Receive, max_body: int, gap: float) -> list[Any]:
    """The request's messages up to its body's end, PRE_READ bytes at most; nothing when the
    client awaits 100 Continue or announces a body past `max_body` (the app answers it). A
    client that stops sending for `gap` seconds goes in as it is, for the app to answer."""
    length, expect = _announced(scope)
    if expect or (length is not None and length > max_body):
        return []
    read: list[Any] = []
    size = 0
    while size <= PRE_READ:
        try:
            message = await asyncio.wait_for(receive(), gap)
        except TimeoutError:
            break
        read.append(message)
        size += len(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    return read


async def _wait_for_place(
    gate: asyncio.Semaphore, receive: Receive | None
) -> asyncio.Task[Any] | dict[str, Any] | None:
    """Take a place. With `receive` (the body all read, so the next message can only be the
    client leaving), watch for that meanwhile: the disconnect if it came first (no place
    taken), or the watch still running, for the app's next receive to take over."""
    if receive is None or not gate.locked():
        await gate.acquire()
        return None
    watch, take = asyncio.ensure_future(receive()), asyncio.ensure_future(gate.acquire())
    try:
        await asyncio.wait({watch, take}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        watch.cancel()
        take.cancel()
        raise
    if watch.done() and watch.result()["type"] == "http.disconnect":
        if not take.cancel() and not take.cancelled():  # the place came at the same moment: give it back
            gate.release()
        message: dict[str, Any] = watch.result()
        return message
    await take
    return watch


def _replay(read: list[Any], watch: Watch, receive: Receive, gap: float) -> Receive:
    """`receive` for the app: the messages already read, then the watch's, then on, each piece
    of the body within `gap` seconds. Once the body is whole only the client's leaving can
    come, and that is not timed."""
    held = deque(read)
    read.clear()  # the deque owns them: a body is held once, and let go as it is read
    whole = False

    async def replayed() -> Any:
        nonlocal watch, whole
        if held:
            message = held.popleft()
        elif isinstance(watch, asyncio.Task):
            message, watch = await watch, None
        elif whole:
            return await receive()
        else:
            message = await _next_piece(receive, gap)
        whole = whole or (message["type"] == "http.request" and not message.get("more_body"))
        return message

    return replayed
