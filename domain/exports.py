"""What went out to the clearinghouse and what came back: the register of interchange
control numbers, each 837P batch as sent, and each file received (999, 277CA, 835).

A claim goes out once as an original (frequency 1). It goes out again as an original only
after a rejection (the payer never had it), and once as a void (8) when a void of a claim
the payer holds was requested."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import msgspec

from domain.base import Created, LedgerAggregate
from domain.keys import uuid5
from domain.state import ORIGINAL, VOID, Claim

EXPORTS_KEY = uuid5("exports")


def receipt_key(sha256: str) -> UUID:
    return uuid5(f"received:{sha256}")


def batch_key(batch_id: str) -> UUID:
    return uuid5(f"export-batch:{batch_id}")


def frequency_due(claim: Claim) -> str | None:
    """The claim frequency code this claim goes out with next, or None when nothing is due.
    An unsupported claim (G-16) stays out; a void waits for the payer's claim number."""
    if claim.void_requested is not None and claim.voided is None:
        due = claim.void_sent is None and claim.payer_claim_number is not None
        return VOID if due else None
    if not claim.live or claim.withdrawn is not None or claim.outcome is not None:
        return None
    return ORIGINAL if claim.clearing in (None, "rejected") else None


def still_as_sent(claim: Claim, batch_id: str, frequency: str) -> bool:
    """Whether the claim stands exactly as this batch left it, so the batch may be sent again:
    the batch is its latest, and nothing has answered, voided or withdrawn it since."""
    if not claim.batches or claim.batches[-1] != batch_id:
        return False
    if frequency == VOID:
        return claim.void_sent == batch_id and claim.voided is None
    unanswered = claim.outcome is None and claim.withdrawn is None and claim.void_requested is None
    return claim.live and unanswered and claim.clearing == "exported"


class ExportedClaim(msgspec.Struct, frozen=True):
    claim_id: str
    patient_id: str
    month: str
    frequency: str


class ExportRegister(LedgerAggregate):
    """Interchange control numbers in use: each batch takes the next, never one used before."""

    TOPIC = "carelane.ExportRegister"

    def __init__(self) -> None:
        super().__init__()
        self.last_control = 0
        self.batches: dict[int, str] = {}  # control number -> batch id

    class Event(LedgerAggregate.Event):
        pass

    class Opened(Event, Created):
        TOPIC = "carelane.ExportRegister.Opened.v1"

    class ControlUsed(Event):
        TOPIC = "carelane.ExportRegister.ControlUsed.v1"
        control: int
        batch_id: str

        def assign(self, r: ExportRegister) -> None:
            r.last_control = self.control  # the latest batch's: the next is the one after it
            r.batches[self.control] = self.batch_id

    @classmethod
    def open(cls, at: datetime) -> ExportRegister:
        return cls._create(cls.Opened, id=EXPORTS_KEY, timestamp=at)

    def use(self, control: int, batch_id: str, at: datetime) -> None:
        self.trigger_event(ExportRegister.ControlUsed, control=control, batch_id=batch_id, timestamp=at)


class ExportBatch(LedgerAggregate):
    """One 837P file as it was sent: its claims, control number, bytes and digest, and the
    clearinghouse's 999 answer when it comes."""

    TOPIC = "carelane.ExportBatch"

    def __init__(
        self, batch_id: str, control: int, month: str, practice_id: str, usage: str, sha256: str,
        claims: list[ExportedClaim], text: str,
    ) -> None:  # fmt: skip
        super().__init__()
        self.batch_id, self.control, self.month, self.practice_id = batch_id, control, month, practice_id
        self.usage, self.sha256, self.claims, self.text = usage, sha256, claims, text
        self.answer: bool | None = None  # the 999: accepted or rejected
        self.errors: list[str] = []

    class Event(LedgerAggregate.Event):
        pass

    class BatchExported(Event, Created):
        TOPIC = "carelane.ExportBatch.BatchExported.v1"
        batch_id: str
        control: int
        month: str
        practice_id: str
        usage: str  # ISA15: T test, P production
        sha256: str
        claims: list[ExportedClaim]
        text: str

    class BatchAcknowledged(Event):
        TOPIC = "carelane.ExportBatch.BatchAcknowledged.v1"
        accepted: bool
        errors: list[str]

        def assign(self, b: ExportBatch) -> None:
            b.answer, b.errors = self.accepted, self.errors

    @classmethod
    def create(
        cls, batch_id: str, control: int, month: str, practice_id: str, usage: str, sha256: str,
        claims: list[ExportedClaim], text: str, at: datetime,
    ) -> ExportBatch:  # fmt: skip
        return cls._create(
            cls.BatchExported, id=batch_key(batch_id), batch_id=batch_id, control=control, month=month,
            practice_id=practice_id, usage=usage, sha256=sha256, claims=claims, text=text, timestamp=at,
        )  # fmt: skip

    def acknowledge(self, accepted: bool, errors: list[str], at: datetime) -> bool:
        if self.answer is accepted and self.errors == errors:
            return False
        self.trigger_event(ExportBatch.BatchAcknowledged, accepted=accepted, errors=errors, timestamp=at)
        return True


class Receipt(LedgerAggregate):
    """A file received from a clearinghouse or payer, keyed by its sha256: the same file
    received twice is recorded once."""

    TOPIC = "carelane.Receipt"

    def __init__(self, kind: str, sha256: str, control: str, claims: list[str], unknown: list[str]) -> None:
        super().__init__()
        self.kind, self.sha256, self.control, self.claims, self.unknown = kind, sha256, control, claims, unknown

    class Event(LedgerAggregate.Event):
        pass

    class FileReceived(Event, Created):
        TOPIC = "carelane.Receipt.FileReceived.v1"
        kind: str  # 999, 277CA or 835
        sha256: str
        control: str  # the interchange control number
        claims: list[str]  # the claim ids it answered
        unknown: list[str]  # claim ids it named that the ledger does not know

    @classmethod
    def create(
        cls, kind: str, sha256: str, control: str, claims: list[str], unknown: list[str], at: datetime
    ) -> Receipt:
        return cls._create(
            cls.FileReceived, id=receipt_key(sha256), kind=kind, sha256=sha256, control=control, claims=claims,
            unknown=unknown, timestamp=at,
        )  # fmt: skip
