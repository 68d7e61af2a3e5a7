"""The RefusalMemory aggregate: a line refused in a submission, remembered by the
submission's digest and the line's content digest.

The resend policy (README, "Sending again"): a line already answered gets the same answer
when its submission is sent again, whole or in part: the same file rerun after a crash, the
same file sent twice, or two ingests of it at once. An accepted line is found where it was
recorded; a refused one is found here and refused again with the same reasons, not judged
again against a ledger that has moved on (a void later in the file must not turn an earlier
TIME_OVERLAP into an acceptance on the rerun). A line sent in a new submission is judged
afresh: a claim refused PERIOD_OPEN in March may be sent again in April and accepted. With
--reconsider a refused line is judged afresh in its own submission too; accepted then, the
memory is lifted (a later resend is a duplicate); refused again, the first reasons stay.

Each line is remembered by the submission's digest and its line number. Only the digests,
the line number, the fact type and the reasons are kept: the refused claim itself is in the
refusal log (domain.refusal), and other refused facts are not recorded at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from domain.base import Created, LedgerAggregate
from domain.keys import identity_key
from domain.reasons import Because


class Sent(NamedTuple):
    """Where a line came from: the digest of what it came in, its line number there, and
    whether its earlier answer is to be judged afresh (--reconsider)."""

    submission: str
    line: int
    reconsider: bool = False


def memory_key(submission: str, line: int) -> UUID:
    """By line: the submission's digest fixes what each of its lines says, and two equal
    lines of one file are two answers (the second may come after what the first lacked)."""
    return identity_key("RefusedLine", f"{submission}:{line}")


class RefusalMemory(LedgerAggregate):
    TOPIC = "carelane.RefusalMemory"

    def __init__(self, submission: str, line: int, digest: str, fact_type: str, reasons: list[Because]) -> None:
        super().__init__()
        self.submission = submission
        self.line = line
        self.digest = digest
        self.fact_type = fact_type
        self.reasons: list[Because] | None = reasons  # None once judged afresh and accepted

    class Event(LedgerAggregate.Event):
        pass

    class LineRefused(Event, Created):
        TOPIC = "carelane.RefusalMemory.LineRefused.v1"
        submission: str
        line: int
        digest: str
        fact_type: str
        reasons: list[Because]

    class RefusalLifted(Event):
        """Judged afresh (--reconsider) and recorded: sent again, it is a duplicate."""

        TOPIC = "carelane.RefusalMemory.RefusalLifted.v1"

        def assign(self, memory: RefusalMemory) -> None:
            memory.reasons = None

    @classmethod
    def remember(cls, sent: Sent, digest: str, fact_type: str, reasons: list[Because], at: datetime) -> RefusalMemory:
        return cls._create(
            cls.LineRefused,
            id=memory_key(sent.submission, sent.line),
            submission=sent.submission,
            line=sent.line,
            digest=digest,
            fact_type=fact_type,
            reasons=reasons,
            timestamp=at,
        )

    def lift(self, at: datetime) -> None:
        if self.reasons is not None:
            self.trigger_event(RefusalMemory.RefusalLifted, timestamp=at)
