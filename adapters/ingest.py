"""NDJSON facts in, one answer per line out (interface.md section 2).

Each line is decoded against the tagged union of the contract and recorded on its own, so
one bad line never aborts the rest and nothing accepted is lost if a later line fails or
the process stops: rerunning the same file converges, because ids and digests make every
line idempotent.
"""

from __future__ import annotations

import contextlib
import gc
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from uuid import UUID

import msgspec
import structlog
from eventsourcing.persistence import IntegrityError

from adapters import batch as batching
from adapters.batch import Judged
from adapters.lines import (
    CLAIM_FACTS as CLAIM_FACTS,
    NOT_CLAIMS as NOT_CLAIMS,
    Invalid as Invalid,
    decode_line as decode_line,
    decode_only,
)
from domain import facts
from domain.answered import Sent
from domain.ledger import Contention, Ledger, Outcome, Recorded
from domain.reasons import Because, Reason, Refused

log = structlog.get_logger("carelane.ingest")
BATCH = 2000  # facts judged one by one, saved in one transaction (fewer commits and table locks)


class LineResult(msgspec.Struct, omit_defaults=True):
    """One line's answer, exactly the report shape of interface.md section 2."""

    line: int
    status: str  # accepted | refused | invalid
    reasons: list[Because] | None = None
    error: str | None = None
    position: int | None = None
    file: str | None = None
    duplicate: bool = False


def answer(
    ledger: Ledger,
    raw: bytes | str,
    lineno: int,
    only: tuple[type[facts.Fact], ...] = (),
    sent: Sent | None = None,
) -> LineResult:
    """Decode and record one line; never raises for anything the line itself holds."""
    try:
        fact = decode_only(raw, lineno, only)
    except Invalid as e:
        return LineResult(lineno, "invalid", error=str(e))
    return _result(lineno, ledger.outcome(fact, sent))


class Tally:
    """Running counts for the summary and the exit code."""

    def __init__(self) -> None:
        self.status: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self.duplicates = 0

    def add(self, result: LineResult) -> None:
        self.status[result.status] += 1
        self.duplicates += result.duplicate
        for reason in result.reasons or ():
            self.reasons[reason.code.value] += 1

    @property
    def exit_code(self) -> int:
        """interface.md section 3: 0 all accepted, 3 some refused, 2 some invalid."""
        if self.status["invalid"]:
            return 2
        return 3 if self.status["refused"] else 0

    def summary(self, noun: str = "line") -> str:
        total = sum(self.status.values())
        lines = [
            f"{total} {noun}{'' if total == 1 else 's'}: {self.status['accepted']} accepted"
            f" ({self.duplicates} already recorded), {self.status['refused']} refused,"
            f" {self.status['invalid']} invalid"
        ]
        lines += [f"  refused {code}: {n}" for code, n in self.reasons.most_common()]
        return "\n".join(lines)


BOM = b"\xef\xbb\xbf"


def numbered(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """(line number, content) for every non-blank line; numbers count blank lines too. A
    UTF-8 byte order mark before the first line (spreadsheet exports) is not content."""
    for lineno, raw in enumerate(lines, start=1):
        if lineno == 1 and raw.startswith(BOM):
            raw = raw[len(BOM) :]
        if raw.strip():
            yield lineno, raw


@contextlib.contextmanager
def fewer_collections() -> Iterator[None]:
    """Bulk work allocates millions of short-lived objects (events, facts, rows), and the
    collector's default thresholds then trigger a collection every few hundred of them; a
    rarer one made bulk ingest about a quarter faster here. Restored afterwards."""
    before = gc.get_threshold()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def record_batches(
    ledger: Ledger, batches: Iterable[Sequence[Numbered]], source: Source = None
) -> Iterator[list[Outcome]]:
    """Each batch judged, written in one transaction and answered, fact by fact in order. A
    batch is written while the next one is judged: the database's share of bulk ingest (about
    a fifth of it, measured) overlaps Python's. The next batch is judged against the writing
    batch's aggregates (newer than the store); if that write loses a race, it is redone fact
    by fact and the next batch judged again from the store."""
    with ThreadPoolExecutor(1, thread_name_prefix="carelane-write") as writer:
        pending: tuple[Judged, Future[dict[tuple[UUID | str, int], int]], list[Sent | None]] | None = None
        for numbered_batch in batches:
            batch = [fact for _, fact in numbered_batch]
            sents = [_sent(source, lineno) for lineno, _ in numbered_batch]
            judged = batching.judge(ledger, batch, pending[0].aggregates if pending else None, sents)
            if pending is not None:
                answers, written = _finish(ledger, *pending)
                pending = None
                yield answers
                if not written:
                    batching.abandon(ledger, judged.attempts if judged else [])
                    judged = batching.judge(ledger, batch, None, sents)
            if judged is None:
                yield halves(ledger, batch, sents)
                continue
            pending = judged, writer.submit(batching.write, ledger, judged), sents
        if pending is not None:
            yield _finish(ledger, *pending)[0]


SMALL = 16  # a batch this short that still cannot be judged whole goes fact by fact


def halves(ledger: Ledger, batch: Sequence[facts.Fact], sents: Sequence[Sent | None]) -> list[Outcome]:
    """A batch that cannot be judged whole (a claim another practice holds, a refusal after a
    change), judged in halves, each written whole where it can be: one such fact costs about
    a dozen smaller batches, not a transaction for each of the batch's facts."""
    if len(batch) <= SMALL:
        return [ledger.outcome(fact, sent) for fact, sent in zip(batch, sents, strict=True)]
    out: list[Outcome] = []
    for part in (slice(0, len(batch) // 2), slice(len(batch) // 2, None)):
        judged = batching.judge(ledger, batch[part], None, sents[part])
        if judged is None:
            out += halves(ledger, batch[part], sents[part])
            continue
        try:
            out += batching.answers(ledger, judged, batching.write(ledger, judged))
        except IntegrityError:
            batching.abandon(ledger, judged.attempts)
            out += [ledger.outcome(fact, sent) for fact, sent in zip(batch[part], sents[part], strict=True)]
    return out


Numbered = tuple[int, facts.Fact]  # a fact and its line number
Source = tuple[str, bool] | None  # the submission's digest, and --reconsider; None: no memory


def _sent(source: Source, lineno: int) -> Sent | None:
    return None if source is None else Sent(source[0], lineno, source[1])


def _finish(
    ledger: Ledger, judged: Judged, write: Future[dict[tuple[UUID | str, int], int]], sents: list[Sent | None]
) -> tuple[list[Outcome], bool]:
    """A written batch's answers, and whether its write went through (else: fact by fact)."""
    try:
        positions = write.result()
    except IntegrityError:
        log.info("batch.conflict_fallback", facts=len(judged.batch))
        batching.abandon(ledger, judged.attempts)
        return [ledger.outcome(fact, sent) for fact, sent in zip(judged.batch, sents, strict=True)], False
    return batching.answers(ledger, judged, positions), True


Held = list[tuple[int, facts.Fact | LineResult]]  # a batch's lines: a fact, or its answer already


def ingest(
    ledger: Ledger,
    lines: Iterable[bytes],
    on_result: Callable[[LineResult], None],
    only: tuple[type[facts.Fact], ...] = (),
    batch: int = 1,
    submission: str | None = None,
    reconsider: bool = False,
) -> Tally:
    """Answer every line in order. With batch > 1, up to that many facts are judged one by
    one and saved in one transaction (each still answered on its own). `submission` is the
    digest of what the lines came in: sent again, each line gets the answer it got (a line
    refused before is refused again, domain.answered); None judges every line afresh, and so
    does `reconsider` (keeping what it finds for later resends)."""
    source: Source = None if submission is None else (submission, reconsider)
    tally = Tally()

    def report(result: LineResult) -> None:
        tally.add(result)
        on_result(result)

    if batch <= 1:
        for lineno, raw in numbered(lines):
            report(answer(ledger, raw, lineno, only, _sent(source, lineno)))
        return tally
    held: deque[Held] = deque()
    with fewer_collections():
        for outcomes in record_batches(ledger, _batches(lines, only, batch, held), source):
            decided = iter(outcomes)
            for lineno, item in held.popleft():
                report(item if isinstance(item, LineResult) else _result(lineno, next(decided)))
    return tally


def _batches(
    lines: Iterable[bytes], only: tuple[type[facts.Fact], ...], size: int, held: deque[Held]
) -> Iterator[list[Numbered]]:
    """The facts of each batch of `size` decoded lines, with their line numbers; every line of it is also put on
    `held`, an invalid one with its answer, to be answered in order once the batch is."""
    lines_held: Held = []
    count = 0
    for lineno, raw in numbered(lines):
        try:
            lines_held.append((lineno, decode_only(raw, lineno, only)))
            count += 1
        except Invalid as e:
            lines_held.append((lineno, LineResult(lineno, "invalid", error=str(e))))
        if count >= size:
            held.append(lines_held)
            yield [(n, x) for n, x in lines_held if isinstance(x, facts.Fact)]
            lines_held, count = [], 0
    if lines_held:
        held.append(lines_held)
        yield [(n, x) for n, x in lines_held if isinstance(x, facts.Fact)]


def _result(lineno: int, outcome: Recorded | Refused | Contention) -> LineResult:
    if isinstance(outcome, Refused):
        return LineResult(lineno, "refused", reasons=list(outcome.reasons))
    if isinstance(outcome, Contention):
        return LineResult(lineno, "refused", reasons=[Because(Reason.BUSY, str(outcome))])
    return LineResult(lineno, "accepted", position=outcome.position, duplicate=outcome.duplicate)
