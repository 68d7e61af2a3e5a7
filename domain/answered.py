"""The RefusalMemory aggregate: a line refused in a submission, remembered by the
submission's digest and the line's content digest.

The resend policy (README, "Sending again"): a line already answered gets the same answer
when its submission is sent again, whole or in part: the same file rerun after a crash, the
same file sent twice, or two ingests of it at once. An accepted line is found where it was
recorded; a refused one is found here and refused again with the same reasons, not judged
again against a ledger that has moved on (a void later in the file must not turn an earlier
TIME_OVERLAP into an acceptance on the rerun). A line sent in a new submission is judged
afresh: a claim refused PERIOD_OPEN in March may be sent again in April and accepted.

Only the digests, the fact type and the reasons are kept: the refused claim itself is in the
refusal log (domain.refusal), and other refused facts are not recorded at all.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain.base import Created, LedgerAggregate
from domain.keys import identity_key
from domain.reasons import Because


def memory_key(submission: str, digest: str) -> UUID:
    return identity_key("RefusedLine", f"{submission}:{digest}")


class RefusalMemory(LedgerAggregate):
    TOPIC = "carelane.RefusalMemory"

    def __init__(self, submission: str, digest: str, fact_type: str, reasons: list[Because]) -> None:
        super().__init__()
        self.submission = submission
        self.digest = digest
        self.fact_type = fact_type
        self.reasons = reasons

    class Event(LedgerAggregate.Event):
        pass

    class LineRefused(Event, Created):
        TOPIC = "carelane.RefusalMemory.LineRefused.v1"
        submission: str
        digest: str
        fact_type: str
        reasons: list[Because]

    @classmethod
    def remember(
        cls, submission: str, digest: str, fact_type: str, reasons: list[Because], at: datetime
    ) -> RefusalMemory:
        return cls._create(
            cls.LineRefused,
            id=memory_key(submission, digest),
            submission=submission,
            digest=digest,
            fact_type=fact_type,
            reasons=reasons,
            timestamp=at,
        )
