"""Calendar months (G-01), spelled "YYYY-MM": the one owner of their spelling and arithmetic.

A `Month` is a `str`, because that spelling is what facts carry, keys hash and stores hold;
it adds what the rules ask of a month. What leaves this module to be kept (`spelled`,
`window`, `through`, the functions below) is a plain `str`: msgspec encodes no subclass of
str, and a stored month must stay the plain string it always was.
"""

from __future__ import annotations

from datetime import date, timedelta

# The months a MonthView loads, relative to its own: a 30-day device period can start two
# months earlier, and a device code's date of service may fall mid-period, so its period can
# run into the next month (P-RPM-1).
VIEW_MONTHS = (-2, -1, 0, 1)


class Month(str):
    """A calendar month, YYYY-MM."""

    __slots__ = ()

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(f"{day.year:04d}-{day.month:02d}")

    def shifted(self, delta: int) -> Month:
        year, month = int(self[:4]), int(self[5:7])
        index = year * 12 + (month - 1) + delta
        return Month(f"{index // 12:04d}-{index % 12 + 1:02d}")

    @property
    def first(self) -> date:
        return date(int(self[:4]), int(self[5:7]), 1)

    @property
    def last(self) -> date:
        return (self.first + timedelta(days=32)).replace(day=1) - timedelta(days=1)

    @property
    def spelled(self) -> str:
        """The plain string, for anything that is stored or encoded."""
        return str.__str__(self)

    def window(self) -> tuple[str, ...]:
        """This month and those a view loads around it (VIEW_MONTHS), oldest first."""
        return tuple(self.shifted(d).spelled for d in VIEW_MONTHS)

    def through(self, last: str) -> list[str]:
        """This month to `last`, inclusive."""
        out, month = [], self
        while month <= last:
            out.append(month.spelled)
            month = month.shifted(1)
        return out


def month_bounds(month: str) -> tuple[date, date]:
    m = Month(month)
    return m.first, m.last


def shift_month(month: str, delta: int) -> str:
    return Month(month).shifted(delta).spelled


def month_of_day(day: date) -> str:
    """The month a calendar day falls in (for an instant, timing.month_of takes the zone)."""
    return Month.of(day).spelled


def add_months(day: date, months: int) -> date:
    """The same day `months` later (earlier when negative), clamped to the month's end."""
    target = Month.of(day).shifted(months)
    return target.first.replace(day=min(day.day, target.last.day))
