"""/health is never queued behind other work: not behind busy worker threads (its route needs
no key, so no guard runs in a worker), and not behind a burst (the door admits a few
requests at a time and /health always). Checked by what waits, not by timing. The door
holds no more than a small body of a request that has shown no key, and drops a client
that leaves while waiting."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from litestar import concurrency

from adapters.http import create_app
from adapters.http_admission import PRE_READ, Door
from adapters.http_service import Service
from adapters.keys import Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views

WAIT = 10.0  # seconds: only a failing test waits this long


@contextmanager
def workers_held() -> Iterator[None]:
    """Every worker thread of the server's executor busy until the block ends."""
    executor = concurrency.get_asyncio_executor()
    assert executor is not None
    release, busy = threading.Event(), threading.Barrier(Service.WORKERS + 1)

    def occupy() -> None:
        busy.wait()
        release.wait(WAIT)

    held = [executor.submit(occupy) for _ in range(Service.WORKERS)]
    try:
        busy.wait(WAIT)
        yield
    finally:
        release.set()
        for future in held:
            future.result(WAIT)


def test_health_answers_through_a_full_door_while_every_worker_is_busy(sqlite_url: str) -> None:
    """Twenty keyed requests: eight pass the door and wait for a worker, twelve wait at the
    door; /health, in any spelling Litestar routes to it, answers meanwhile. Before: the
    roles guard was sync, so /health waited for a worker behind every request."""
    app = create_app(sqlite_url)
    token = Keys(open_views(open_ledger(sqlite_url), sqlite_url)).add("t", "biller")[1]
    door = app.asgi_handler
    assert isinstance(door, Door)

    async def run() -> list[int]:
        app.state["tenancy"].start()  # as the server's start-up does
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=WAIT) as client:
            with workers_held():
                burst = [asyncio.create_task(client.get("/worklist?month=2026-03", headers={"X-API-Key": token}))
                         for _ in range(20)]  # fmt: skip
                await _until(lambda: door.inside == 2 * Service.WORKERS and door.waiting == 12)
                for path in ("/health", "/health/"):
                    assert (await asyncio.wait_for(client.get(path), WAIT / 2)).status_code == 200
            return [answer.status_code for answer in await asyncio.gather(*burst)]

    try:
        assert asyncio.run(run()) == [200] * 20
    finally:
        app.state["tenancy"].stop()


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


class Inside:
    """An ASGI app that counts who is inside and holds each request until released; `on_entry`
    is called as each request comes in, before the app reads anything."""

    def __init__(self) -> None:
        self.now, self.most, self.order, self.bodies = 0, 0, list[str](), list[bytes]()
        self.release = asyncio.Event()
        self.on_entry: Callable[[], None] = lambda: None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.on_entry()
        held = "health" not in scope["path"]  # /health passes the door: not counted
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


class Client:
    """One request's side of the ASGI connection: body chunks sent when the test says, then
    (if told) the client leaving; counts the messages the server has taken."""

    def __init__(self, path: str, chunks: list[bytes] | None = None, headers: list[Any] | None = None) -> None:
        self.scope = {"type": "http", "path": path, "method": "POST", "headers": headers or []}
        self.messages: asyncio.Queue[Any] = asyncio.Queue()
        self.taken, self.sent = 0, list[Any]()
        chunks = [b""] if chunks is None else chunks
        for i, chunk in enumerate(chunks):
            self.messages.put_nowait({"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1})

    async def receive(self) -> Any:
        message = await self.messages.get()
        self.taken += 1
        return message

    async def send(self, message: Any) -> None:
        self.sent.append(message)

    def leave(self) -> None:
        self.messages.put_nowait({"type": "http.disconnect"})

    def through(self, door: Callable[[Any, Any, Any], Awaitable[None]]) -> asyncio.Task[None]:
        return asyncio.create_task(door(self.scope, self.receive, self.send))


def test_the_door_admits_a_few_at_a_time_in_order_and_health_always() -> None:
    async def run() -> None:
        inner = Inside()
        door = Door(inner, 3, 1000, WAIT)
        waiting = [Client(f"/r{i}").through(door) for i in range(10)]
        await _until(lambda: inner.now == 3 and door.waiting == 7)
        assert inner.order == ["/r0", "/r1", "/r2"]
        for path in ("/health", "/practices/p-1/health", "/practices/p-1/health/"):
            probe = Client(path)
            await asyncio.wait_for(probe.through(door), WAIT)  # passes the full door
            assert probe.sent[0]["status"] == 200
        inner.release.set()
        await asyncio.wait_for(asyncio.gather(*waiting), WAIT)
        assert inner.most == 3 and door.inside == door.waiting == 0
        assert [p for p in inner.order if "health" not in p] == [f"/r{i}" for i in range(10)]

    asyncio.run(run())


def test_a_small_body_still_arriving_holds_no_place_and_arrives_whole() -> None:
    async def run() -> None:
        inner = Inside()
        inner.release.set()
        door = Door(inner, 1, 1000, WAIT)
        slow = Client("/slow", [b"ab", b"cd"])
        slow.messages = asyncio.Queue()  # its chunks come when the test sends them
        slow_task = slow.through(door)
        slow.messages.put_nowait({"type": "http.request", "body": b"ab", "more_body": True})
        quick = Client("/quick", [b"x", b"y"])
        await asyncio.wait_for(quick.through(door), WAIT)  # not held by /slow's body
        assert quick.sent[0]["status"] == 200 and not slow.sent
        slow.messages.put_nowait({"type": "http.request", "body": b"cd", "more_body": False})
        await asyncio.wait_for(slow_task, WAIT)
        assert inner.order == ["/quick", "/slow"] and inner.bodies == [b"xy", b"abcd"]

    asyncio.run(run())


def test_the_door_reads_no_more_than_a_small_body_before_the_app() -> None:
    """A body past PRE_READ is read on by the app (after the key is checked), not held at
    the door; one that awaits 100 Continue, or is announced past the limit, is not read by
    the door at all."""

    async def run() -> None:
        inner = Inside()
        door = Door(inner, 1, 10 * PRE_READ, WAIT)
        chunk = b"x" * (PRE_READ // 4)
        big = Client("/big", [chunk] * 12 + [b""])
        taken_at_entry: list[int] = []
        inner.on_entry = lambda: taken_at_entry.append(big.taken)
        task = big.through(door)
        await _until(lambda: inner.now == 1)
        assert taken_at_entry == [5]  # PRE_READ and a chunk at most, before the app asked
        inner.on_entry = lambda: None
        inner.release.set()
        await asyncio.wait_for(task, WAIT)
        assert inner.bodies == [chunk * 12]
        for headers in ([(b"expect", b"100-continue")], [(b"content-length", str(10 * PRE_READ + 1).encode())]):
            inner.release.clear()
            client = Client("/unread", [b"z"], headers)
            task = client.through(door)
            await _until(lambda: inner.order[-1] == "/unread")
            assert client.taken <= 1  # the one the app took, not the door
            inner.release.set()
            await asyncio.wait_for(task, WAIT)

    asyncio.run(run())


def test_a_client_that_leaves_is_not_handled_and_holds_no_place() -> None:
    async def run() -> None:
        inner = Inside()
        door = Door(inner, 1, 1000, WAIT)
        first = Client("/first").through(door)
        await _until(lambda: inner.now == 1)
        gone = Client("/gone")
        gone_task = gone.through(door)
        await _until(lambda: door.waiting == 1)
        gone.leave()  # while waiting for its place
        await asyncio.wait_for(gone_task, WAIT)
        mid_body = Client("/mid-body", [b"a"])
        mid_body.messages = asyncio.Queue()
        mid_body.messages.put_nowait({"type": "http.request", "body": b"a", "more_body": True})
        mid_task = mid_body.through(door)
        mid_body.leave()  # while sending its body
        await asyncio.wait_for(mid_task, WAIT)
        after = Client("/after").through(door)
        inner.release.set()
        await asyncio.wait_for(asyncio.gather(first, after), WAIT)
        assert inner.order == ["/first", "/after"] and not gone.sent and not mid_body.sent
        assert door.inside == door.waiting == 0

    asyncio.run(run())


def _scope(method: str, path: str, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    """An ASGI scope as uvicorn gives one, for calling the app directly with a body that the
    test sends (or does not)."""
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}  # fmt: skip


def test_a_body_that_stops_coming_gets_408_and_one_abandoned_gets_499(sqlite_url: str, monkeypatch: Any) -> None:
    """Inside the door, each piece of a body must come within the header timeout: a client
    that stops sending (after 100 Continue, or past the door's pre-read) gets 408 and gives
    its place back; one that leaves mid-body gets 499, not a server error. The sign-in form,
    read before any key, takes 4 KB at most."""
    monkeypatch.setenv("CARELANE_HEADER_TIMEOUT", "0.3")
    app = create_app(sqlite_url)
    token = Keys(open_views(open_ledger(sqlite_url), sqlite_url)).add("t", "recorder")[1].encode()
    door = app.asgi_handler
    assert isinstance(door, Door)
    keyed = [(b"x-api-key", token), (b"content-type", b"application/x-ndjson")]
    cases = [  # headers, what the client sends, then whether it leaves, and the answer
        ([(b"expect", b"100-continue"), (b"content-length", b"10")], [], False, 408),
        (keyed, [b"{}\n" * (PRE_READ // 2)] * 3, False, 408),
        (keyed, [b"{}\n" * (PRE_READ // 2)] * 3, True, 499),
        ([(b"content-length", b"5000"), (b"content-type", b"application/x-www-form-urlencoded")], [], False, 413),
    ]

    async def run() -> list[int]:
        app.state["tenancy"].start()
        answers = []
        for headers, pieces, leaves, _ in cases:
            path = "/app/login" if headers is not keyed else "/facts"
            client = Client(path)
            client.messages = asyncio.Queue()
            for piece in pieces:
                client.messages.put_nowait({"type": "http.request", "body": piece, "more_body": True})
            if leaves:
                client.leave()
            await asyncio.wait_for(app(_scope("POST", path, headers), client.receive, client.send), WAIT)
            answers.append(client.sent[0]["status"])
            assert door.inside == door.waiting == 0
        return answers

    try:
        assert asyncio.run(run()) == [status for *_, status in cases]
    finally:
        app.state["tenancy"].stop()
