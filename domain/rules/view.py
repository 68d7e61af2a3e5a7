"""What the rules read about one patient and one month: a read-only view over the Patient
aggregate and the MonthFile aggregates of that month, the two before it and the one after
(a 30-day device period can start two calendar months earlier, and a device code's date of
service may fall mid-period, so its period can run into the next month: P-RPM-1)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from domain import facts, records
from domain.catalog import CodeSpec
from domain.month import month_bounds
from domain.policy import Policy
from domain.rulebook import DEFAULT_RULEBOOK, Rulebook, RuleSet
from domain.state import Claim, MonthFile, PatientFile
from domain.timing import local_day


@dataclass(frozen=True)
class Period:
    """A 30-day device period (G-01) of one program, from its first day."""

    program: facts.Program
    start: date

    @property
    def end(self) -> date:
        return self.start + timedelta(days=29)


@dataclass
class MonthView:
    patient: PatientFile
    month: str
    policy: Policy
    months: Mapping[str, MonthFile] = field(default_factory=dict)  # VIEW_MONTHS around this one
    rulebook: Rulebook = DEFAULT_RULEBOOK
    # When set, only these time entries count: those a claim was accepted on (G-16).
    entry_ids: frozenset[str] | None = None

    @cached_property
    def bounds(self) -> tuple[date, date]:
        return month_bounds(self.month)

    @cached_property
    def rules(self) -> RuleSet:
        """The rule year of this month's dates of service."""
        return self.rulebook.on(self.first)

    def rules_on(self, day: date | None) -> RuleSet:
        return self.rules if day is None else self.rulebook.on(day)

    def after_death(self, day: date) -> bool:
        """G-18: no service dated after the patient's death counts."""
        return self.patient.died_on is not None and day > self.patient.died_on

    @property
    def first(self) -> date:
        return self.bounds[0]

    @property
    def last(self) -> date:
        return self.bounds[1]

    @property
    def current(self) -> MonthFile | None:
        return self.months.get(self.month)

    def entries(self, program: facts.Program) -> list[records.TimeLogged]:
        """The month's time entries of a program that were not voided."""
        pm = self.current
        if pm is None:
            return []
        return [
            e.logged
            for e in pm.entries.values()
            if e.voided is None
            and e.logged.program is program
            and (self.entry_ids is None or e.logged.entry_id in self.entry_ids)
        ]

    def day_of(self, entry: records.TimeLogged) -> date:
        return local_day(entry.started_at, self.policy)

    def decisions(self) -> list[records.MedicalDecisionMaking]:
        pm = self.current
        return [] if pm is None else pm.decisions

    def live_claims(self) -> list[Claim]:
        pm = self.current
        return [] if pm is None else pm.live_claims()

    # Device periods (G-01, P-RPM-1)

    def device_ids(self, program: facts.Program, category: str | None = None) -> list[str]:
        return [
            device_id
            for device_id, setups in self.patient.devices.items()
            if setups[0].program.value == program.value and (category is None or setups[0].category.value == category)
        ]

    def episode_start(self, program: facts.Program) -> date | None:
        """The first setup of the program's devices: its 30-day periods count from here."""
        starts = [
            s.setup_on for setups in self.patient.devices.values() for s in setups if s.program.value == program.value
        ]
        return min(starts) if starts else None

    def period_containing(self, program: facts.Program, day: date) -> Period | None:
        start = self.episode_start(program)
        if start is None or day < start:
            return None
        return Period(program, start + timedelta(days=30 * ((day - start).days // 30)))

    def period_ending_in_month(self, program: facts.Program) -> Period | None:
        """The device period billed in this month: the one whose last day falls in it."""
        period = self.period_containing(program, self.last)
        if period is None:
            return None
        if self.first <= period.end <= self.last:
            return period
        before = self.period_containing(program, period.start - timedelta(days=1))
        return before if before is not None and before.end >= self.first else None

    def device_days(self, period: Period, spec: CodeSpec | None = None) -> set[date]:
        """Distinct days with data in the period, over the program's devices (a day counts once)."""
        category = spec.category if spec is not None else None
        devices = set(self.device_ids(period.program, category))
        days: set[date] = set()
        manual = self.policy.manual_readings_count
        for pm in self.months.values():
            sources = [pm.device_days, pm.manual_days] if manual else [pm.device_days]
            for source in sources:
                for device_id, seen in source.items():
                    if device_id in devices:
                        days.update(d for d in seen if period.start <= d <= period.end and not self.after_death(d))
        return days

    def device_days_by_device(self) -> dict[str, int]:
        pm = self.current
        return {} if pm is None else {d: len(days) for d, days in sorted(pm.device_days.items())}
