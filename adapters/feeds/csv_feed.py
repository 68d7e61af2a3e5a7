"""Care management kept in spreadsheets: a CSV file of one kind as the contract's facts, one
Item per row named `row N` as the spreadsheet numbers it (the header is row 1). The kinds and
their columns are in SPECS; `template(kind)` prints the header, an example row and what each
column holds as `#` rows (skipped when read back). Accepted: columns in any order, header
names in any case with spaces, underscores or hyphens; dates YYYY-MM-DD or M/D/YYYY; 25 or
1:05 minutes; local times in the practice's zone (or ISO instants with an offset); yes/no/y/
n/true/false/1/0/x/blank (blank: no); a BOM; `,`, `;` or tab (whichever makes the header match,
unless `delimiter` says); blank rows (skipped, still counted). FeedError for the whole file:
not CSV, a required column missing, or a column the kind has not (a misspelt column would
drop its data silently). Errors name row and column, never a cell's value."""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Callable, Iterable, Iterator
from zoneinfo import ZoneInfo

from adapters.feeds import csv_kinds as cell
from adapters.feeds.csv_kinds import Column as C, Kind, Row
from adapters.feeds.device_days import one_per_day
from adapters.feeds.items import FeedError, Item, fact_item
from adapters.feeds.mappings import DEFAULT, Mappings
from domain.vocab import ConsentMethod, DeviceCategory, DeviceProgram, Program, Sex, StaffRole


def choice(values: Iterable[str], norm: Callable[[str], str] = cell.upper) -> Callable[[str], str]:
    """A value of one of the contract's lists, however the sheet cases or spaces it; an error
    lists the values, never repeats the cell."""
    allowed = tuple(values)

    def read(given: str) -> str:
        if (value := norm(given)) not in allowed:
            raise cell.CellError(f"expected one of {', '.join(allowed)}")
        return value

    return read


PROGRAMS, PROGRAM = "CCM, PCM, APCM, RPM, RTM, BHI, COCM, CPM or TCM", choice(Program)
SEX = choice(Sex, lambda c: {"female": "F", "male": "M", "unknown": "U"}.get(c.lower(), c.upper()))
REQUIRED = True  # the header must name the column
PATIENT, NPI = C("patient_id", "P-1001", "the practice's id for the patient", required=REQUIRED), "1234567893"
COMMON = (C("recorded_by", "", "who keyed the row (optional)"), C("source", "", "the system it came from (optional)"))
SPECS: tuple[Kind, ...] = (
    Kind("patients", "PatientRegistered", (
        PATIENT,
        C("birth_date", "05/17/1948", "date of birth", cell.day),
        C("medicare_id", "1EG4-TE5-MK72", "Medicare beneficiary id (MBI)"),
        C("qmb", "no", "a Qualified Medicare Beneficiary (yes/no)", cell.flag),
        C("last_name", "Testperson", "name, sex and address: all or none (the 837P needs them)"),
        C("first_name", "Pat", "first name"),
        C("sex", "F", "F, M or U", SEX),
        C("address", "1 Elm St", "street address"),
        C("city", "Peoria", "city"),
        C("state", "IL", "2-letter state", cell.upper),
        C("zip", "61602", "5- or 9-digit ZIP (leading zeros a spreadsheet dropped are restored)", cell.padded(5, 9)),
        C("demographics_date", "01/01/2026", "the date name and address hold from", cell.day, to="effective_on"),
    ), finish=cell.demographics),
    Kind("conditions", "ConditionDiagnosed", (
        PATIENT,
        C("diagnosis_code", "E11.9", "ICD-10-CM code", cell.upper, REQUIRED, to="condition_id"),
        C("description", "Type 2 diabetes", "in words (optional)"),
        C("diagnosis_date", "01/10/2024", "when diagnosed", cell.day, REQUIRED, to="diagnosed_on"),
        C("expected_duration_months", "24", "how long it is expected to last", cell.count, REQUIRED),
        C("significant_risk", "yes", "places the patient at significant risk (yes/no)", cell.flag, REQUIRED),
        C("behavioral", "no", "a behavioral health condition (yes/no)", cell.flag),
        C("chronic_pain", "no", "chronic pain (yes/no)", cell.flag),
        C("diagnosed_by_npi", NPI, "NPI of the diagnosing practitioner", required=REQUIRED, to="diagnosed_by"),
    )),
    Kind("consents", "ConsentRecorded", (
        PATIENT,
        C("program", "CCM", PROGRAMS, PROGRAM, REQUIRED),
        C("method", "verbal", "verbal or written", choice(ConsentMethod, cell.word), REQUIRED),
        C("obtained_by", "RN-01", "staff id of who obtained it", required=REQUIRED),
        C("cost_sharing_explained", "yes", "cost sharing explained (yes/no)", cell.flag, REQUIRED),
        C("one_practitioner_explained", "yes", "told one practitioner may bill it (yes/no)", cell.flag, REQUIRED),
        C("consent_date", "01/05/2026", "when consent was given", cell.day, REQUIRED, to="recorded_on"),
    )),
    Kind("visits", "FaceToFaceVisitRecorded", (
        C("visit_id", "V-1001", "your id for the visit", required=REQUIRED),
        PATIENT,
        C("visit_date", "01/05/2026", "date of the visit", cell.day, REQUIRED, to="visit_on"),
        C("provider_npi", NPI, "NPI of the practitioner seen", required=REQUIRED),
        C("visit_type", "", "em, awv or ippe; or leave blank and give code", to=None),
        C("code", "99214", "CPT/HCPCS (G0438, G0439: awv; G0402: ippe; 99202-99215: em)", to=None),
        C("initiating", "yes", "the visit that starts care management (an AWV or IPPE always is)", to=None),
        C("extended_assessment", "no", "G0506 work done (initiating visits; yes/no)", cell.flag),
        C("in_person", "yes", "seen in person (face-to-face visits; yes/no)", cell.flag, REQUIRED),
        C("minutes", "", "length, 25 or 0:25 (face-to-face visits, optional)", cell.duration),
        C("discharge_id", "", "the discharge a TCM visit follows (face-to-face visits, optional)"),
        C("program", "", f"{PROGRAMS} (face-to-face visits, optional)", PROGRAM),
    ), either=(("visit_type",), ("code",)), finish=cell.visit),
    Kind("care-plans", "CarePlanEstablished", (
        C("plan_id", "CP-1001", "your id for the plan", required=REQUIRED),
        PATIENT,
        C("plan_date", "01/05/2026", "when established", cell.day, REQUIRED, to="established_on"),
        C("established_by", "DR-01", "staff id of who established it", required=REQUIRED, to="by"),
        C("shared_with_patient", "yes", "a copy given to the patient (yes/no)", cell.flag, REQUIRED),
        C("programs", "CCM;RPM", f"{PROGRAMS}; several separated by ; or |", cell.several(PROGRAM), REQUIRED),
    )),
    Kind("time", "TimeLogged", (
        C("entry_id", "T-1001", "your id for the entry: sent again, it records once", required=REQUIRED),
        PATIENT,
        C("program", "CCM", PROGRAMS, PROGRAM, REQUIRED),
        C("staff_id", "RN-01", "who did the work", required=REQUIRED),
        C("staff_role", "clinical_staff", "clinical_staff (RN, LPN, MA), physician (MD, DO) or qhp (NP, PA)",
          choice(StaffRole, cell.role), REQUIRED),
        C("activity", "medication review call", "what was done", required=REQUIRED),
        C("date", "03/02/2026", "the day the work started (with start_time)", to=None),
        C("start_time", "14:30", "local start, in the practice's time zone (14:30 or 2:30 PM)", to=None),
        C("started_at", "", "instead of date and start_time: 2026-03-02 14:30, or an ISO instant", to=None),
        C("minutes", "25", "minutes (25) or hours:minutes (0:25)", cell.duration, REQUIRED),
        C("interactive", "yes", "real-time talk with the patient or caregiver (yes/no)", cell.flag),
        C("face_to_face", "no", "spent face to face with the patient (yes/no)", cell.flag),
    ), either=(("started_at",), ("date", "start_time")), finish=cell.started),
    Kind("devices", "DeviceSetup", (
        PATIENT,
        C("device_id", "BP-1001", "the device's id (serial number)", required=REQUIRED),
        C("program", "RPM", "RPM or RTM", choice(DeviceProgram), REQUIRED),
        C("category", "physiologic", "physiologic, respiratory or musculoskeletal",
          choice(DeviceCategory, cell.word), REQUIRED),
        C("setup_date", "03/01/2026", "the day the patient was set up with it", cell.day, REQUIRED, to="setup_on"),
    )),
    Kind("device-readings", "DataTransmitted", (
        PATIENT,
        C("device_id", "BP-1001", "the device's id (set up in a devices file)", required=REQUIRED),
        C("reading_date", "03/02/2026", "the day the reading was sent", cell.day, REQUIRED, to="transmitted_on"),
        C("reading_kind", "blood pressure", "what was measured (optional)"),
        C("manual", "no", "keyed by hand, not sent by the device (yes/no): not a device day", cell.flag),
    )),
    Kind("discharges", "Discharged", (
        C("discharge_id", "D-1001", "your id for the discharge", required=REQUIRED),
        PATIENT,
        C("discharge_date", "03/11/2026", "the day of discharge", cell.day, REQUIRED, to="discharged_on"),
        C("from_setting", "inpatient", "inpatient, snf_part_a, inpatient_rehab, observation, ...", required=REQUIRED),
        C("to_setting", "home", "home, assisted_living, domiciliary, ...", required=REQUIRED),
    )),
    Kind("claims", "ClaimSubmitted", (
        C("claim_id", "C-1001", "your id for the claim", required=REQUIRED),
        PATIENT,
        C("billing_provider_npi", NPI, "NPI billed under", required=REQUIRED),
        C("service_month", "2026-03", "month of service, YYYY-MM (or give service_date)", cell.month),
        C("service_date", "", "date of service (TCM, device setup)", cell.day, to="service_on"),
        C("place_of_service", "11", "2-digit place of service", cell.padded(2), REQUIRED),
        C("codes", "99490;99439x2", "codes separated by ; or |, each with xUNITS when more than 1", cell.claim_lines,
          REQUIRED, to="lines"),
    ), either=(("service_month",), ("service_date",)), finish=cell.one_service),
)  # fmt: skip
SPECS = tuple(Kind(k.name, k.fact, k.columns + COMMON, k.either, k.finish) for k in SPECS)
KINDS: tuple[str, ...] = tuple(k.name for k in SPECS)
_BY_NAME = {k.name: k for k in SPECS}
csv.field_size_limit(16 * 1024 * 1024)  # a long note must not refuse the file (the default: 128 KiB)
_NOT_CSV = {
    "{": "JSON (send NDJSON facts with `carelane ingest`, FHIR with --format fhir)",
    "[": "JSON (FHIR resources go with --format fhir)", "MSH|": "HL7 v2 (use --format hl7)",
    "ISA*": "X12 (use `carelane receive`)", "%PDF": "a PDF", "PK\x03\x04": "a zip file (an .xlsx? save it as CSV)",
}  # fmt: skip


def kind_of(kind: str) -> Kind:
    try:
        return _BY_NAME[kind]
    except KeyError:
        raise FeedError(f"unknown CSV kind {kind!r}: expected one of {', '.join(KINDS)}") from None


def template(kind: str) -> str:
    """The header row, one example row (fictional values) and a `#` row per column saying what it holds."""
    spec = kind_of(kind)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in spec.columns])
    writer.writerow([c.example for c in spec.columns])
    for c in spec.columns:
        writer.writerow([f"# {c.name}: {'required; ' if c.required else ''}{c.doc}"])
    if spec.either:
        writer.writerow([f"# the header needs {' or '.join(' and '.join(g) for g in spec.either)}"])
    return out.getvalue()


def items(
    text: str, kind: str, *, zone: ZoneInfo, delimiter: str | None = None, mappings: Mappings = DEFAULT
) -> Iterator[Item]:
    """One Item per fact a row gives (or per row that gives none, with its error); blank and
    `#` rows give none. The whole file is checked before the first item: FeedError when it is
    not CSV or not of this kind."""
    spec = kind_of(kind)
    text = _plain(text.removeprefix("\ufeff"))
    if delimiter is not None and len(delimiter) != 1:
        raise FeedError("the delimiter must be one character, such as , or ;")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter or _sniff(text, spec), strict=True)
    try:
        records = list(reader)
    except csv.Error as e:  # the message names the quoting problem, never the text
        raise FeedError(f"line {reader.line_num}: not readable as CSV ({e}); save the sheet as CSV UTF-8") from None
    start = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
    if start is None:
        raise FeedError(f"no header row: the file is empty; `carelane import --template {kind}` prints one")
    columns = _header(records[start], spec)
    found = _rows(records, start, columns, spec, zone, mappings)
    return one_per_day(found) if spec.name == "device-readings" else found


def _plain(text: str) -> str:
    head = text.lstrip()
    if "\x00" in text:
        raise FeedError("not a CSV file: it holds binary data")
    for start, what in _NOT_CSV.items():
        if head.startswith(start):
            raise FeedError(f"not a CSV file: it looks like {what}")
    return text


def _sniff(text: str, spec: Kind) -> str:
    """`,`, `;` or tab: whichever makes the most of the header's cells columns of this kind."""
    first = next((line for line in text.splitlines() if line.strip()), "")
    known = {c.name for c in spec.columns}

    def score(d: str) -> int:
        return sum(cell.word(c) in known for c in next(csv.reader([first], delimiter=d), []))

    return max((",", ";", "\t"), key=score)


def _header(cells: list[str], spec: Kind) -> list[str]:
    """The header's column names, checked against the kind: every required column there, none
    unknown, none twice. Names from the file are repeated only when they look like names."""
    names = [cell.word(c) for c in cells]
    known = {c.name for c in spec.columns}
    problems = [f"its first row names none of the {spec.name} columns"]
    if known & set(names):
        twice = sorted({n for n in names if n and names.count(n) > 1})
        unknown = [n for n in names if n and n not in known]
        missing = [c.name for c in spec.columns if c.required and c.name not in names]
        if spec.either and not any(set(g) <= set(names) for g in spec.either):
            missing.append(" or ".join(" and ".join(g) for g in spec.either))
        problems = [f"columns given twice: {_listed(twice, names)}"] * bool(twice)
        problems += [f"columns not in the {spec.name} template: {_listed(unknown, names)}"] * bool(unknown)
        problems += [f"required columns missing: {', '.join(missing)}"] * bool(missing)
    if problems:
        expected, hint = ", ".join(c.name for c in spec.columns), f"`carelane import --template {spec.name}`"
        raise FeedError(f"not a {spec.name} file: {'; '.join(problems)} (its columns: {expected}); "
                        f"{hint} prints the template{_looks_like(names, spec.name)}")  # fmt: skip
    return names


def _listed(names: list[str], header: list[str]) -> str:
    """Unknown header names, named when the row is plainly a header (half its cells are
    column names) or when close to a column (a misspelling); otherwise only counted: a row of
    data taken for a header holds names and dates, never to be repeated."""
    columns = {c.name for k in SPECS for c in k.columns}
    plain = 2 * len(columns & set(header)) >= len([h for h in header if h])
    shown = [n for n in names if difflib.get_close_matches(n, columns, n=1, cutoff=0.8) or (
        plain and len(n) <= 40 and n[:1].isalpha() and n.replace("_", "").isalnum() and n.isascii())]  # fmt: skip
    rest = len(names) - len(shown)
    other = f"{rest} other that is not a column name" if rest == 1 else f"{rest} others that are not column names"
    return ", ".join(shown) + (" and " if shown and rest else "") + (other if rest else "")


def _looks_like(names: list[str], kind: str) -> str:
    """The kind whose required columns the header holds, when it is another one."""
    for other in (k for k in SPECS if k.name != kind):
        need = {c.name for c in other.columns if c.required}
        if need <= set(names) and set(names) - {""} <= {c.name for c in other.columns}:
            return f"; it looks like a {other.name} file (--kind {other.name})"
    return ""


def _rows(
    records: list[list[str]], start: int, columns: list[str], spec: Kind, zone: ZoneInfo, mappings: Mappings
) -> Iterator[Item]:
    for n, record in enumerate(records[start + 1 :], start=start + 2):
        cells = [c.strip() for c in record]
        if not any(cells) or (cells[0].startswith("#") and not any(cells[1:])):
            continue  # blank rows, and the template's notes
        yield from _row(f"row {n}", cells, columns, spec, Row({}, zone, mappings))


def _row(where: str, cells: list[str], columns: list[str], spec: Kind, row: Row) -> Iterator[Item]:
    for i, value in enumerate(cells):
        name = columns[i] if i < len(columns) else ""
        if not value:
            continue
        if not name:
            row.errors.append(f"column {i + 1}: a value where the header names no column")
            continue
        value = " ".join(value.split())  # a line break inside a cell is a space
        if any(ch < " " or ch == "\x7f" for ch in value):
            row.fail(name, "expected text without control characters")
        row.cells[name] = value
    found = spec.build(row)
    if row.errors:
        yield Item(where, error="; ".join(row.errors))
        return
    for data in found:
        item = fact_item(where, data, spec.names)
        blank = item.error and item.error.replace(": required field missing", ": required, but the cell is blank")
        yield Item(where, error=blank) if blank else item
