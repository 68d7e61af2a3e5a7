"""The base of every stored fact (domain.records)."""

from __future__ import annotations

import msgspec


class Record(msgspec.Struct, kw_only=True, frozen=True, tag_field="type"):
    """A recorded fact. Who sent it and who keyed it travel with it."""

    source: str | None = None
    recorded_by: str | None = None
