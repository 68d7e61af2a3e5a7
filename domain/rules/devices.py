"""Device codes (P-RPM-1, P-RTM-1): days with data in a 30-day period, one device code a
period, and setup once per episode of care (P-RPM-2)."""

from __future__ import annotations

from datetime import date

from domain.catalog import CodeSpec
from domain.claim_records import DevicePeriod, SetupEpisode
from domain.reasons import Because, Reason
from domain.rules.allowance import Allowance, allowed
from domain.rules.view import MonthView


def device(spec: CodeSpec, view: MonthView, npi: str | None, service_on: date | None) -> Allowance:
    """P-RPM-1, P-RTM-1: days with data in the 30-day period; one device code per period."""
    assert spec.program is not None and spec.minimum is not None
    if service_on is not None:
        period = view.period_containing(spec.program, service_on)
    else:
        period = view.period_ending_in_month(spec.program)
    if period is None:
        return Allowance(reasons=[Because(
            Reason.DEVICE_DAYS_INSUFFICIENT, f"no {spec.program} device period ends in {view.month}"
        )])  # fmt: skip
    days = len(view.device_days(period, spec))
    scope = DevicePeriod(spec.program, period.start)
    where = f"in {period.start} to {period.end}"
    if days < spec.minimum:
        short = Because(
            Reason.DEVICE_DAYS_INSUFFICIENT, f"{days} of {spec.minimum} days with data {where}",
            have=days, need=spec.minimum, unit="days",
        )  # fmt: skip
        return Allowance(reasons=[short], scope=scope, progress=days / spec.minimum, service_on=period.end)
    if spec.maximum is not None and days > spec.maximum:
        band = Because(Reason.BAND_EXCEEDED, f"{days} days with data {where}: {spec.code} is for "
                       f"{spec.minimum}-{spec.maximum} days")  # fmt: skip
        return Allowance(reasons=[band], scope=scope, past_band=band)
    return allowed(1, scope=scope, service_on=period.end)


def setup(spec: CodeSpec, view: MonthView, npi: str | None, service_on: date | None) -> Allowance:
    """P-RPM-2: setup once per episode of care (the episode's first setup), once its first
    period has the rule year's days with data (P-RPM-1: 16 before 2026, 2 from 2026)."""
    assert spec.program is not None
    start = view.episode_start(spec.program)
    if start is None or start > (service_on or view.last):
        return Allowance(reasons=[Because(Reason.UNKNOWN_REFERENCE, f"no {spec.program} device set up")])
    scope = SetupEpisode(spec.program, start)
    first = view.period_containing(spec.program, start)
    assert first is not None
    days, need = len(view.device_days(first)), view.rules_on(start).year.setup_min_days
    if days < need:
        short = Because(
            Reason.DEVICE_DAYS_INSUFFICIENT, f"{spec.code} needs {need} days with data in {first.start} to "
            f"{first.end}; {days} so far", have=days, need=need, unit="days",
        )  # fmt: skip
        return Allowance(reasons=[short], scope=scope, service_on=start, progress=days / need)
    return allowed(1, scope=scope, service_on=start)
