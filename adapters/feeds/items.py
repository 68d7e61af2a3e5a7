"""What every feed yields: an Item per fact it found (or per row, resource or message it
could not use), named the way its sender knows it, and `record`, which answers each one."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import msgspec

from adapters.ingest import BATCH, LineResult, Source, Tally, _result, fewer_collections, record_batches
from adapters.lines import controlled, describe
from domain import facts


class FeedError(Exception):
    """The whole input is unusable (not CSV, not that kind, not FHIR, not HL7): the message
    says why in a sentence, naming the file's line or element, never a value or a regex."""


@dataclass(frozen=True)
class Item:
    """One fact from a feed, or why there is none. `where` names it as its sender knows it:
    `row 7`, `Condition/abc-1`, `message 3 (MSG00042)`. Exactly one of fact, error and
    skipped is set. `error` names the field (a column, a FHIR element, an HL7 field) and
    never repeats a value that may be PHI."""

    where: str
    fact: facts.Fact | None = None
    error: str | None = None
    skipped: str | None = None


def fact_item(where: str, data: dict[str, Any], names: dict[str, str] | None = None) -> Item:
    """A fact built from a dict holding `type` and the contract's fields, validated as an
    NDJSON line is (types, patterns, limits, input rules). An error names the field by the
    sender's name for it (`names`: contract field -> column or element), else by its path."""
    bad = controlled(data, "$")
    if bad is not None:  # as on the NDJSON path: a NUL or newline would corrupt rows and logs
        return Item(where, error=_named(f"{bad}: expected text without control characters", names))
    try:
        fact = msgspec.convert(data, facts.AnyFact, strict=False)
    except msgspec.ValidationError as e:
        return Item(where, error=_named(describe(str(e), msgspec.json.encode(data)), names))
    problem = facts.input_problem(fact)
    if problem is not None:
        return Item(where, error=_named(problem, names))
    return Item(where, fact=fact)


def _named(message: str, names: dict[str, str] | None) -> str:
    for field, name in (names or {}).items():
        message = message.replace(f"$.{field}:", f"{name}:").replace(f"$.{field} ", f"{name} ")
    return message


class FeedResult(LineResult, omit_defaults=True):
    """An item's answer: the report shape of interface.md section 2, with the item named
    (`item`) and `skipped` for input the ledger has no use for."""

    item: str = ""
    fact_type: str | None = None


def record(
    ledger: Any, items: Iterable[Item], on_result: Callable[[FeedResult], None], *, batch: int = BATCH,
    submission: str | None = None, reconsider: bool = False,
) -> Tally:  # fmt: skip
    """Answer every item in order; facts are recorded in batches, as bulk ingest records them.
    `submission` (the input's digest) gives a resent item the answer it got before."""
    source: Source = None if submission is None else (submission, reconsider)
    tally = Tally()
    held: deque[list[tuple[int, Item]]] = deque()

    def report(n: int, item: Item, result: LineResult) -> None:
        answer = FeedResult(**msgspec.structs.asdict(result), item=item.where,
                            fact_type=type(item.fact).__name__ if item.fact else None)  # fmt: skip
        tally.add(answer)
        on_result(answer)

    with fewer_collections():
        for outcomes in record_batches(ledger, _batches(items, max(batch, 1), held), source):
            decided = iter(outcomes)
            for n, item in held.popleft():
                if item.fact is not None:
                    report(n, item, _result(n, next(decided)))
                elif item.error is not None:
                    report(n, item, LineResult(n, "invalid", error=f"{item.where}: {item.error}"))
                else:
                    report(n, item, LineResult(n, "skipped", error=f"{item.where}: {item.skipped}"))
    return tally


def _batches(
    items: Iterable[Item], size: int, held: deque[list[tuple[int, Item]]]
) -> Iterator[list[tuple[int, facts.Fact]]]:
    group: list[tuple[int, Item]] = []
    count = 0
    for n, item in enumerate(items, start=1):
        group.append((n, item))
        count += item.fact is not None
        if count >= size:
            held.append(group)
            yield [(k, x.fact) for k, x in group if x.fact is not None]
            group, count = [], 0
    if group:
        held.append(group)
        yield [(k, x.fact) for k, x in group if x.fact is not None]
