"""G-15 on the worklist: what a row offers whose period has not ended is held back.

The worklist view is computed when facts arrive, but whether a period has ended depends on
the day it is read: a March row read on 20 March offers 99490 the gate would refuse
PERIOD_OPEN, and read on 1 April the same row offers it. So the move from billable to
blocked happens when rows are read, with the gate's own rule (domain.rules.gate.period_open).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec

from domain import catalog
from domain.month import Month
from domain.policy import Policy
from domain.rules.assess import Blocked, WorklistRow
from domain.rules.gate import period_open


def open_periods(row: WorklistRow, today: date, policy: Policy) -> WorklistRow:
    """The row with every billable code whose period runs past `today` moved to blocked."""
    last = Month(row.month).last
    waiting: dict[str, Blocked] = {}
    for line in row.billable:
        spec = catalog.lookup(line.code)
        service_on = date.fromisoformat(line.service_on) if line.service_on else None
        found = None if spec is None else period_open(spec, last, service_on, policy, today)
        if found is not None:
            waiting[line.code] = Blocked.of(line.code, found)
    if not waiting:
        return row
    keep = [line for line in row.billable if line.code not in waiting]
    total = sum((Decimal(line.amount) for line in keep), Decimal(0))
    return msgspec.structs.replace(
        row, billable=keep, blocked=[*row.blocked, *waiting.values()], estimated_total=f"{total:.2f}"
    )
