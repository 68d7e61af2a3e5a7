"""Every persisted class has an explicit, versioned, unique and resolvable topic."""

from __future__ import annotations

import re

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

from domain import facts
from domain.answered import RefusalMemory
from domain.base import LedgerAggregate
from domain.exports import ExportBatch, ExportRegister, Receipt
from domain.identity import Identity
from domain.month_close import MonthClose
from domain.patient import Patient
from domain.patient_month import PatientMonth
from domain.practice import Practices
from domain.refusal import ClaimRefusal
from domain.staff_day import StaffDay

AGGREGATES = [Patient, PatientMonth, StaffDay, Identity, ClaimRefusal, RefusalMemory, Practices, ExportRegister,
              ExportBatch, Receipt, MonthClose]  # fmt: skip


def event_classes() -> list[type]:
    found = []
    for agg in AGGREGATES:
        for name, value in vars(agg).items():
            if isinstance(value, type) and issubclass(value, CanMutateAggregate) and name != "Event":
                found.append(value)
    return found


def test_every_aggregate_is_a_ledger_aggregate_with_a_topic() -> None:
    """Aggregates carry a pinned topic, so moving a module never orphans their streams."""
    for agg in AGGREGATES:
        assert issubclass(agg, LedgerAggregate)
        assert get_topic(agg) == agg.__dict__["TOPIC"]
        assert resolve_topic(agg.__dict__["TOPIC"]) is agg


def test_event_topics_are_explicit_versioned_unique_and_resolvable() -> None:
    """Each event's topic is set on the class itself, ends in a version, and resolves back."""
    topics = []
    for cls in event_classes():
        topic = cls.__dict__.get("TOPIC")
        assert topic, f"{cls.__qualname__} has no explicit TOPIC"
        assert re.fullmatch(r"carelane\.[A-Za-z]+\.[A-Za-z]+\.v\d+", topic), topic
        assert get_topic(cls) == topic
        assert resolve_topic(topic) is cls
        topics.append(topic)
    assert len(topics) == len(set(topics))


def test_event_names_are_past_tense() -> None:
    """Events say what happened: their names end in a past participle."""
    for cls in event_classes():
        assert re.search(r"(ed|Made|Bound|Setup|Withdrawn)$", cls.__name__), cls.__name__


def test_every_contract_fact_has_an_event_that_stores_it() -> None:
    """Each fact type of interface.md section 1 has a stored form of its own (domain.records),
    with the same fields, and that form is the payload of at least one event class."""
    import typing

    import msgspec

    from domain import records

    stored = set()
    for cls in event_classes():
        hint = typing.get_type_hints(cls).get("fact")
        if hint is not None:
            stored.add(hint)
    for fact_type in facts.FACT_TYPES:
        record = getattr(records, fact_type.__name__)
        assert record in stored, fact_type.__name__
        assert record is not fact_type
        assert record.__struct_fields__ == fact_type.__struct_fields__, fact_type.__name__
        assert msgspec.inspect.type_info(record).tag == msgspec.inspect.type_info(fact_type).tag
