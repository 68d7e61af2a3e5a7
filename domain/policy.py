"""Practice-level settings that rules read. Defaults are the stricter readings of rules.md."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import msgspec


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    # G-01: months are calendar months in the practice's time zone.
    timezone: str = "America/New_York"
    # G-13: a fact recorded more than this long after it happened is flagged late.
    late_after: timedelta = timedelta(days=7)
    # G-13: clocks of sending systems drift; an instant this far ahead is not "future".
    clock_tolerance: timedelta = timedelta(minutes=5)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


DEFAULT_POLICY = Policy()
