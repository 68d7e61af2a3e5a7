"""/health is never queued behind other work: not behind busy worker threads (its route needs
no key, so no guard runs in a worker), and not behind a burst (the door admits a few
requests at a time and /health always). Checked by what waits, not by timing."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import httpx
from litestar import concurrency

from adapters.http import create_app
from adapters.http_admission import admission
from adapters.http_service import Service

WAIT = 10.0  # seconds: only a failing test waits this long


def test_health_answers_while_every_worker_thread_is_busy(sqlite_url: str) -> None:
    """Before: the roles guard was sync, so Litestar ran it in a worker thread even for
    /health, and the probe waited behind every request in the workers' queue."""
    app = create_app(sqlite_url)
    executor = concurrency.get_asyncio_executor()
    assert executor is not None
    release, busy = threading.Event(), threading.Barrier(Service.WORKERS + 1)

    def occupy() -> None:
        busy.wait()
        release.wait(WAIT)

    async def probe() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return (await asyncio.wait_for(client.get("/health"), WAIT / 2)).status_code

    tenancy = app.state["tenancy"]
    held = [executor.submit(occupy) for _ in range(Service.WORKERS)]
    try:
        busy.wait(WAIT)  # every worker is inside occupy()
        assert asyncio.run(_started(tenancy, probe)) == 200
    finally:
        release.set()
        for future in held:
            future.result(WAIT)
        tenancy.stop()


async def _started(tenancy: Any, probe: Any) -> int:
    tenancy.start()  # as the server's start-up does (the default practice opened)
    result: int = await probe()
    return result


class Inside:
    """An ASGI app that counts who is inside and holds each request until released."""

    def __init__(self) -> None:
        self.now, self.most, self.order, self.bodies = 0, 0, list[str](), list[bytes]()
        self.release = asyncio.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        held = not scope["path"].endswith("/health")  # /health passes the door: not counted
        self.now += held
        self.most = max(self.most, self.now)
        self.order.append(scope["path"])
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.bodies.append(body)
        if held:
            await self.release.wait()
        self.now -= held
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _request(path: str, chunks: list[bytes] | None = None) -> tuple[Any, Any, Any]:
    """An ASGI request whose body arrives in `chunks`, each after the test lets it through."""
    messages: asyncio.Queue[Any] = asyncio.Queue()
    for i, chunk in enumerate(chunks or [b""]):
        messages.put_nowait({"type": "http.request", "body": chunk, "more_body": i < len(chunks or [b""]) - 1})
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    return {"type": "http", "path": path, "method": "GET"}, messages.get, (send, sent)


def test_the_door_admits_a_few_at_a_time_in_order_and_health_always() -> None:
    async def run() -> None:
        inner = Inside()
        door = admission(inner, 3, 1000)
        waiting = []
        for i in range(10):
            scope, receive, (send, _) = _request(f"/r{i}")
            waiting.append(asyncio.create_task(door(scope, receive, send)))
        await asyncio.sleep(0.05)
        assert inner.now == 3 and inner.order == ["/r0", "/r1", "/r2"]
        for path in ("/health", "/practices/p-1/health"):
            scope, receive, (send, sent) = _request(path)
            await asyncio.wait_for(door(scope, receive, send), WAIT)  # passes the full door
            assert sent[0]["status"] == 200
        inner.release.set()
        await asyncio.wait_for(asyncio.gather(*waiting), WAIT)
        assert inner.most == 3
        assert [p for p in inner.order if "health" not in p] == [f"/r{i}" for i in range(10)]

    asyncio.run(run())


def test_a_body_still_arriving_holds_no_place_and_arrives_whole() -> None:
    async def run() -> None:
        inner = Inside()
        inner.release.set()
        door = admission(inner, 1, 1000)
        slow_scope, _, (slow_send, slow_sent) = _request("/slow")
        gate: asyncio.Queue[Any] = asyncio.Queue()
        slow = asyncio.create_task(door(slow_scope, gate.get, slow_send))
        gate.put_nowait({"type": "http.request", "body": b"ab", "more_body": True})
        await asyncio.sleep(0.05)
        scope, receive, (send, sent) = _request("/quick", [b"x", b"y"])
        await asyncio.wait_for(door(scope, receive, send), WAIT)  # not held by /slow's body
        assert sent[0]["status"] == 200 and not slow_sent
        gate.put_nowait({"type": "http.request", "body": b"cd", "more_body": False})
        await asyncio.wait_for(slow, WAIT)
        assert inner.order == ["/quick", "/slow"] and inner.bodies == [b"xy", b"abcd"]

    asyncio.run(run())


def test_a_body_past_the_limit_goes_in_at_once_for_the_app_to_refuse() -> None:
    """The door stops reading at the limit, so an endless body is never held in memory by
    the door; the app reads on (Litestar answers 413)."""

    async def run() -> None:
        inner = Inside()
        inner.release.set()
        door = admission(inner, 1, 5)
        scope, receive, (send, sent) = _request("/big", [b"123", b"456", b"789", b""])
        await asyncio.wait_for(door(scope, receive, send), WAIT)
        assert inner.bodies == [b"123456789"] and sent[0]["status"] == 200

    asyncio.run(run())
