"""Business days for TCM (P-TCM-1): Monday to Friday, US federal holidays excluded, with the
observed dates the federal calendar uses. The holiday list comes from the `holidays` library."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _federal(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("US", years=year))


def is_business_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _federal(day.year)


def add_business_days(day: date, count: int) -> date:
    """The `count`-th business day after `day` (day itself not counted)."""
    while count > 0:
        day += timedelta(days=1)
        if is_business_day(day):
            count -= 1
    return day
