"""Decisions on the practices the ledger bills for."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from domain import facts
from domain.decisions.work import AlreadyRecorded, Context, Home, Work
from domain.practice import PRACTICES_KEY, Practices


def register_reads(fact: facts.PracticeRegistered, ctx: Context, at: datetime) -> list[UUID]:
    return [PRACTICES_KEY]


def register(w: Work, fact: facts.PracticeRegistered, digest: str) -> Home:
    """A practice's details, recorded once per content; new details replace the old."""
    practices = w.get(PRACTICES_KEY, Practices) or w.add(Practices.open(w.at))
    digest_now, version = practices.standing.get(fact.practice_id, ("", 0))
    if digest_now == digest:  # the details that stand, sent again (older details sent again apply)
        raise AlreadyRecorded(practices.id, version)
    return practices.id, practices.register(fact, digest, w.at)
