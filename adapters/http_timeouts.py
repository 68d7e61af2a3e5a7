"""A header-read timeout for uvicorn's HTTP/1.1 protocol: a client that opens a connection and
sends its request line and headers slowly (or not at all) is cut off. uvicorn's own
keep-alive timeout is reset by every byte received, so a client trickling a byte at a time
would hold a connection, and a worker's slot, for ever."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_SECONDS = 10.0


def header_timeout() -> float:
    """CARELANE_HEADER_TIMEOUT seconds (default 10): tests set a short one."""
    try:
        value = float(os.environ.get("CARELANE_HEADER_TIMEOUT", DEFAULT_SECONDS))
    except ValueError:
        return DEFAULT_SECONDS
    return value if value > 0 else DEFAULT_SECONDS


class HeaderTimeoutProtocol(H11Protocol):
    """The headers of each request must arrive within header_timeout() of the connection
    opening, or of the previous response."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as H11Protocol
        super().connection_made(transport)
        self._seen: Any = None
        self._timer: asyncio.TimerHandle | None = None
        self._arm()

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and self.cycle is not self._seen:  # a request's headers are in
            self._seen = self.cycle
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request's headers are timed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._timer = self.loop.call_later(header_timeout(), self._late)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _late(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.close()
