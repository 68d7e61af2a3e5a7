"""Historical claims for the self-audit: claims billed before the practice used the ledger, or
by another system, read from an X12 837P (with pyx12) or from a CSV. They are held in memory
for one audit run and never recorded (projections.self_audit).

837P: CLM01 the claim id, CLM02 the charge, CLM05-3 the frequency (7 replaces and 8 voids a
claim read before under the same id); NM1*IL (2010BA) the member's Medicare id; NM1*82 in
2310B (or 2420A) the rendering NPI, else NM1*85 (2010AA) the billing NPI; SV1 the code and
units; DTP*472 the date of service, on the line or the claim.

CSV: claim_id, patient_id or medicare_id, billing_provider_npi, service_month or
service_date, codes (`99490;99439x2`), and paid_amount when known.

Errors name the file, the line and the field, never a value read from it (a claims file
holds PHI)."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from adapters.x12 import validate
from adapters.x12_in import Seg, day, segments
from domain.month import month_of_day
from projections.self_audit import HistoricalClaim

SHOWN = 10  # problems named in one message
COLUMNS = ("claim_id", "patient_id", "medicare_id", "billing_provider_npi", "service_month", "service_date", "codes",
           "paid_amount")  # fmt: skip
CODE = re.compile(r"([A-Z0-9]{5})(?:[xX](\d{1,2}))?")
NPI = re.compile(r"\d{10}")
MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
REPLACES, VOIDS = "7", "8"  # CLM05-3


class HistoryError(Exception):
    """A historical claims file that cannot be read, with every problem found."""


def read(path: str) -> list[HistoricalClaim]:
    """The claims of one file: an 837P when it starts with ISA, else a CSV."""
    name = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise HistoryError(f"{name}: cannot be read ({type(e).__name__})") from None
    return from_837(text, name) if text.lstrip().startswith("ISA") else from_csv(text, name)


def _fail(name: str, problems: list[str]) -> HistoryError:
    more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
    return HistoryError(f"{name}: " + "; ".join(problems[:SHOWN]) + more)


# 837P


@dataclass
class _Open:
    """A claim being read: its CLM and what follows it in the claim's loops."""

    claim_id: str
    line: int
    frequency: str
    charged: Decimal | None
    member: str
    billing: str
    rendering: str | None = None
    day: date | None = None
    lines: list[tuple[str, int, date | None]] = field(default_factory=list)


def from_837(text: str, name: str) -> list[HistoricalClaim]:
    problems = validate(text)
    if problems:
        raise _fail(name, ["fails X12 validation: " + _redacted(p) for p in problems])
    found = segments(text)
    st, gs = _first(found, "ST"), _first(found, "GS")
    if st is None or gs is None or st.get(1) != "837" or not gs.get(8).startswith("005010X222"):
        raise HistoryError(f"{name}: not an 837P (005010X222A1) file")
    opened = _claims(found)
    out: dict[str, list[HistoricalClaim]] = {}
    bad: list[str] = []
    for claim in opened:
        if claim.frequency in (REPLACES, VOIDS):
            out.pop(claim.claim_id, None)
        if claim.frequency != VOIDS:
            out[claim.claim_id] = _split(claim, name, bad)
    if bad:
        raise _fail(name, bad)
    return [c for parts in out.values() for c in parts]


def _first(segments: list[Seg], seg_id: str) -> Seg | None:
    return next((s for s in segments if s.id == seg_id), None)


def _claims(segments: list[Seg]) -> list[_Open]:
    """Every CLM with its member, providers, lines and dates, in file order."""
    out: list[_Open] = []
    billing = member = ""
    current: _Open | None = None
    for seg in segments:
        loop = seg.loop.rsplit("/", 2)[-2]
        if seg.id == "NM1" and seg.get(1) == "85":
            billing = seg.get(9)
        elif seg.id == "NM1" and seg.get(1) == "IL":
            member = seg.get(9)
        elif seg.id == "CLM":
            current = _Open(seg.get(1), seg.line, seg.part(5, 3), _amount(seg.get(2)), member, billing)
            out.append(current)
        elif seg.id in ("HL", "SE"):
            current = None
        elif current is not None:
            _into(current, seg, loop)
    return out


def _into(claim: _Open, seg: Seg, loop: str) -> None:
    if seg.id == "NM1" and seg.get(1) == "82" and (loop == "2310B" or claim.rendering is None):
        claim.rendering = seg.get(9)
    elif seg.id == "SV1" and seg.part(1, 1) == "HC":
        claim.lines.append((seg.part(1, 2), _units(seg.get(4)), None))
    elif seg.id == "DTP" and seg.get(1) == "472":
        when = day(seg.get(3)[:8])  # D8, or RD8 (a range: its first day)
        if loop == "2400" and claim.lines:
            code, units, _ = claim.lines[-1]
            claim.lines[-1] = (code, units, when)
        else:
            claim.day = when


def _split(claim: _Open, name: str, bad: list[str]) -> list[HistoricalClaim]:
    """One HistoricalClaim per service month (a claim's lines may span months)."""
    months: dict[str, list[tuple[str, int]]] = {}
    first: dict[str, date] = {}
    for code, units, when in claim.lines:
        on = when or claim.day
        if on is None:
            bad.append(f"claim {claim.claim_id[:20]} (line {claim.line}): {code} has no date of service (DTP*472)")
            continue
        months.setdefault(month_of_day(on), []).append((code, units))
        first.setdefault(month_of_day(on), on)
    if not claim.lines:
        bad.append(f"claim {claim.claim_id[:20]} (line {claim.line}): no service lines (SV1)")
    return [
        HistoricalClaim(claim_id=claim.claim_id, source=name, billing_provider_npi=claim.rendering or claim.billing,
                        lines=tuple(lines), service_month=month, service_on=first[month],
                        medicare_id=claim.member or None, charged=claim.charged)
        for month, lines in months.items()
    ]  # fmt: skip


def _units(text: str) -> int:
    try:
        return max(1, int(Decimal(text or "1")))
    except (InvalidOperation, ValueError):
        return 1


def _amount(text: str) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def _redacted(problem: str) -> str:
    """pyx12 quotes the offending value in some messages; an 837 holds PHI."""
    problem = re.sub(r'len\("[^"]*"\)', "its length", problem)
    return re.sub(r"\((?!(?:[A-Z]{1,3}\d{2,4}(?:-\d+)?|max_len|min_len)\))[^()]*\)", "(...)", problem)


# CSV


def from_csv(text: str, name: str) -> list[HistoricalClaim]:
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip() for h in reader.fieldnames or []]
    problems = _header_problems(headers)
    if problems:
        raise _fail(name, problems)
    reader.fieldnames = headers
    out: list[HistoricalClaim] = []
    for n, row in enumerate(reader, start=2):
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        found = _row(cells, name, out)
        problems += [f"line {n}: {p}" for p in found]
    if problems:
        raise _fail(name, problems)
    return out


def _header_problems(headers: list[str]) -> list[str]:
    if not headers:
        return ["empty: expected a header line naming " + ", ".join(COLUMNS)]
    problems = [f"unknown column {h[:40]!r} (expected {', '.join(COLUMNS)})" for h in headers if h not in COLUMNS]
    for need in (("claim_id",), ("billing_provider_npi",), ("codes",), ("patient_id", "medicare_id"),
                 ("service_month", "service_date")):  # fmt: skip
        if not any(n in headers for n in need):
            problems.append(f"missing column {' or '.join(need)}")
    return problems


def _row(cells: dict[str, str], name: str, out: list[HistoricalClaim]) -> list[str]:
    """The row as a claim appended to `out`, or the problems that keep it out."""
    problems = []
    claim_id = cells.get("claim_id", "")
    if not 0 < len(claim_id) <= 64:
        problems.append("claim_id: expected 1 to 64 characters")
    patient, medicare = cells.get("patient_id", ""), cells.get("medicare_id", "")
    if not (patient or medicare):
        problems.append("patient_id or medicare_id: expected one of them")
    npi = cells.get("billing_provider_npi", "")
    if not NPI.fullmatch(npi):
        problems.append("billing_provider_npi: expected a 10-digit NPI")
    on, month, why = _when(cells)
    problems += why
    lines = _codes(cells.get("codes", ""), problems)
    paid = _paid(cells.get("paid_amount", ""), problems)
    if not problems and month is not None:
        out.append(HistoricalClaim(claim_id=claim_id, source=name, billing_provider_npi=npi, lines=lines,
                                   service_month=month, service_on=on, patient_id=patient or None,
                                   medicare_id=medicare or None, paid=paid))  # fmt: skip
    return problems


def _when(cells: dict[str, str]) -> tuple[date | None, str | None, list[str]]:
    text, month = cells.get("service_date", ""), cells.get("service_month", "")
    if text:
        try:
            on = date.fromisoformat(text)
        except ValueError:
            return None, None, ["service_date: expected YYYY-MM-DD"]
        return on, month_of_day(on), []
    if MONTH.fullmatch(month):
        return None, month, []
    return None, None, ["service_month or service_date: expected YYYY-MM or YYYY-MM-DD"]


def _codes(text: str, problems: list[str]) -> tuple[tuple[str, int], ...]:
    lines = []
    for token in (t.strip().upper() for t in text.split(";") if t.strip()):
        match = CODE.fullmatch(token)
        units = int(match.group(2) or 1) if match else 0
        if match is None or not 1 <= units <= 99:
            problems.append("codes: expected codes such as 99490;99439x2 (units 1 to 99)")
            return ()
        lines.append((match.group(1), units))
    if not lines:
        problems.append("codes: expected at least one code")
    return tuple(lines)


def _paid(text: str, problems: list[str]) -> Decimal | None:
    if not text:
        return None
    try:
        paid = Decimal(text.replace("$", "").replace(",", ""))
    except InvalidOperation:
        paid = Decimal("NaN")
    if not paid.is_finite() or paid < 0:
        problems.append("paid_amount: expected an amount of 0 or more")
        return None
    return paid
