"""Property tests: whatever a feed sends, each line is answered accepted, refused or invalid,
never with a crash, and the store still verifies afterwards."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings, strategies as st

from adapters import chain
from adapters.ingest import answer
from adapters.store import open_ledger
from domain import facts
from tests.conftest import Clock
from tests.factories import enrolled, minutes, one_of_each

ENC = msgspec.json.Encoder()
VALID = [msgspec.json.decode(ENC.encode(f)) for f in one_of_each("F1")]
FIELDS = sorted({k for d in VALID for k in d})
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.floats(allow_nan=False) | st.text(max_size=30)
    | st.sampled_from(["2026-03-02", "2026-03", "2026-03-02T10:00:00-05:00", "99490", "CCM", "P1", "1234567893"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid fact with a few fields changed, dropped or added."""
    line: dict[str, Any] = dict(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 3))):
        key = draw(st.sampled_from([*FIELDS, "extra"]))
        if draw(st.booleans()):
            line.pop(key, None)
        else:
            line[key] = draw(json_values)
    return ENC.encode(line)


lines = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    json_values.map(ENC.encode),
    mutated(),
    st.sampled_from([ENC.encode(v) for v in VALID]),
)


class Store:
    """One ledger for the whole property run (hypothesis reuses it across examples)."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp()) / "fuzz.db"
        self.ledger = open_ledger(f"sqlite:///{self.path}", clock=Clock())
        for fact in [*enrolled("F1"), *minutes(25, "F1", staff="RN-FUZZ")]:
            self.ledger.record(fact)
        self.count = 0


STORE = Store()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, min_size=1, max_size=5))
def test_every_line_gets_an_answer_and_nothing_crashes(batch: list[bytes]) -> None:
    """Random and malformed lines: always accepted, refused or invalid, with the right parts."""
    for n, raw in enumerate(batch, start=1):
        result = answer(STORE.ledger, raw, n)
        STORE.count += 1
        assert result.status in ("accepted", "refused", "invalid")
        if result.status == "invalid":
            assert result.error and result.error.startswith(f"line {n}: $")
        elif result.status == "refused":
            assert result.reasons and all(r.message for r in result.reasons)
        else:
            assert isinstance(result.position, int)


def test_the_store_verifies_after_the_fuzzing() -> None:
    """After every random line, the hash chain over the store is intact."""
    for fact_type in facts.FACT_TYPES:
        answer(STORE.ledger, ENC.encode({"type": fact_type.__name__}), 1)
    assert chain.verify(STORE.ledger.recorder) is None
