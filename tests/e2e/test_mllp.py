"""`carelane listen-hl7` as a hospital's interface engine meets it: a real process on
127.0.0.1, MLLP frames byte for byte, AA/AE/AR, and an ACK only for what the store kept (a
listener killed with SIGKILL after an AA has the message on restart; resent, it records once)."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hl7apy.parser import parse_message  # type: ignore[import-untyped]

from tests.e2e.test_cli import carelane

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hl7"
# Until adapters/cli.py imports the command itself, register it before running the CLI.
LAUNCH = "import adapters.commands.hl7; from adapters.cli import main; main()"
TIMEOUT = 20.0


def message(name: str) -> bytes:
    """A fixture as sent on the wire: segments ended by CR."""
    return (FIXTURES / name).read_text().replace("\n", "\r").encode()


class Listener:
    """The listener subprocess, its stdout lines read on a thread so no read can hang the test."""

    def __init__(self, db: str) -> None:
        env = os.environ | {"CARELANE_DB": db, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "listen-hl7", "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        first = self.line()
        assert first.startswith("listening for HL7 v2 over MLLP on 127.0.0.1:"), first
        self.port = int(first.rsplit(":", 1)[1])

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def line(self) -> str:
        try:
            return self.lines.get(timeout=TIMEOUT)
        except queue.Empty:
            self.proc.kill()
            pytest.fail(f"the listener said nothing in {TIMEOUT}s: {self.proc.communicate()[1][-2000:]}")

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=TIMEOUT)
            pytest.fail("the listener did not stop on SIGTERM")


def exchange(sock: socket.socket, payload: bytes) -> bytes:
    """Send bytes, read one whole framed reply."""
    sock.sendall(payload)
    reply = b""
    while not reply.endswith(b"\x1c\r"):
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {reply!r}"
        reply += chunk
    return reply


def framed(payload: bytes) -> bytes:
    return b"\x0b" + payload + b"\x1c\r"


def msa(reply: bytes) -> Any:
    assert reply[:1] == b"\x0b" and reply[-2:] == b"\x1c\r" and reply.count(b"\x0b") == 1
    return parse_message(reply[1:-2].decode()).msa


def events(db: str, kind: str) -> list[dict[str, Any]]:
    result = carelane("events", "--type", kind, db=db)
    assert result.returncode == 0, result.stderr
    return [msgspec.json.decode(x) for x in result.stdout.splitlines() if x.strip()]


@pytest.fixture
def db(sqlite_url: str) -> str:
    registered = carelane(
        "ingest", "-", db=sqlite_url, stdin=b'{"type":"PatientRegistered","patient_id":"PATID1234"}\n'
    )
    assert registered.returncode == 0, registered.stderr
    return sqlite_url


@pytest.fixture
def started(db: str) -> Iterator[list[Listener]]:
    """Listeners the test starts; whatever is still running at the end is killed."""
    running: list[Listener] = []
    yield running
    for listener in running:
        if listener.proc.poll() is None:
            listener.proc.kill()
            listener.proc.wait(timeout=TIMEOUT)


def test_acks_byte_for_byte_and_by_outcome(db: str, started: list[Listener]) -> None:
    listener = Listener(db)
    started.append(listener)
    with listener.connect() as sock:
        # Bytes before the start block are ignored; a frame may arrive in pieces.
        whole = b"\r\n" + framed(message("a01_admit.hl7"))
        sock.sendall(whole[:7])
        time.sleep(0.2)
        reply = exchange(sock, whole[7:])
        assert reply.startswith(b"\x0bMSH|^~\\&|CARELANE|") and reply.endswith(b"\r\x1c\r")
        assert (msa(reply).msa_1.value, msa(reply).msa_2.value) == ("AA", "MSG00001")
        assert listener.line() == "message 1 (MSG00001): AA"
        # The same connection, message after message.
        refused = msa(exchange(sock, framed(message("a01_unknown_patient.hl7"))))
        assert (refused.msa_1.value, refused.msa_2.value) == ("AE", "MSG00007")
        assert refused.msa_3.value.startswith("UNKNOWN_PATIENT")
        assert listener.line() == "message 2 (MSG00007): AE UNKNOWN_PATIENT"
    with listener.connect() as other:
        rejected = msa(exchange(other, framed(message("malformed_order.hl7"))))
        assert (rejected.msa_1.value, rejected.msa_2.value) == ("AR", "MSG00008")
        assert msa(exchange(other, framed(b"not HL7 at all"))).msa_1.value == "AR"
    printed = [listener.line(), listener.line()]
    assert printed == ["message 3 (MSG00008): AR", "message 4: AR"]
    assert not any("EVERYMAN" in x or "PATID" in x for x in printed)  # no PHI on the console
    with listener.connect():  # an idle connection does not hold the stop up
        time.sleep(0.2)
        assert listener.stop() == 0
    assert listener.line() == "stopped after 4 messages"
    assert len(events(db, "FacilityStayStarted")) == 1


def test_an_acknowledged_message_survives_sigkill_and_a_resend_records_once(db: str, started: list[Listener]) -> None:
    first = Listener(db)
    started.append(first)
    with first.connect() as sock:
        assert msa(exchange(sock, framed(message("a03_discharge_home.hl7")))).msa_1.value == "AA"
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    kinds = ("FacilityStayStarted", "FacilityStayEnded", "Discharged")
    before = {kind: events(db, kind) for kind in kinds}
    assert [len(x) for x in before.values()] == [1, 1, 1]
    assert before["Discharged"][0]["fact"]["to_setting"] == "home"

    again = Listener(db)
    started.append(again)
    with again.connect() as sock:
        assert msa(exchange(sock, framed(message("a03_discharge_home.hl7")))).msa_1.value == "AA"
    assert again.stop() == 0
    assert {kind: events(db, kind) for kind in kinds} == before
