"""How a CSV row becomes facts: cell readers for spreadsheet habits (MM/DD/YYYY, h:mm, local
times, yes/x/blank), the Column and Kind each kind (in adapters.feeds.csv_feed) is told by, and
the rules a few kinds need beyond a column per field (a start, a visit's fact, demographics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from adapters.feeds.mappings import Mappings
from domain.contract import YEARS

T = TypeVar("T")
DATE_WORDS = "a date as YYYY-MM-DD or MM/DD/YYYY"
LOCAL_WORDS = "a local date and time such as 2026-03-02 14:30, or an ISO instant with an offset"
# CMS's own words for who counts as which staff role, so a biller may write RN or NP.
ROLES = dict.fromkeys(("rn", "lpn", "ma", "clinical", "staff"), "clinical_staff") | dict.fromkeys(
    ("md", "do", "doctor"), "physician") | dict.fromkeys(("np", "pa", "cns", "cnm"), "qhp")  # fmt: skip
YES, NO = {"yes", "y", "true", "1", "x"}, {"no", "n", "false", "0", ""}


class CellError(ValueError):
    """A cell that is not what its column holds; the message says what was expected."""


def flag(cell: str) -> bool:
    if cell.lower() in YES | NO:
        return cell.lower() in YES
    raise CellError("expected yes or no (y/n, true/false, 1/0, x, or blank for no)")


def _digits(text: str, lengths: tuple[int, ...]) -> int:
    if not (text.isascii() and text.isdigit() and len(text) in lengths):
        raise CellError
    return int(text)


def day(cell: str) -> date:
    """YYYY-MM-DD, or MM/DD/YYYY and M/D/YYYY as US spreadsheets write dates."""
    try:
        if "/" in cell:
            m, d, y = cell.split("/")
            found = date(_digits(y, (4,)), _digits(m, (1, 2)), _digits(d, (1, 2)))
        else:
            y, m, d = cell.split("-")
            found = date(_digits(y, (4,)), _digits(m, (1, 2)), _digits(d, (1, 2)))
    except ValueError:  # CellError too: wrong shape, or a day that is not in the calendar
        raise CellError(f"expected {DATE_WORDS}") from None
    if found.year not in YEARS:
        raise CellError(f"expected {DATE_WORDS} in the years {YEARS.start} to {YEARS.stop - 1}")
    return found


def month(cell: str) -> str:
    """YYYY-MM or MM/YYYY, as the contract's YYYY-MM."""
    try:
        y, m = cell.split("-") if "-" in cell else cell.split("/")[::-1]
        return date(_digits(y, (4,)), _digits(m, (1, 2)), 1).strftime("%Y-%m")
    except ValueError:
        raise CellError("expected a month as YYYY-MM or MM/YYYY") from None


def clock(cell: str) -> time:
    """14:30, 14:30:00, 2:30 PM."""
    s = cell.lower().replace(" ", "")
    half = s[-2:] if s[-2:] in ("am", "pm") else ""
    parts = s.removesuffix(half).split(":")
    try:
        if len(parts) not in (2, 3) or any(len(p) != 2 for p in parts[1:]):
            raise CellError
        h, m, sec = (_digits(p, (1, 2)) for p in [*parts, "0"][:3])
        if half and not 1 <= h <= 12:
            raise CellError
        return time(h % 12 + (12 if half == "pm" else 0) if half else h, m, sec)
    except ValueError:
        raise CellError("expected a time of day such as 14:30 or 2:30 PM") from None


def local(d: date, t: time, zone: ZoneInfo) -> datetime:
    """A wall-clock time in the practice's zone; a time the clocks skip is refused, not moved."""
    at = datetime.combine(d, t, tzinfo=zone)
    if at.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != at.replace(tzinfo=None):
        raise CellError(f"expected a time that exists in {zone.key} (the clocks skip it that day)")
    return at


def count(cell: str) -> int:
    """A whole number; 25.0 too, as spreadsheets export numbers (the sign is the contract's to judge)."""
    digits = cell.removeprefix("-").replace(".", "", 1)
    if not (digits.isascii() and digits.isdigit() and float(cell).is_integer()):
        raise CellError("expected a whole number")
    return int(float(cell))


def duration(cell: str) -> int:
    """Minutes (25) or hours and minutes (0:25, 1:05)."""
    if ":" not in cell:
        return count(cell)
    hours, _, minutes = cell.partition(":")
    try:
        h, m = _digits(hours, (1, 2)), _digits(minutes, (2,))
        if m > 59:
            raise CellError
    except ValueError:
        raise CellError("expected minutes (25) or hours:minutes (1:05)") from None
    return h * 60 + m


def upper(cell: str) -> str:
    return cell.upper().replace(" ", "")


def word(cell: str) -> str:
    """Clinical Staff, clinical-staff and clinical_staff are one value."""
    return "_".join(cell.lower().replace("-", " ").replace("_", " ").split())


def role(cell: str) -> str:
    return ROLES.get(word(cell).replace(".", ""), word(cell))


def padded(*widths: int) -> Callable[[str], str]:
    """Digits a spreadsheet stored as a number, losing leading zeros (ZIP 02134, place of service 02)."""

    def read(cell: str) -> str:
        digits = cell.replace("-", "")
        # Only what lost zeros explain (2134 for 02134); other lengths go on, to be refused.
        width = next((w for w in widths if w - 2 <= len(digits) <= w), 0)
        return digits.zfill(width) if width and digits.isascii() and digits.isdigit() else cell

    return read


def listed(cell: str) -> list[str]:
    """Several values in one cell, separated by ; | or ,."""
    return [p.strip() for p in cell.replace("|", ";").replace(",", ";").split(";") if p.strip()]


def several(read: Callable[[str], T]) -> Callable[[str], list[T]]:
    return lambda cell: [read(p) for p in listed(cell)]


def claim_lines(cell: str) -> list[dict[str, Any]]:
    """99490;99439x2: codes, each with its units after x (1 when none)."""
    lines = []
    for part in listed(cell):
        code, units = upper(part)[:5], upper(part)[5:]
        if units and (units[0] not in "X*" or not (units[1:].isascii() and units[1:].isdigit())):
            raise CellError("expected codes with units such as 99490;99439x2")
        lines.append({"code": code, "units": int(units[1:]) if units else 1})
    return lines


@dataclass
class Row:
    """One spreadsheet row: its cells by column, read one column at a time; every cell that
    cannot be read adds an error naming its column (never its value)."""

    cells: dict[str, str]
    zone: ZoneInfo
    mappings: Mappings
    errors: list[str] = field(default_factory=list)

    def get(self, column: str, read: Callable[[str], T]) -> T | None:
        cell = self.cells.get(column, "")
        if not cell:
            return None
        try:
            return read(cell)
        except CellError as e:
            self.errors.append(f"column {column}: {e}")
            return None

    def fail(self, column: str, expected: str) -> None:
        self.errors.append(f"column {column}: {expected}")


@dataclass(frozen=True)
class Column:
    """`read` makes a non-blank cell the value of contract field `to` (the column's name when "";
    None: `finish` reads it); blank leaves it out (a flag: no). `required`: in the header."""

    name: str
    example: str
    doc: str
    read: Callable[[str], Any] = str
    required: bool = False
    to: str | None = ""

    @property
    def field(self) -> str | None:
        return self.name if self.to == "" else self.to


@dataclass(frozen=True)
class Kind:
    """A CSV kind: its columns, the fact it gives, column sets of which the header needs one."""

    name: str
    fact: str
    columns: tuple[Column, ...]
    either: tuple[tuple[str, ...], ...] = ()
    finish: Callable[[Row, dict[str, Any]], list[dict[str, Any]]] | None = None

    @property
    def names(self) -> dict[str, str]:
        """Contract field -> the column that holds it, so a contract error names the column."""
        named = {c.field: f"column {c.name}" for c in self.columns if c.field}
        return named | {f"lines[{i}].{k}": f"column codes (code {i + 1})" for i in range(50) for k in ("code", "units")}

    def build(self, row: Row) -> list[dict[str, Any]]:
        """The contract's fields from the row's cells: a dict per fact, `type` included."""
        data: dict[str, Any] = {"type": self.fact}
        for column in self.columns:
            if column.field is None:
                continue
            value = row.get(column.name, column.read)
            if value is None and column.read is flag:
                value = False
            if value is not None:
                data[column.field] = value
        return self.finish(row, data) if self.finish else [data]


def started(row: Row, data: dict[str, Any]) -> list[dict[str, Any]]:
    """A time entry's start: one `started_at` cell, or `date` + `start_time`, local to the practice."""
    if row.cells.get("started_at"):
        data["started_at"] = row.get("started_at", lambda cell: instant(cell, row.zone))
        return [data]
    on, at = row.get("date", day), row.get("start_time", clock)
    for column in ("date", "start_time"):
        if not row.cells.get(column):
            row.fail(column, "required (date and start_time, or started_at)")
    if on is not None and at is not None:
        try:
            data["started_at"] = local(on, at, row.zone)
        except CellError as e:
            row.fail("start_time", str(e))
    return [data]


def instant(cell: str, zone: ZoneInfo) -> datetime:
    """2026-03-02 14:30 (or 03/02/2026 2:30 PM) in the practice's zone; an ISO instant with an offset as it is."""
    try:
        at = datetime.fromisoformat(cell)
    except ValueError:
        on, _, clock_time = cell.partition(" ")
        try:
            return local(day(on), clock(clock_time), zone)
        except CellError:
            raise CellError(f"expected {LOCAL_WORDS}") from None
    if ":" not in cell or at.year not in YEARS:
        raise CellError(f"expected {LOCAL_WORDS}")
    return at if at.tzinfo is not None else local(at.date(), at.time(), zone)


FACE_TO_FACE_ONLY = ("minutes", "discharge_id", "program")  # and in_person, which an initiating visit has not


def visit(row: Row, data: dict[str, Any]) -> list[dict[str, Any]]:
    """An initiating visit when `initiating` says so or the type is an AWV or IPPE; else a face-to-face visit."""
    kind, code = row.get("visit_type", lambda cell: word(cell).replace("/", "")), row.get("code", upper)
    if code and not kind and (kind := row.mappings.visit_types.get(code)) is None:
        row.fail("code", "expected a visit code the mappings know, such as 99213 or G0438 (or give visit_type)")
    if kind not in (None, "em", "awv", "ippe"):
        row.fail("visit_type" if row.cells.get("visit_type") else "code", "expected a visit type: em, awv or ippe")
    if row.get("initiating", flag) or kind in ("awv", "ippe"):
        if not kind and not code:
            row.fail("visit_type", "required for an initiating visit (em, awv or ippe), or give its code")
        for column in FACE_TO_FACE_ONLY:
            if row.cells.get(column):
                row.fail(column, "only for a face-to-face visit, and this row is an initiating visit")
        data = {k: v for k, v in data.items() if k not in (*FACE_TO_FACE_ONLY, "in_person")}
        return [data | {"type": "InitiatingVisitRecorded", "visit_type": kind}]
    if data.pop("extended_assessment", False):
        row.fail("extended_assessment", "only for an initiating visit (say yes in column initiating)")
    return [data | {"type": "FaceToFaceVisitRecorded"}]


def one_service(row: Row, data: dict[str, Any]) -> list[dict[str, Any]]:
    """A claim is for a month (care management) or a day (TCM, setup), never both."""
    if bool(row.cells.get("service_month")) == bool(row.cells.get("service_date")):
        row.fail("service_month", "give exactly one of service_month and service_date")
    return [data]


DEMOGRAPHICS = ("last_name", "first_name", "sex", "address", "city", "state", "zip", "effective_on")


def demographics(row: Row, data: dict[str, Any]) -> list[dict[str, Any]]:
    """PatientRegistered, and PatientDemographicsRecorded when any demographic cell is filled."""
    registered = {k: v for k, v in data.items() if k not in DEMOGRAPHICS}
    shown = {k: v for k, v in data.items() if k in DEMOGRAPHICS}
    if not shown:
        return [registered]
    common = {k: v for k, v in data.items() if k in ("patient_id", "source", "recorded_by")}
    return [registered, {"type": "PatientDemographicsRecorded", **common, **shown}]
