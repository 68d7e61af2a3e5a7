"""What a code's own rules answer: the units the record supports, and why not more."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.claim_records import AnyScope
from domain.reasons import Because


@dataclass
class Allowance:
    """Units the record supports now; reasons when none; the next unit's near miss.

    `supported` is what the counts alone support (minutes, days, conditions), whatever else
    blocks: the gate judges units against it even when a prerequisite fails (G-14); `units`
    is what may be billed, 0 while any reason stands."""

    units: int = 0
    reasons: list[Because] = field(default_factory=list)
    next_unit: Because | None = None
    scope: AnyScope | None = None  # for codes whose period is not the calendar month
    service_on: date | None = None
    progress: float = 1.0  # share of the threshold reached, when short of it
    supported: int = 0
    # The record is past this code's band (99470 at 25 minutes, 99445 at 20 days): a claim
    # for it is under-coded, which the gate refuses but which withdraws no support (G-16).
    past_band: Because | None = None


def allowed(units: int, **kw: Any) -> Allowance:
    return Allowance(units=units, supported=units, **kw)
