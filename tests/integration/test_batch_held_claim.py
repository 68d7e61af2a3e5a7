"""A claim another practice holds, inside a bulk batch (G-07 across practices): refused
PROVIDER_CONFLICT, and the batch's other facts still written in batches, not one
transaction each (adapters.ingest.halves)."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from adapters.ingest import BATCH, SMALL, LineResult, ingest
from domain.ledger import Ledger, Outcome
from tests.factories import claim, enrolled, minutes
from tests.tenants import add_practices, home, with_index

__all__ = ["home"]


def test_a_held_claim_costs_its_batch_a_few_smaller_batches(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """G-07: B's claim for A's patient is refused; B's other 100-odd facts are not recorded one by one."""
    urls = add_practices(home, "A", "B")
    a, b = with_index(urls["A"], "A", home), with_index(urls["B"], "B", home)
    for fact in [*enrolled("R1"), *minutes(45, "R1"), claim("CA", "R1")]:
        a.record(fact)
    facts = [*enrolled("R1"), *minutes(45, "R1"), claim("CB", "R1")]
    facts += [fact for n in range(2, 20) for fact in enrolled(f"R{n}")]
    one_by_one: list[object] = []
    outcome = Ledger.outcome

    def counted(self: Ledger, *args: Any) -> Outcome:
        one_by_one.append(args)
        return outcome(self, *args)

    monkeypatch.setattr(Ledger, "outcome", counted)  # counts the real calls, replaces nothing
    answers: list[LineResult] = []
    ingest(b, [msgspec.json.encode(fact) for fact in facts], answers.append, batch=BATCH)
    refused = [(r.line, [x.code.value for x in r.reasons or ()]) for r in answers if r.status != "accepted"]
    assert refused == [(len(enrolled("R1")) + len(minutes(45, "R1")) + 1, ["PROVIDER_CONFLICT"])]
    assert len(answers) == len(facts) > 4 * SMALL
    assert len(one_by_one) <= SMALL
