"""An MLLP listener for HL7 v2 ADT feeds (`carelane listen-hl7`, interface.md section 3).

MLLP frames each message as 0x0B message 0x1C 0x0D; bytes before 0x0B are ignored, as the
protocol asks. Each message is turned into facts (hl7_feed.message_items), recorded and
committed, and only then acknowledged in a frame of its own: AA when every fact was accepted
(a resent one is accepted again, recorded once) or there was nothing to record, AE naming the
refusal reasons, AR for a malformed or invalid message (nothing of it recorded). A connection
carries one message at a time; several may be open. The ledger is written from one thread,
one message after another, so answers keep the order messages were recorded in.
SIGTERM/SIGINT: stop accepting, let a message being recorded finish and be answered, exit.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import structlog

from adapters.feeds.hl7_ack import ack
from adapters.feeds.hl7_feed import message_items
from adapters.feeds.items import FeedResult, Item, record
from adapters.feeds.mappings import DEFAULT, Mappings
from domain.ledger import Ledger

START, END = b"\x0b", b"\x1c\x0d"
MAX_MESSAGE = 1024 * 1024  # an ADT message is a few KiB; more is not a feed we know
IDLE = 300.0  # seconds a connection may sit mid-frame or silent before it is closed
MAX_CONNECTIONS = 64  # interface engines keep one or a few open; more is a leak or an attack
STOP_GRACE = 30.0  # seconds a message being recorded gets to finish on SIGTERM
STORE_FAILED = "nothing acknowledged as recorded: the store failed; send the message again"

log = structlog.get_logger("carelane.hl7")


@dataclass(frozen=True)
class Answer:
    """What a message got, for the console: no PHI (its number, control id, code, reasons)."""

    where: str
    code: str
    reasons: tuple[str, ...] = ()
    note: str = ""

    def line(self) -> str:
        return " ".join(x for x in (f"{self.where}: {self.code}", " ".join(self.reasons), self.note) if x)


def frame(text: str) -> bytes:
    """A message in its MLLP block; every segment, the last one too, ends with CR."""
    return START + text.rstrip("\r").encode("utf-8") + b"\r" + END


def decode(raw: bytes) -> str:
    """UTF-8, else Latin-1 (older feeds send 8859/1; every byte decodes)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def verdict(found: list[Item], results: list[FeedResult]) -> tuple[str, str, tuple[str, ...]]:
    """The ACK code, its text and the reason codes for a message's items and their answers."""
    errors = [x.error for x in found if x.error is not None]
    if errors:
        return "AR", "; ".join(errors), ()
    refused = [r for answer in results if answer.status == "refused" for r in answer.reasons or ()]
    if refused:
        codes = tuple(dict.fromkeys(r.code.value for r in refused))
        said = "; ".join(dict.fromkeys(f"{r.code.value}: {r.message}" for r in refused))
        kept = [a.fact_type for a in results if a.status == "accepted" and a.fact_type]
        # Facts of a message are recorded one by one: say which were, so a resend is understood.
        return "AE", said + (f" (recorded: {', '.join(kept)})" if kept else " (nothing recorded)"), codes
    return "AA", "; ".join(x.skipped for x in found if x.skipped is not None), ()


async def read_frame(reader: asyncio.StreamReader) -> bytes | None:
    """The next message's bytes, or None when the peer closed (a frame it never finished was
    never answered, so the sender still has it)."""
    try:
        data = await reader.readuntil(END)
    except asyncio.IncompleteReadError:
        return None
    start = data.find(START)
    return data[start + 1 : -len(END)] if start >= 0 else data[: -len(END)]


class Listener:
    def __init__(
        self, ledger: Ledger, *, zone: ZoneInfo, mappings: Mappings = DEFAULT,
        on_answer: Callable[[Answer], None] = lambda _: None,
    ) -> None:  # fmt: skip
        self.ledger, self.zone, self.mappings, self.on_answer = ledger, zone, mappings, on_answer
        self.received = 0
        # One writer thread: messages are recorded one at a time, whatever the connections.
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="carelane-hl7")
        self._connections: set[asyncio.Task[None]] = set()
        self._busy: set[asyncio.Task[None]] = set()
        self._stopping = False

    def answer(self, raw: bytes) -> bytes:
        """One message recorded (committed) and its framed ACK. Runs on the writer thread."""
        text = decode(raw)
        self.received += 1
        try:
            found = message_items(text, self.received, zone=self.zone, mappings=self.mappings)
        except Exception as e:  # a message hl7apy cannot read: answered AR, never a dropped connection
            found = [Item(f"message {self.received}", error=f"not a readable HL7 v2 message ({type(e).__name__})")]
        results: list[FeedResult] = []
        note = ""
        try:
            if not any(x.error is not None for x in found):
                record(self.ledger, found, results.append)
            code, text_out, reasons = verdict(found, results)
        except Exception as e:  # the store, not the message: say so, and keep listening
            log.error("hl7.store_failed", error=type(e).__name__)
            code, text_out, reasons, note = "AE", STORE_FAILED, (), "store failed"
        where = found[0].where if found else f"message {self.received}"
        log.info("hl7.message", where=where, code=code, reasons=list(reasons))
        self.on_answer(Answer(where, code, reasons, note))
        return frame(ack(text, code, text_out))

    async def serve(self, host: str, port: int, on_ready: Callable[[str, int], None]) -> None:
        """Listen until SIGTERM or SIGINT; `on_ready` gets the address bound (port 0: any)."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        server = await asyncio.start_server(self._connection, host, port, limit=MAX_MESSAGE)
        try:
            bound = server.sockets[0].getsockname()
            on_ready(str(bound[0]), int(bound[1]))
            await stop.wait()
        finally:
            server.close()
            await self._stop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            self._worker.shutdown(wait=True)

    async def _stop(self) -> None:
        """Idle connections are closed now; one whose message is being recorded is answered first."""
        self._stopping = True
        for task in self._connections - self._busy:
            task.cancel()
        if self._connections:
            await asyncio.wait(set(self._connections), timeout=STOP_GRACE)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        if len(self._connections) >= MAX_CONNECTIONS:
            log.warning("hl7.too_many_connections", open=len(self._connections))
            writer.close()
            return
        self._connections.add(task)
        try:
            while not self._stopping:
                raw = await asyncio.wait_for(read_frame(reader), IDLE)
                if raw is None:
                    break
                self._busy.add(task)
                try:
                    writer.write(await asyncio.get_running_loop().run_in_executor(self._worker, self.answer, raw))
                    await writer.drain()
                finally:
                    self._busy.discard(task)
        except asyncio.LimitOverrunError:  # no end of frame within the limit: answer, then hang up
            writer.write(frame(ack("", "AR", f"message longer than {MAX_MESSAGE} bytes")))
        except asyncio.CancelledError:  # closed by _stop while waiting for a message
            pass
        except TimeoutError:  # silent, or a frame never finished: the sender still has it
            log.info("hl7.connection_idle")
        except ConnectionError:
            log.info("hl7.connection_lost")
        finally:
            self._connections.discard(task)
            writer.close()


def run(listener: Listener, host: str, port: int, on_ready: Callable[[str, int], None]) -> None:
    asyncio.run(listener.serve(host, port, on_ready))
