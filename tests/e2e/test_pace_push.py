"""`carelane pace --push URL`, end to end: the command in its own process POSTs the report to
a receiver on loopback (127.0.0.1, started here, bounded in time, stopping itself); plain
http to another host is refused; a receiver that fails or is silent is a sentence, never a
traceback, and never repeats the URL's credentials or query."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import msgspec
import pytest

from adapters.push import PushError, is_loopback, target
from domain import facts as f
from domain.ledger import Ledger
from tests.factories import Book, enrolled, minutes

ROOT = Path(__file__).resolve().parents[2]
# The command as its own process, until adapters/cli.py imports the module.
RUN = "import adapters.commands.pace; from adapters.commands.base import main; main()"
LIFETIME = 20.0  # seconds a receiver lives at most, whatever the test does


@dataclass
class Receiver:
    url: str
    bodies: list[bytes] = field(default_factory=list)
    types: list[str] = field(default_factory=list)


def receiver(status: int = 200, delay: float = 0.0) -> Iterator[Receiver]:
    """A loopback HTTP receiver answering every POST with `status` after `delay` seconds; it
    shuts itself down after LIFETIME seconds, or when the test ends."""
    got = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            got.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            got.types.append(self.headers.get("Content-Type") or "")
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:  # quiet: the test reads what it needs
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/pace"
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    timer = threading.Timer(LIFETIME, server.shutdown)
    timer.start()
    try:
        yield got
    finally:
        timer.cancel()
        server.shutdown()
        server.server_close()
        serving.join(timeout=5)


@pytest.fixture
def ok_receiver() -> Iterator[Receiver]:
    yield from receiver()


@pytest.fixture
def failing_receiver() -> Iterator[Receiver]:
    yield from receiver(status=500)


@pytest.fixture
def silent_receiver() -> Iterator[Receiver]:
    yield from receiver(delay=3.0)


@pytest.fixture
def stocked(sqlite_url: str, open_at: Callable[[str], Ledger]) -> str:
    book = Book(open_at(sqlite_url))
    book.add(enrolled("P1"), minutes(12, "P1", day=24), enrolled("P2"), minutes(18, "P2", day=2))
    book.add(enrolled("C1"), f.ConsentRevoked(patient_id="C1", program=f.Program.CCM, revoked_on=date(2026, 3, 12)))
    book.add(minutes(30, "C1", day=3))
    return sqlite_url


def pace(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"PYTHONPATH": str(ROOT), "CARELANE_DB": url}
    return subprocess.run(
        [sys.executable, "-c", RUN, "pace", "--month", "2026-03", "--as-of", "2026-03-25", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_push_posts_the_json_report_to_a_loopback_receiver(stocked: str, ok_receiver: Receiver) -> None:
    done = pace(stocked, "--push", ok_receiver.url)
    assert done.returncode == 0, done.stderr
    assert f"pushed to {ok_receiver.url.removesuffix('/hooks/pace')} (HTTP 200)" in done.stdout
    [body] = ok_receiver.bodies
    assert ok_receiver.types == ["application/json"]
    report = msgspec.json.decode(body)
    assert (report["month"], report["as_of"]) == ("2026-03", "2026-03-25")
    assert [(r["patient_id"], r["code"], r["flagged"]) for r in report["pace"]] == [
        ("C1", "99439", True), ("P1", "99490", True), ("P2", "99490", False)
    ]  # fmt: skip
    assert [(r["patient_id"], r["kind"], r["due_on"]) for r in report["renewals"]] == [
        ("C1", "consent_revoked", "2026-03-31")
    ]


def test_plain_http_to_another_host_is_refused_before_anything_is_sent(stocked: str) -> None:
    done = pace(stocked, "--push", "http://203.0.113.7/hook?token=s3cret")
    assert done.returncode == 1
    assert "refusing plain http to another host" in done.stderr and "--allow-http" in done.stderr
    assert "s3cret" not in done.stderr and "Traceback" not in done.stderr
    assert target("http://203.0.113.7/hook", allow_http=True) == "http://203.0.113.7"  # allowed when asked
    assert target("https://billing.example.org/hook") == "https://billing.example.org"
    with pytest.raises(PushError, match="only https"):
        target("ftp://127.0.0.1/x")
    with pytest.raises(PushError, match="no host"):
        target("https:///x")
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("10.0.0.1") and not is_loopback("localhost.example.org")


def test_a_failing_receiver_is_a_clear_error(stocked: str, failing_receiver: Receiver) -> None:
    done = pace(stocked, "--push", failing_receiver.url)
    assert done.returncode == 1
    assert "the receiver answered HTTP 500" in done.stderr and "Traceback" not in done.stderr
    assert len(failing_receiver.bodies) == 1


def test_a_silent_receiver_times_out(stocked: str, silent_receiver: Receiver) -> None:
    started = time.monotonic()
    done = pace(stocked, "--push", silent_receiver.url, "--timeout", "0.5")
    assert done.returncode == 1 and "no answer within 0.5 s" in done.stderr
    assert time.monotonic() - started < 30


def test_nobody_listening_is_a_clear_error_without_the_urls_secrets(stocked: str) -> None:
    with socket.socket() as s:  # a port that was free a moment ago, now closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = pace(stocked, "--push", f"http://user:pa55word@127.0.0.1:{port}/hook?key=abc123")
    assert done.returncode == 1 and f"http://127.0.0.1:{port}: cannot connect" in done.stderr
    assert "pa55word" not in done.stderr and "abc123" not in done.stderr and "Traceback" not in done.stderr
