"""The MonthClose aggregate: a month's closes and re-opens, one short stream per month.

A close says what was billed for the month (each claim with its codes and status, and the
claimed amount by program), where the hash chain stood when it was taken, and carries the
practice's Ed25519 signature over all of that (signed by the adapter: the private key never
enters the ledger). A re-open names its reason; the month can then be closed again, with a
new signed close. Facts for a closed month are still accepted; they are flagged after close
(projections.after_close)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import msgspec

from domain.base import Created, LedgerAggregate
from domain.keys import uuid5


def month_close_key(month: str) -> UUID:
    return uuid5(f"month-close:{month}")


class ClosedLine(msgspec.Struct, frozen=True):
    code: str
    units: int
    amount: str  # the fee schedule's amount for the line, "0.00"


class ClosedClaim(msgspec.Struct, frozen=True):
    claim_id: str
    patient_id: str
    status: str  # interface.md section 4's claim status when the month was closed
    lines: list[ClosedLine]


class CloseContent(msgspec.Struct, frozen=True):
    """What a close signs. Every field is a plain string, integer, list or map, so the
    canonical bytes read back from the store are the bytes that were signed."""

    month: str
    sequence: int  # 1 for the month's first close, 2 for the close after the first re-open...
    closed_at: str  # ISO 8601 instant, UTC
    closed_by: str
    fee_schedule: str  # the schedule that priced the lines
    claims: list[ClosedClaim]
    totals: dict[str, str]  # program -> claimed amount of the claims not voided
    chain_position: int  # the hash chain's tip when the close was taken...
    chain_hash: str  # ...and its hash (hex): facts after this position are after close
    public_key: str  # the practice's Ed25519 public key, raw, hex


def canonical(content: CloseContent) -> bytes:
    """The bytes signed: msgspec JSON with the keys sorted."""
    return msgspec.json.encode(content, order="sorted")


@dataclass(frozen=True)
class Close:
    content: CloseContent
    signature: str  # Ed25519 over canonical(content), hex
    version: int  # of the event that recorded it


@dataclass(frozen=True)
class Reopening:
    sequence: int  # the close it re-opened
    reason: str
    by: str
    at: datetime
    version: int


class MonthClose(LedgerAggregate):
    TOPIC = "carelane.MonthClose"

    def __init__(self, month: str) -> None:
        super().__init__()
        self.month = month
        self.closes: list[Close] = []
        self.reopenings: list[Reopening] = []

    class Event(LedgerAggregate.Event):
        pass

    class Opened(Event, Created):
        TOPIC = "carelane.MonthClose.Opened.v1"
        month: str

    class MonthClosed(Event):
        TOPIC = "carelane.MonthClose.MonthClosed.v1"
        content: CloseContent
        signature: str

        def assign(self, mc: MonthClose) -> None:
            mc.closes.append(Close(self.content, self.signature, self.originator_version))

    class MonthReopened(Event):
        TOPIC = "carelane.MonthClose.MonthReopened.v1"
        sequence: int
        reason: str
        reopened_by: str

        def assign(self, mc: MonthClose) -> None:
            mc.reopenings.append(
                Reopening(self.sequence, self.reason, self.reopened_by, self.timestamp, self.originator_version)
            )

    @property
    def closed(self) -> bool:
        return len(self.closes) > len(self.reopenings)

    @property
    def next_sequence(self) -> int:
        return len(self.closes) + 1

    @classmethod
    def open(cls, month: str, at: datetime) -> MonthClose:
        return cls._create(cls.Opened, id=month_close_key(month), month=month, timestamp=at)

    def close(self, content: CloseContent, signature: str, at: datetime) -> None:
        self.trigger_event(MonthClose.MonthClosed, content=content, signature=signature, timestamp=at)

    def reopen(self, reason: str, by: str, at: datetime) -> None:
        sequence = len(self.closes)
        self.trigger_event(MonthClose.MonthReopened, sequence=sequence, reason=reason, reopened_by=by, timestamp=at)
