"""`carelane pace`: who will miss a threshold at the present pace, and renewals coming due.

The thresholds are the worklist's own (domain.rules.assess): every code it holds back as a
count short of its threshold (`UNDER_THRESHOLD` in minutes, `DEVICE_DAYS_INSUFFICIENT` in
days) with `have`, `need` and `unit`. Nothing here restates a number of the catalog; this
module only adds the calendar: the code's period (G-01: the calendar month for monthly codes,
the 30-day device period for device codes), how much of it has gone by on `as_of`, and the
linear projection `have / days elapsed x days in period`.

`as_of` counts as elapsed (its work so far is in `have`) and as left (its remaining hours
can still bring minutes or a day of data), so on a period's last day what is short is still
"behind", and only a period that ended before `as_of` is "missed". `have` is what the record
holds now (the worklist's count): with the default `as_of`, today, that is the work so far; an
earlier `as_of` sets the calendar, not a replay of the record.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import ROUND_UP, Decimal
from itertools import islice

import msgspec

from domain import elsewhere
from domain.catalog import DEFAULT_FEES, FeeSchedule, Kind
from domain.ledger import Ledger
from domain.month import month_bounds
from domain.policy import Policy
from domain.reasons import Reason
from domain.rules.assess import Blocked, assess
from domain.rules.view import MonthView
from projections.renewals import Renewal, renewals

# The worklist's reasons for a count short of its threshold, and the unit each counts in.
COUNTED = {Reason.UNDER_THRESHOLD.value: "minutes", Reason.DEVICE_DAYS_INSUFFICIENT.value: "days"}
FLAGGED = frozenset({"behind", "out of reach", "missed"})
RENEWALS_WITHIN = 60  # days after as_of: how far ahead renewals are listed by default
HUNDREDTH = Decimal("0.01")
CHUNK = 500  # patients' views held at once


class PaceRow(msgspec.Struct):
    patient_id: str
    month: str
    program: str
    code: str
    reason: str
    unit: str  # "minutes" or "days"
    have: int
    need: int  # the worklist's threshold for the code's next unit
    period_start: str
    period_end: str
    days_in_period: int
    days_elapsed: int  # period days through as_of
    days_left: int  # period days from as_of (included) to its end
    projected: int | None  # at the present pace, by the period's end (None before it starts)
    per_day: str | None  # what is still needed per day left
    status: str  # "on pace", "behind", "out of reach", "missed" or "not started"
    flagged: bool  # will miss at the present pace
    at_stake: str  # the code's fee, per unit
    detail: str
    held_by: list[str] = msgspec.field(default_factory=list)  # other reasons holding the code back


class PaceReport(msgspec.Struct):
    month: str
    as_of: str
    renewals_through: str
    pace: list[PaceRow]
    renewals: list[Renewal]


def today(policy: Policy) -> date:
    """The default report day: today in the practice's time zone (G-01)."""
    return datetime.now(policy.zone).date()


def clamp(month: str, day: date) -> date:
    """The report's `as_of`: the day, kept in the month."""
    first, last = month_bounds(month)
    return min(max(day, first), last)


def pace_report(
    ledger: Ledger,
    patients: list[str],
    month: str,
    day: date,
    fees: FeeSchedule = DEFAULT_FEES,
    within: int = RENEWALS_WITHIN,
) -> PaceReport:
    """Pace rows for every patient-month of `patients`, flagged first, and the renewals due
    by `as_of + within` days. `as_of` is `day` kept in the month; a period that ended before
    `day` itself (a past month, read after its end) was missed, not "behind" on its last day."""
    as_of = clamp(month, day)
    through = as_of + timedelta(days=within)
    rows: list[PaceRow] = []
    due: list[Renewal] = []
    views_of = ledger.month_views_of(patients, month)
    while seen := list(islice(views_of, CHUNK)):  # a chunk at a time: one look at the index each
        blocked = [assess(view, fees).blocked for view in seen]
        counted = [(v.patient.medicare_id, [b.code for b in bs if b.reason in COUNTED], v.month)
                   for v, bs in zip(seen, blocked, strict=True)]  # fmt: skip
        others = elsewhere.conflicts(ledger.elsewhere, counted, ledger.policy)  # held by another practice
        for view, mine, theirs in zip(seen, blocked, others, strict=True):
            rows += pace_rows(view, [*mine, *theirs], (as_of, day), fees)
            due += renewals(view, as_of, through)
    rows.sort(key=lambda r: (not r.flagged, r.patient_id, r.program, r.code))
    due.sort(key=lambda r: (r.due_on, r.patient_id, r.kind))
    return PaceReport(month, as_of.isoformat(), through.isoformat(), rows, due)


def pace_rows(view: MonthView, blocked: list[Blocked], on: tuple[date, date], fees: FeeSchedule) -> list[PaceRow]:
    """One row per code the worklist holds back as a count short of its threshold; `on` is
    (as_of, the day itself)."""
    out: list[PaceRow] = []
    seen: set[str] = set()
    for b in blocked:
        if b.reason not in COUNTED or b.have is None or b.need is None or b.code in seen:
            continue
        span = period_of(view, b.code)
        if span is None:
            continue
        seen.add(b.code)
        held = list(dict.fromkeys(o.reason for o in blocked if o.code == b.code and o.reason not in COUNTED))
        out.append(_row(view, b, span, on, fees, held))
    return out


def period_of(view: MonthView, code: str) -> tuple[date, date] | None:
    """G-01: a device code's 30-day period (the one the worklist judged: ending in the month;
    for setup, the episode's first), else the calendar month."""
    spec = view.rules.spec(code)
    if spec is None or spec.program is None:
        return None
    if spec.kind is Kind.DEVICE:
        period = view.period_ending_in_month(spec.program)
    elif spec.kind is Kind.SETUP:
        start = view.episode_start(spec.program)
        period = None if start is None else view.period_containing(spec.program, start)
    else:
        return view.first, view.last
    return None if period is None else (period.start, period.end)


def _row(
    view: MonthView, b: Blocked, span: tuple[date, date], on: tuple[date, date], fees: FeeSchedule, held: list[str]
) -> PaceRow:
    assert b.have is not None and b.need is not None
    start, end = span
    total, elapsed, left = _calendar(span, on)
    unit = b.unit or COUNTED[b.reason]
    projected = None
    if elapsed:
        projected = b.have * total // elapsed
        projected = min(projected, total) if unit == "days" else projected  # a day counts once
    short = max(b.need - b.have, 0)
    per_day = str((Decimal(short) / left).quantize(HUNDREDTH, ROUND_UP)) if left else None
    status = _status(b.have, b.need, unit, total, elapsed, left, max(on) > end)
    spec = view.rules.spec(b.code)
    return PaceRow(
        patient_id=view.patient.patient_id,
        month=view.month,
        program=str(spec.program) if spec is not None and spec.program is not None else "",
        code=b.code,
        reason=b.reason,
        unit=unit,
        have=b.have,
        need=b.need,
        period_start=start.isoformat(),
        period_end=end.isoformat(),
        days_in_period=total,
        days_elapsed=elapsed,
        days_left=left,
        projected=projected,
        per_day=per_day,
        status=status,
        flagged=status in FLAGGED and Reason.PROVIDER_CONFLICT.value not in held,  # not ours to catch up
        at_stake=str(fees.fee(b.code).quantize(HUNDREDTH)),
        detail=b.detail,
        held_by=held,
    )


def _calendar(span: tuple[date, date], on: tuple[date, date]) -> tuple[int, int, int]:
    """Days in the period, elapsed through as_of, and left from as_of (included) to its end;
    a period that ended before the day itself is over, whatever the clamp to the month says."""
    start, end = span
    as_of, day = on
    if day > end:
        as_of = max(as_of, end + timedelta(days=1))
    elapsed = 0 if as_of < start else (min(as_of, end) - start).days + 1
    left = 0 if as_of > end else (end - max(as_of, start)).days + 1
    return (end - start).days + 1, elapsed, left


def _status(have: int, need: int, unit: str, total: int, elapsed: int, left: int, over: bool) -> str:
    if over:
        return "missed"
    if not elapsed:
        return "not started"
    if have * total >= need * elapsed:  # have / elapsed x total >= need, in integers
        return "on pace"
    if unit == "days" and need - have > left:  # even a day of data every day left falls short
        return "out of reach"
    return "behind"
