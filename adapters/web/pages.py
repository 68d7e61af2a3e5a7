"""The biller's month as the page shows it: the worklist's rows (adapters.reads), each with its
statuses, the programs it touches, a progress bar per program toward the next threshold, and
the claims it can send now.

The bars are `carelane pace`'s rows (projections.pace: the worklist's have/need/unit, the
code's period and a linear projection); per program the bar shown is the threshold nearest to
being met. They are computed only for the rows shown that have a count short of a threshold.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from adapters import reads
from adapters.http_service import Service
from domain import facts
from domain.catalog import DEFAULT_FEES, lookup
from domain.month import shift_month
from domain.rules.assess import WorklistRow
from projections.pace import COUNTED, PaceRow, pace_report, today

# Filter value -> label, in the order the page offers them.
STATUSES = {"billable": "billable", "near-miss": "near miss", "blocked": "blocked", "claimed": "claimed",
            "unsupported": "unsupported"}  # fmt: skip
PRIMARY = ("unsupported", "billable", "near-miss", "claimed", "blocked")  # the badge: the first that applies
SORTS = {"patient": "patient", "total": "billable $, highest first", "status": "status",
         "progress": "closest to a threshold first"}  # fmt: skip
PROGRAMS = tuple(p.value for p in facts.Program)
NPI = re.compile(r"\d{10}")
MONTH = re.compile(facts.MONTH_PATTERN)


class BadFilter(ValueError):
    """A filter the page cannot use, said in words."""


@dataclass(frozen=True)
class Filters:
    month: str
    program: str = ""
    provider: str = ""
    status: str = ""
    sort: str = "patient"

    def query(self, **changes: str) -> str:
        """The page's query string with some values changed (links keep the other filters)."""
        values = asdict(self) | changes
        return urlencode({k: v for k, v in values.items() if v and not (k == "sort" and v == "patient")})


FILTERS = ("program", "provider", "status", "sort")  # after the month, in Filters' order


def parse_filters(default: str, month: str | None, program: str, provider: str, status: str, sort: str) -> Filters:
    month = (month or "").strip() or default
    if not MONTH.match(month):
        raise BadFilter("month: expected a month such as 2026-03")
    if program and program not in PROGRAMS:
        raise BadFilter(f"program: expected one of {', '.join(PROGRAMS)}")
    if provider and not NPI.fullmatch(provider):
        raise BadFilter("provider: expected a 10-digit NPI")
    if status and status not in STATUSES:
        raise BadFilter(f"status: expected one of {', '.join(STATUSES)}")
    if sort and sort not in SORTS:
        raise BadFilter(f"sort: expected one of {', '.join(SORTS)}")
    return Filters(month, program, provider, status, sort or "patient")


@dataclass(frozen=True)
class Bar:
    """Progress toward a program's next threshold (`met`: nothing further to reach this month)."""

    program: str
    code: str = ""
    unit: str = ""
    have: int = 0
    need: int = 0
    met: bool = False
    days_left: int = 0
    pace: str = ""  # projections.pace's status: on pace, behind, out of reach, missed, not started
    projected: int | None = None
    per_day: str | None = None

    @property
    def ratio(self) -> float:
        return 1.0 if self.met or not self.need else min(self.have / self.need, 1.0)

    @property
    def outlook(self) -> str:
        """Whether the present pace will make it, in words."""
        if self.pace == "on pace":
            return f"will make it at this pace: projected {self.projected} {self.unit}"
        if self.pace == "behind":
            return (f"will miss at this pace: projected {self.projected} of {self.need} {self.unit}; "
                    f"needs {self.per_day} a day")  # fmt: skip
        if self.pace == "out of reach":
            return "will miss: too few days left in the period"
        if self.pace == "missed":
            return "missed: the period is over"
        return "the period has not started"


@dataclass(frozen=True)
class Claim:
    """A claim the row can send: its lines as the form carries them ("99490:1 99439:1")."""

    claim_id: str
    lines: str
    label: str
    amount: str
    service_on: str = ""


@dataclass
class Line:
    row: WorklistRow
    statuses: tuple[str, ...]
    programs: tuple[str, ...]
    claims: list[Claim]
    bars: list[Bar] = field(default_factory=list)
    answer: Any = None  # the gate's answer to a claim just sent from this row (adapters.web.claims.Answer)

    @property
    def status(self) -> str:
        return next((s for s in PRIMARY if s in self.statuses), "")

    @property
    def label(self) -> str:
        return STATUSES.get(self.status, "nothing yet")


@dataclass
class MonthPage:
    filters: Filters
    lines: list[Line]
    providers: list[str]
    counts: dict[str, int]
    total: str
    as_of: str
    previous: str
    next: str


def statuses(row: WorklistRow) -> tuple[str, ...]:
    live = [c for c in row.claimed if c.status != "voided"]
    found = {
        "billable": bool(row.billable),
        "near-miss": any(b.reason in COUNTED and b.have is not None and b.need is not None for b in row.blocked),
        "blocked": not row.billable and bool(row.blocked),
        "claimed": bool(live),
        "unsupported": any(c.status == "unsupported" for c in live),
    }
    return tuple(s for s in STATUSES if found[s])


def programs(row: WorklistRow) -> tuple[str, ...]:
    codes = [b.code for b in row.billable] + [b.code for b in row.blocked] + [x for c in row.claimed for x in c.codes]
    found = set(row.minutes)
    for code in codes:
        spec = lookup(code)
        if spec is not None and spec.program is not None:
            found.add(spec.program.value)
    return tuple(p for p in PROGRAMS if p in found)


def claims(row: WorklistRow) -> list[Claim]:
    """The billable set as claims: the month's codes in one, each dated code in its own (as
    `carelane demo` bills). The id is new each time the page is drawn: the same form sent
    twice is one submission (answered alike), a redrawn form is another claim."""
    monthly = [b for b in row.billable if b.service_on is None]
    groups = [(monthly, "")] if monthly else []
    groups += [([b], b.service_on) for b in row.billable if b.service_on is not None]
    out = []
    for items, on in groups:
        lines = " ".join(f"{b.code}:{b.units}" for b in items)
        label = ", ".join(b.code + (f" x{b.units}" if b.units > 1 else "") for b in items)
        amount = str(sum((Decimal(b.amount) for b in items), Decimal(0)))
        out.append(Claim(f"W-{secrets.token_hex(6).upper()}", lines, label, amount, on))
    return out


def line_of(row: WorklistRow) -> Line:
    return Line(row, statuses(row), programs(row), claims(row))


def bars(line: Line, paced: list[PaceRow]) -> list[Bar]:
    """Per program, the threshold nearest to being met; a program billing with nothing
    further to reach shows a full bar."""
    nearest: dict[str, PaceRow] = {}
    for p in paced:
        best = nearest.get(p.program)
        if best is None or (p.have * best.need, -p.need) > (best.have * p.need, -best.need):
            nearest[p.program] = p
    out = [Bar(p.program, p.code, p.unit, p.have, p.need, False, p.days_left, p.status, p.projected, p.per_day)
           for p in nearest.values()]  # fmt: skip
    billing = {spec.program.value for b in line.row.billable if (spec := lookup(b.code)) and spec.program}
    out += [Bar(program, met=True) for program in sorted(billing - set(nearest))]
    return sorted(out, key=lambda b: PROGRAMS.index(b.program) if b.program in PROGRAMS else len(PROGRAMS))


def with_bars(service: Service, month: str, lines: list[Line]) -> None:
    near = [line.row.patient_id for line in lines if "near-miss" in line.statuses]
    paced: dict[str, list[PaceRow]] = {}
    if near:
        for p in pace_report(service.ledger, near, month, today(service.ledger.policy), DEFAULT_FEES, 0).pace:
            paced.setdefault(p.patient_id, []).append(p)
    for line in lines:
        line.bars = bars(line, paced.get(line.row.patient_id, []))


def matches(line: Line, f: Filters) -> bool:
    return (
        (not f.program or f.program in line.programs)
        and (not f.provider or line.row.billing_provider_npi == f.provider)
        and (not f.status or f.status in line.statuses)
    )


def _sort_key(sort: str) -> Any:
    if sort == "total":
        return lambda x: (-Decimal(x.row.estimated_total), x.row.patient_id)
    if sort == "status":
        return lambda x: (PRIMARY.index(x.status) if x.status else len(PRIMARY), x.row.patient_id)
    if sort == "progress":
        return lambda x: (-max((b.ratio for b in x.bars if not b.met), default=-1.0), x.row.patient_id)
    return lambda x: x.row.patient_id


def rows(service: Service, f: Filters) -> tuple[list[WorklistRow], list[Line]]:
    """The month's worklist, and the lines the filters keep (without bars)."""
    found = reads.worklist(service.ledger, service.views, f.month, None, refresh=False)
    return found, [line for line in map(line_of, found) if matches(line, f)]


def page(service: Service, f: Filters, answers: dict[str, Any]) -> MonthPage:
    found, shown = rows(service, f)
    with_bars(service, f.month, shown)
    shown.sort(key=_sort_key(f.sort))
    for line in shown:
        line.answer = answers.get(line.row.patient_id)
    counts = {s: 0 for s in STATUSES}
    for row in found:
        for s in statuses(row):
            counts[s] += 1
    total = sum((Decimal(line.row.estimated_total) for line in shown), Decimal(0))
    providers = sorted({r.billing_provider_npi for r in found if r.billing_provider_npi})
    as_of = today(service.ledger.policy).isoformat()
    return MonthPage(f, shown, providers, counts, f"{total:,.2f}", as_of, shift_month(f.month, -1),
                     shift_month(f.month, 1))  # fmt: skip


def one(service: Service, month: str, patient_id: str) -> Line | None:
    """One patient-month's line, as drawn again after a claim."""
    found = [r for r in reads.worklist(service.ledger, service.views, month, None, refresh=False)
             if r.patient_id == patient_id]  # fmt: skip
    if not found:
        return None
    line = line_of(found[0])
    with_bars(service, month, [line])
    return line
