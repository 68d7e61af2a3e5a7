"""A bounded load test against a real `carelane serve` on loopback, on both stores: 1,000
concurrent GETs (worklist, audit packet, events) and 50 concurrent POSTs of facts give no
500, and /health answers every probe throughout (its latency is reported by
scripts/load_http.py, not asserted here: speed is measured by scripts)."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
import pytest

from adapters.keys import Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from tests.e2e.test_http import serve
from tests.factories import enrolled, minutes

ENC = msgspec.json.Encoder()
GETS, POSTS, PROBE_LIMIT = 1000, 50, 6000  # probes every 50 ms: at most 5 minutes


@dataclass
class Load:
    statuses: Counter[int] = field(default_factory=Counter)
    health_ms: list[float] = field(default_factory=list)
    health_failed: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        ms = sorted(self.health_ms) or [0.0]
        p99 = ms[min(len(ms) - 1, int(0.99 * len(ms)))]
        return (f"{sum(self.statuses.values())} requests in {self.seconds:.1f} s: {dict(self.statuses)}; "
                f"/health p50 {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.1f} ms")  # fmt: skip


@dataclass
class Running:
    base: str
    keys: dict[str, str]
    process: subprocess.Popen[str]
    log: Path


@pytest.fixture
def running(store_url: str, tmp_path: Path) -> Iterator[Running]:
    yield from start(store_url, tmp_path)


def start(url: str, folder: Path) -> Iterator[Running]:
    """`carelane serve` on a free loopback port, its log in a file (a pipe would fill)."""
    ledger = open_ledger(url)
    keys = Keys(open_views(ledger, url))
    tokens = {role: keys.add(f"load-{role}", role)[1] for role in ("biller", "recorder", "auditor")}
    log = folder / "server.log"
    process, base = serve(url, logs=log)
    first = b"\n".join(ENC.encode(x) for x in [*enrolled("P1"), *minutes(45)])
    httpx.post(base + "/facts", content=first, headers={"X-API-Key": tokens["recorder"]}, timeout=60)
    try:
        yield Running(base, tokens, process, log)
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _send(client: httpx.AsyncClient, method: str, url: str, **kw: object) -> httpx.Response:
    """One retry on a connection the server closed as idle just as it was reused (a client's
    ordinary keep-alive race, not an answer; a resent POST of facts is idempotent)."""
    try:
        return await client.request(method, url, **kw)  # type: ignore[arg-type]
    except (httpx.RemoteProtocolError, httpx.ReadError):
        return await client.request(method, url, **kw)  # type: ignore[arg-type]


async def hammer(run: Running, gets: int = GETS, posts: int = POSTS, *, polite: bool = False) -> Load:
    """The load; `polite`: after the /health probe has started, this process lowers its own
    CPU priority for good, as clients on other machines would not take the server's cores.
    Run it in a process of its own: a server started by this process afterwards would
    inherit the lower priority (scripts/load_http.py does)."""
    load = Load()
    routes = [("/worklist?month=2026-03", "biller"), ("/audit/P1?from=2026-03&to=2026-03", "auditor"),
              ("/events?patient=P1", "auditor")]  # fmt: skip
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=100), timeout=300) as client:

        async def get(i: int) -> None:
            path, role = routes[i % len(routes)]
            answer = await _send(client, "GET", run.base + path, headers={"X-API-Key": run.keys[role]})
            load.statuses[answer.status_code] += 1

        async def post(i: int) -> None:
            facts = [*enrolled(f"Q{i}"), *minutes(25, f"Q{i}", staff=f"S{i}")]
            body = b"\n".join(ENC.encode(x) for x in facts)
            answer = await _send(client, "POST", run.base + "/facts", content=body,
                                 headers={"X-API-Key": run.keys["recorder"]})  # fmt: skip
            load.statuses[answer.status_code] += 1

        probe = [sys.executable, "-c", PROBE, run.base, str(PROBE_LIMIT)]
        monitor = subprocess.Popen(probe, stdout=subprocess.PIPE, text=True)
        if polite:
            os.nice(10)
        started = time.perf_counter()
        await asyncio.gather(*(get(i) for i in range(gets)), *(post(i) for i in range(posts)))
        load.seconds = time.perf_counter() - started
        monitor.terminate()  # it probes until the load is over (or PROBE_LIMIT probes)
        out, _ = monitor.communicate(timeout=300)
    for line in out.split():
        ms = float(line)
        load.health_ms.append(abs(ms))
        load.health_failed += ms < 0
    return load


# /health probed from a process of its own, as a monitor would: a probe inside this process
# would time this process's own event loop, busy decoding a thousand answers.
PROBE = """
import http.client, sys, time
base, count = sys.argv[1].removeprefix("http://"), int(sys.argv[2])
for _ in range(count):
    started = time.perf_counter()
    try:
        conn = http.client.HTTPConnection(base, timeout=120)
        conn.request("GET", "/health")
        ok = conn.getresponse().status == 200
        conn.close()
    except OSError:
        ok = False
    ms = (time.perf_counter() - started) * 1000
    print(ms if ok else -ms, flush=True)
    time.sleep(0.05)
"""


def test_concurrent_reads_and_writes_give_no_500_and_health_answers(running: Running) -> None:
    """1,000 GETs and 50 POSTs at once: every answer is 200, every /health probe answers,
    and the server logged no internal error."""
    load = asyncio.run(hammer(running))
    assert load.statuses == Counter({200: GETS + POSTS}), load.summary()
    assert load.health_failed == 0, load.summary()
    assert '"http.internal_error"' not in running.log.read_text()
