"""The revenue calculator: monthly and annual revenue by program and code, and work RVUs per
practitioner, from a panel: the one on record for a month (what the worklist can bill, what
is claimed, and the eligible patients' best offers) or counts a practice types in.

Arithmetic, per line: patient-months = patients x engagement; revenue = patient-months x
units x fee; work RVUs = patient-months x units x work RVU; a year is twelve such months.
Sums are exact (Decimal) and rounded to cents only when shown, so totals equal the sum of
hand-computed lines. The assumptions are returned with the figures, for the output to show.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Annotated

import msgspec

from domain import elsewhere
from domain.catalog import CATALOG, FeeSchedule
from domain.elsewhere import ClaimsElsewhere
from domain.policy import DEFAULT_POLICY, Policy
from domain.rules.assess import WorklistRow, assess
from domain.rules.view import MonthView
from projections.eligible import offers

CENT = Decimal("0.01")
MONTHS = 12
UNASSIGNED = "(unassigned)"  # eligible patients: no billing practitioner yet
COUNTED = frozenset({"accepted", "exported", "acknowledged", "paid", "partial"})  # claims that bring revenue


class PanelError(ValueError):
    """A panel file that cannot be read; the message names the row and field."""


class PanelLine(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    code: str
    patients: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]
    units: Annotated[int, msgspec.Meta(ge=1, le=20)] = 1  # units per patient-month (add-ons)
    engagement: Decimal = Decimal(1)  # the share of these patients billed each month, 0 to 1
    practitioner: str = ""
    program: str = ""  # optional in a panel file: the catalog knows each code's program
    source: str = "typed"  # typed, billable, claimed or eligible

    def __post_init__(self) -> None:
        if not Decimal(0) <= self.engagement <= Decimal(1):  # msgspec bounds numbers, not Decimals
            raise ValueError(f"engagement must be from 0 to 1, got {self.engagement}")


class Panel(msgspec.Struct, forbid_unknown_fields=True):
    lines: list[PanelLine]


class Line(msgspec.Struct):
    program: str
    code: str
    source: str
    practitioner: str
    patients: int
    engagement: str
    units: int
    fee: str
    work_rvu: str
    monthly: str
    annual: str
    monthly_rvus: str
    annual_rvus: str


class Total(msgspec.Struct):
    name: str
    monthly: str
    annual: str
    monthly_rvus: str
    annual_rvus: str


class Forecast(msgspec.Struct):
    fee_schedule: str
    assumptions: list[str]
    lines: list[Line]
    programs: list[Total]
    practitioners: list[Total]  # work RVUs per practitioner (and the revenue they bill)
    total: Total


def forecast(panel: Iterable[PanelLine], fees: FeeSchedule, assumptions: Iterable[str] = ()) -> Forecast:
    lines: list[Line] = []
    programs: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    people: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    whole = [Decimal(0), Decimal(0)]
    for item in panel:
        program = _program(item)
        months = item.patients * item.engagement * item.units
        money, rvus = months * fees.fee(item.code), months * fees.work_rvu(item.code)
        for bucket in (programs[program], people[item.practitioner or UNASSIGNED], whole):
            bucket[0] += money
            bucket[1] += rvus
        lines.append(Line(
            program, item.code, item.source, item.practitioner or UNASSIGNED, item.patients, str(item.engagement),
            item.units, _c(fees.fee(item.code)), str(fees.work_rvu(item.code)), _c(money), _c(money * MONTHS),
            _c(rvus), _c(rvus * MONTHS),
        ))  # fmt: skip
    return Forecast(
        fees.name,
        [*_basis(fees), *assumptions],
        lines,
        [_total(name, t) for name, t in sorted(programs.items())],
        [_total(name, t) for name, t in sorted(people.items())],
        _total("total", whole),
    )


def _program(item: PanelLine) -> str:
    spec = CATALOG.get(item.code)
    if spec is None or spec.program is None:
        raise PanelError(f"{item.code} is not a care-management code the ledger knows")
    if item.program and item.program.upper() != spec.program.value:
        raise PanelError(f"{item.code} is a {spec.program} code, not {item.program}")
    return spec.program.value


def _total(name: str, t: list[Decimal]) -> Total:
    return Total(name, _c(t[0]), _c(t[0] * MONTHS), _c(t[1]), _c(t[1] * MONTHS))


def _c(amount: Decimal) -> str:
    return str(amount.quantize(CENT))


def _basis(fees: FeeSchedule) -> list[str]:
    return [
        f"Fees and work RVUs: {fees.name}; amounts are the allowed amount (Medicare's 80% and the patient's "
        "coinsurance), before sequestration and denials; a code without a work RVU counts 0.",
        "Per line: patients x engagement x units x fee a month; a year is 12 such months (no growth, no attrition).",
    ]


# The panel on record


def record_panel(
    views: Iterable[MonthView], fees: FeeSchedule, engagement: Decimal,
    claims: ClaimsElsewhere | None = None, policy: Policy = DEFAULT_POLICY,
) -> tuple[list[PanelLine], str]:  # fmt: skip
    """A month's panel: codes billable now and claims standing (engagement 1: earned), and
    each eligible patient's best offers at `engagement`. Returns the lines and their basis.
    `claims`: other practices' claims, whose months are not billable here."""
    counts: dict[tuple[str, str, str, int], int] = defaultdict(int)
    views = iter(views)
    while seen := list(islice(views, 500)):  # a chunk of patients at a time, one look at the index each
        rows = elsewhere.withhold(claims, [(assess(v, fees), v.patient.medicare_id) for v in seen], policy)
        _count(counts, zip(seen, rows, strict=True), fees)
    panel = [
        PanelLine(code=code, patients=n, units=units, practitioner=npi, source=source,
                  engagement=engagement if source == "eligible" else Decimal(1))
        for (source, code, npi, units), n in sorted(counts.items())
    ]  # fmt: skip
    basis = (
        "Panel on record: codes billable now and claims standing (accepted to paid) at engagement 1; eligible "
        f"patients' best offer per program group at engagement {engagement}, priced at the codes that start it "
        "(TCM once per discharge), with no billing practitioner yet."
    )
    return panel, basis


def _count(
    counts: dict[tuple[str, str, str, int], int], assessed: Iterable[tuple[MonthView, WorklistRow]], fees: FeeSchedule
) -> None:
    for view, row in assessed:
        for item in row.billable:
            counts[("billable", item.code, row.billing_provider_npi or "", item.units)] += 1
        for claim in view.live_claims():
            if claim.status in COUNTED:
                for line in claim.submitted.lines:
                    counts[("claimed", line.code, claim.submitted.billing_provider_npi, line.units)] += 1
        for offer in offers(view, fees):
            if offer.best:
                for code in offer.codes:
                    counts[("eligible", code, "", 1)] += 1


# A panel a practice types in: JSON ({"lines": [...]} or a list) or CSV with a header row


def panel_from_json(text: str | bytes) -> list[PanelLine]:
    """Numbers are read from the JSON text as written (0.8 is exactly 0.8, never a float)."""
    try:
        value = msgspec.json.decode(text, type=Panel | list[PanelLine])
    except msgspec.ValidationError as e:
        raise PanelError(f"panel: {e}") from None
    except msgspec.DecodeError:
        raise PanelError("panel: not valid JSON") from None
    return value if isinstance(value, list) else value.lines


def panel_from_csv(text: str) -> list[PanelLine]:
    reader = csv.DictReader(text.splitlines())
    known = set(PanelLine.__struct_fields__) - {"source"}
    unknown = set(reader.fieldnames or []) - known
    if unknown or "code" not in (reader.fieldnames or []) or "patients" not in (reader.fieldnames or []):
        raise PanelError(f"panel: the header needs code and patients, and may have {', '.join(sorted(known))}")
    out = []
    for n, row in enumerate(reader, start=2):
        try:
            fields = {k: v.strip() for k, v in row.items() if k is not None and v is not None and v.strip()}
            out.append(msgspec.convert(_typed(fields), PanelLine))
        except (msgspec.ValidationError, ValueError) as e:
            raise PanelError(f"panel line {n}: {e}") from None
    return out


def _typed(fields: dict[str, str]) -> dict[str, object]:
    typed: dict[str, object] = dict(fields)
    for name, kind in (("patients", int), ("units", int), ("engagement", Decimal)):
        if name in fields:
            try:
                typed[name] = kind(fields[name])
            except (ValueError, InvalidOperation):
                raise ValueError(f"{name}: expected {'a whole number' if kind is int else 'a number'}") from None
    return typed
