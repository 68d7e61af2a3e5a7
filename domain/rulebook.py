"""Rule years (rules.md "Rule year" and "Effective dates"): the rules in force on a date of
service, chosen from dated data.

Every entry carries the first date it applies from: code entries (domain.catalog, with the
date a code stops being payable) and the year's parameters below. For a day, each code's
entry is the latest one that has started, and the year is the latest that has started. A
new rule year is therefore new entries in these tables, never new code: the tests add a
made-up 2027 that way (tests/integration/test_rule_years.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import msgspec

from domain.catalog import CODES, CodeSpec
from domain.facts import Program
from domain.reasons import Because, Reason


class YearRules(msgspec.Struct, frozen=True, kw_only=True):
    """What changes by year besides the codes themselves."""

    name: str
    starts: date
    # P-RPM-1, P-RTM-1: days with data the first device period needs before its setup code
    # (99453, 98975) is billable: 16 before 2026, 2 once 99445 exists.
    setup_min_days: int
    # P-CCM-2: 12 months before the first CCM month; P-APCM-1: 3 years.
    visit_lookback_months: dict[Program, int]


LOOKBACKS = {Program.CCM: 12, Program.APCM: 36}
YEARS: tuple[YearRules, ...] = (
    # The first year also governs every earlier date of service.
    YearRules(name="2025", starts=date(2025, 1, 1), setup_min_days=16, visit_lookback_months=LOOKBACKS),
    YearRules(name="2026", starts=date(2026, 1, 1), setup_min_days=2, visit_lookback_months=LOOKBACKS),
)


class RuleSet:
    """The rules of one date of service: the year's parameters and each code's entry."""

    def __init__(self, year: YearRules, codes: dict[str, CodeSpec], book: Rulebook) -> None:
        self.year = year
        self.codes = codes
        self.book = book

    @property
    def name(self) -> str:
        return self.year.name

    def spec(self, code: str) -> CodeSpec | None:
        return self.codes.get(code)

    def codes_of(self, program: Program) -> list[CodeSpec]:
        return [spec for spec in self.codes.values() if spec.program is program]


class Rulebook:
    """Every dated entry; `on(day)` gives the rule set in force that day."""

    def __init__(self, codes: Sequence[CodeSpec] = CODES, years: Sequence[YearRules] = YEARS) -> None:
        self.entries: dict[str, list[CodeSpec]] = {}
        for spec in sorted(codes, key=lambda s: s.valid_from):
            self.entries.setdefault(spec.code, []).append(spec)
        self.years = sorted(years, key=lambda y: y.starts)
        self.on = lru_cache(maxsize=4096)(self._on)

    def extended(self, codes: Sequence[CodeSpec] = (), years: Sequence[YearRules] = ()) -> Rulebook:
        """This book with more entries (a new rule year is data: codes and parameters)."""
        return Rulebook([*(s for specs in self.entries.values() for s in specs), *codes], [*self.years, *years])

    def _on(self, day: date) -> RuleSet:
        year = next((y for y in reversed(self.years) if y.starts <= day), self.years[0])
        codes = {}
        for code, specs in self.entries.items():
            spec = _entry(specs, day)
            if spec is not None and spec.payable_on(day):
                codes[code] = spec
        return RuleSet(year, codes, self)

    def refusal(self, code: str, day: date) -> Because | None:
        """G-11, G-12 and the effective dates: why `code` is not payable on `day`, if it is not."""
        specs = self.entries.get(code)
        if not specs:
            return Because(Reason.CODE_UNKNOWN, f"{code} is not a code the ledger knows")
        spec = _entry(specs, day)
        if spec is None:
            first = specs[0].valid_from
            return Because(Reason.CODE_NOT_YET_EFFECTIVE, f"{code} is payable for dates of service from {first}")
        if not spec.payable_on(day):
            return Because(Reason.CODE_RETIRED, f"{code} is not payable for dates of service from {spec.valid_until}")
        return None


def _entry(specs: list[CodeSpec], day: date) -> CodeSpec | None:
    """The latest entry that has started by `day` (entries are sorted by valid_from)."""
    started = [s for s in specs if s.valid_from <= day]
    return started[-1] if started else None


DEFAULT_RULEBOOK = Rulebook()
