"""One fact per device day: P-RPM-1 counts days with data, not readings, so a feed that
sends every reading records the day once and answers the rest as skipped."""

from __future__ import annotations

from collections.abc import Iterator

from adapters.feeds.items import Item
from domain import facts


def one_per_day(found: Iterator[Item]) -> Iterator[Item]:
    """A device day is one fact (P-RPM-1 counts days, not readings): a day's later rows are
    answered skipped, naming the row that recorded it, as FHIR and the webhook do."""
    first: dict[tuple[str, str, object, bool], str] = {}
    for item in found:
        fact = item.fact
        if isinstance(fact, facts.DataTransmitted):
            key = (fact.patient_id, fact.device_id, fact.transmitted_on, fact.manual)
            if key in first:
                yield Item(item.where, skipped=f"that device day is recorded by {first[key]}")
                continue
            first[key] = item.where
        yield item
