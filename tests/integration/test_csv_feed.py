"""CSV feeds: a practice's spreadsheets turned into facts and recorded, one answer per row
naming the row and column, and whole files refused when they are not CSV or not that kind."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from adapters.feeds.csv_feed import KINDS, items, template
from adapters.feeds.items import FeedError, FeedResult, Item, record
from adapters.feeds.mappings import Mappings
from domain import facts as f
from tests.conftest import Clock, memory
from tests.factories import enrolled, minutes

NY = ZoneInfo("America/New_York")
SAMPLES = Path(__file__).resolve().parents[2] / "docs" / "samples" / "csv"
ORDER = ("patients", "conditions", "consents", "visits", "care-plans", "time", "devices", "device-readings",
         "discharges", "claims")  # fmt: skip
TIME_HEADER = (
    "entry_id,patient_id,program,staff_id,staff_role,activity,date,start_time,minutes,interactive,face_to_face"
)


def ledger_with(*patients: str) -> Any:
    ledger = memory(Clock())
    for pid in patients:
        for fact in enrolled(pid):
            ledger.record(fact)
    return ledger


def answers(ledger: Any, found: Any) -> list[FeedResult]:
    out: list[FeedResult] = []
    record(ledger, found, out.append)
    return out


def one(text: str, kind: str = "time", **kw: Any) -> Item:
    (item,) = list(items(text, kind, zone=NY, **kw))
    return item


def fact_of(text: str, kind: str = "time", **kw: Any) -> Any:
    item = one(text, kind, **kw)
    assert item.error is None, item.error
    return item.fact


def time_rows(count: int) -> list[list[str]]:
    """`count` good rows: distinct ids, five patients, four staff, never overlapping in time."""
    rows = []
    for i in range(count):  # 20 half-hour slots a working day, from March 1
        at = datetime(2026, 3, 1 + i // 20, 8, 0) + timedelta(minutes=30 * (i % 20))
        day = at.strftime("%m/%d/%Y") if i % 2 else at.strftime("%Y-%m-%d")
        length = "0:20" if i % 3 == 0 else "20"
        rows.append([f"T-{i}", f"P{i % 5 + 1}", "CCM", f"RN-{i % 4}", "clinical_staff", "care call", day,
                     at.strftime("%H:%M"), length, "yes" if i % 2 else "", "no"])  # fmt: skip
    return rows


def test_500_rows_with_5_bad_records_495_and_names_row_and_column() -> None:
    rows = time_rows(500)
    bad = {7: ("minutes", 8, "-5"), 50: ("date", 6, "13/45/2026"), 120: ("program", 2, "XYZ"),
           301: ("patient_id", 1, ""), 444: ("minutes", 8, "1:75")}  # fmt: skip
    for index, (_, at, value) in bad.items():
        rows[index][at] = value
    text = "\n".join([TIME_HEADER, *(",".join(r) for r in rows)]) + "\n"
    results = answers(ledger_with(*(f"P{n}" for n in range(1, 6))), items(text, "time", zone=NY))
    assert len(results) == 500
    assert sum(r.status == "accepted" for r in results) == 495
    invalid = [r for r in results if r.status != "accepted"]
    assert [r.status for r in invalid] == ["invalid"] * 5
    for r, (index, (column, _, value)) in zip(invalid, sorted(bad.items()), strict=True):
        assert r.item == f"row {index + 2}"  # the header is row 1
        assert r.error is not None and r.error.startswith(f"row {index + 2}: column {column}:"), r.error
        if value in ("13/45/2026", "1:75"):  # a cell the contract does not list as a code or count is never echoed
            assert value not in r.error


@pytest.mark.parametrize("kind", KINDS)
def test_each_template_parses_back_and_records(kind: str) -> None:
    text = template(kind)
    found = list(items(text, kind, zone=NY))
    assert found and all(i.fact is not None and i.error is None for i in found), [i.error for i in found]
    assert all(i.where == "row 2" for i in found)
    ledger = memory(Clock()) if kind == "patients" else ledger_with("P-1001")
    if kind == "device-readings":
        ledger.record(f.DeviceSetup(patient_id="P-1001", device_id="BP-1001", program=f.DeviceProgram.RPM,
                                    category=f.DeviceCategory.PHYSIOLOGIC, setup_on=date(2026, 3, 1)))  # fmt: skip
    if kind == "claims":
        for entry in minutes(60, "P-1001"):
            ledger.record(entry)
    results = answers(ledger, iter(found))
    assert [r.status for r in results] == ["accepted"] * len(found), results


def test_template_documents_every_column() -> None:
    text = template("time")
    header = text.splitlines()[0].split(",")
    for column in header:
        assert f"# {column}:" in text
    with pytest.raises(FeedError, match="unknown CSV kind"):
        template("timesheets")


def test_header_in_another_order_with_spaces_case_and_hyphens() -> None:
    text = (
        "Minutes,Start Time,DATE,Staff-Role,activity,Staff ID,Program,Patient_ID,Entry ID\n"
        "0:25,14:30,03/02/2026,Clinical Staff,call,RN-1,ccm,P1,E-1\n"
    )
    fact = fact_of(text)
    assert isinstance(fact, f.TimeLogged)
    assert (fact.entry_id, fact.patient_id, fact.program, fact.staff_role) == ("E-1", "P1", "CCM", "clinical_staff")
    assert fact.minutes == 25 and fact.interactive is False


def test_local_start_is_converted_with_the_practice_zone() -> None:
    header = "entry_id,patient_id,program,staff_id,staff_role,activity,started_at,minutes\n"
    expected = datetime(2026, 3, 2, 19, 30, tzinfo=UTC)
    for started in ("2026-03-02 14:30", "03/02/2026 2:30 PM", "2026-03-02T14:30", "2026-03-02T14:30:00-05:00"):
        fact = fact_of(header + f"E-1,P1,CCM,RN-1,clinical_staff,call,{started},25\n")
        assert fact.started_at == expected, started
    by_parts = fact_of(f"{TIME_HEADER}\nE-1,P1,CCM,RN-1,clinical_staff,call,3/2/2026,14:30,25,,\n")
    assert by_parts.started_at == expected
    summer = fact_of(f"{TIME_HEADER}\nE-1,P1,CCM,RN-1,clinical_staff,call,2026-07-01,14:30,25,,\n")
    assert summer.started_at == datetime(2026, 7, 1, 18, 30, tzinfo=UTC)
    skipped = one(header + "E-1,P1,CCM,RN-1,clinical_staff,call,2026-03-08 02:30,25\n")
    assert skipped.error is not None and skipped.error.startswith("column started_at:") and "02:30" not in skipped.error


def test_bom_semicolons_and_us_dates() -> None:
    text = (
        "\ufeffentry_id;patient_id;program;staff_id;staff_role;activity;date;start_time;minutes;interactive\r\n"
        "E-1;P1;CCM;RN-1;RN;call, then fax;03/02/2026;14:30;1:05;X\r\n"
    )
    for delimiter in (";", None):  # given, or told apart by the header
        fact = fact_of(text, delimiter=delimiter)
        assert fact.minutes == 65 and fact.interactive is True and fact.activity == "call, then fax"
        assert fact.staff_role == "clinical_staff"


BOOLEANS = {"yes": True, "Y": True, "TRUE": True, "1": True, "x": True, "no": False, "n": False, "false": False,
            "0": False, "": False}  # fmt: skip


@pytest.mark.parametrize(("cell", "expected"), BOOLEANS.items())
def test_booleans(cell: str, expected: bool) -> None:
    fact = fact_of(f"{TIME_HEADER}\nE-1,P1,CCM,RN-1,clinical_staff,call,2026-03-02,09:00,20,{cell},\n")
    assert fact.interactive is expected


def test_cell_errors_name_the_column_and_never_the_value() -> None:
    cases = {"date": "2026-02-30", "start_time": "25:61", "minutes": "1:75", "interactive": "maybe"}
    cells = ["E-1", "P1", "CCM", "RN-1", "clinical_staff", "call", "2026-03-02", "09:00", "20", "", ""]
    good = dict(zip(TIME_HEADER.split(","), cells, strict=True))
    for column, value in cases.items():
        row = good | {column: value}
        item = one(TIME_HEADER + "\n" + ",".join(row.values()) + "\n")
        assert item.error is not None and item.error.startswith(f"column {column}: expected"), item.error
        assert value not in item.error
    both = one(TIME_HEADER + "\n" + ",".join((good | {"date": "13/45/2026", "minutes": "abc"}).values()) + "\n")
    assert both.error is not None and "column date:" in both.error and "column minutes:" in both.error


def test_cells_a_spreadsheet_makes() -> None:
    row = "E-1,P1,CCM,RN-1,clinical_staff,{activity},2026-03-02,09:00,20,,{extra}"
    broken = fact_of(TIME_HEADER + "\n" + row.format(activity='"call,\nthen fax"', extra="") + "\n")
    assert broken.activity == "call, then fax"  # a line break inside a cell is a space
    control = one(TIME_HEADER + "\n" + row.format(activity="call\x07", extra="") + "\n")
    assert control.error == "column activity: expected text without control characters"
    stray = one(TIME_HEADER + ",\n" + row.format(activity="call", extra=",Jane") + "\n")
    assert stray.error == "column 12: a value where the header names no column"
    wrong = one(TIME_HEADER + "\n" + row.format(activity="call", extra="").replace("CCM", "Chronic care") + "\n")
    assert wrong.error == "column program: expected one of CCM, PCM, APCM, RPM, RTM, BHI, COCM, CPM, TCM"
    tabs = fact_of(TIME_HEADER.replace(",", "\t") + "\n" + row.format(activity="call", extra="").replace(",", "\t"))
    assert tabs.minutes == 20
    with pytest.raises(FeedError, match=r"^line 2: not readable as CSV"):
        items(TIME_HEADER + "\n" + row.format(activity='"call"x', extra=""), "time", zone=NY)


def test_blank_rows_are_skipped_but_counted() -> None:
    row = "E-{n},P1,CCM,RN-1,clinical_staff,call,2026-03-02,{h}:00,20,,"
    text = "\n".join([TIME_HEADER, row.format(n=1, h=9), "", ",,,,,,,,,,", row.format(n=2, h=10)]) + "\n"
    assert [i.where for i in items(text, "time", zone=NY)] == ["row 2", "row 5"]


def test_the_same_file_twice_records_once() -> None:
    rows = time_rows(20)
    text = "\n".join([TIME_HEADER, *(",".join(r) for r in rows)]) + "\n"
    ledger = ledger_with(*(f"P{n}" for n in range(1, 6)))
    first = answers(ledger, items(text, "time", zone=NY))
    again = answers(ledger, items(text, "time", zone=NY))
    assert [r.status for r in first] == ["accepted"] * 20 and not any(r.duplicate for r in first)
    assert [r.status for r in again] == ["accepted"] * 20 and all(r.duplicate for r in again)
    assert [r.position for r in again] == [r.position for r in first]


SECRET = "P-SECRET-77"
NOT_CSV = {
    "binary": ("\x00\x01\x02PK" + SECRET, "binary"),
    "json": ('{"type": "TimeLogged", "patient_id": "' + SECRET + '"}\n', "JSON"),
    "json array": ('[{"patient_id": "' + SECRET + '"}]', "JSON"),
    "empty": ("", "no header row"),
    "blank lines": ("\n\n  \n", "no header row"),
    "no header": (f"E-1,{SECRET},CCM,RN-1,clinical_staff,call,2026-03-02,09:00,20,,\n",
                  "names none of the time columns"),
    "misspelt column": (TIME_HEADER.replace("minutes", "minuts") + f"\nE-1,{SECRET},CCM,RN-1,x,y,z,w,20,,\n",
                        "columns not in the time template: minuts; required columns missing: minutes"),
    "extra column": (TIME_HEADER + ",notes\n" + f"E-1,{SECRET},CCM,RN-1,x,y,z,w,20,,,\n",
                     "columns not in the time template: notes"),
    "no start": ("entry_id,patient_id,program,staff_id,staff_role,activity,minutes\n" + f"E-1,{SECRET},CCM,a,b,c,1\n",
                 "required columns missing: started_at or date and start_time"),
    "twice": (TIME_HEADER + ",Minutes\n" + f"E-1,{SECRET},CCM,RN-1,x,y,z,w,20,,,20\n", "columns given twice: minutes"),
    "another kind": ("patient_id,program,method,obtained_by,cost_sharing_explained,one_practitioner_explained,"
                     f"consent_date\n{SECRET},CCM,verbal,RN-1,yes,yes,01/05/2026\n", "it looks like a consents file"),
}  # fmt: skip


@pytest.mark.parametrize("case", NOT_CSV)
def test_not_csv_or_not_that_kind_is_refused_whole(case: str) -> None:
    text, words = NOT_CSV[case]
    with pytest.raises(FeedError) as caught:
        items(text, "time", zone=NY)
    message = str(caught.value)
    assert words in message
    assert SECRET not in message and "2026-03-02" not in message and "01/05/2026" not in message
    if case not in ("binary", "json", "json array", "empty", "blank lines"):
        assert "carelane import --template time" in message


def test_a_header_that_is_data_is_not_repeated() -> None:
    text = "entry_id,patient_id,program,staff_id,staff_role,activity,date,start_time,minutes,Jane Q. Doe 1948\nE,P,C\n"
    with pytest.raises(FeedError) as caught:
        items(text, "time", zone=NY)
    assert "Jane" not in str(caught.value) and "template: 1 other that is not a column name" in str(caught.value)


def test_visits_from_codes_types_and_the_initiating_flag() -> None:
    header = "visit_id,patient_id,visit_date,provider_npi,code,visit_type,initiating,in_person,minutes,discharge_id\n"
    rows = ["V1,P1,01/05/2026,1234567893,G0438,,,yes,,", "V2,P1,01/06/2026,1234567893,99213,,,yes,0:30,D1",
            "V3,P1,01/07/2026,1234567893,99214,,yes,yes,,", "V4,P1,01/08/2026,1234567893,,IPPE,,,,",
            "V5,P1,01/09/2026,1234567893,12345,,,yes,,", "V6,P1,01/09/2026,1234567893,G0438,,,yes,20,",
            "V7,P1,01/10/2026,1234567893,,,,no,,"]  # fmt: skip
    found = list(items(header + "\n".join(rows) + "\n", "visits", zone=NY))
    kinds = [(type(i.fact).__name__, getattr(i.fact, "visit_type", None)) if i.fact else i.error for i in found]
    assert kinds[:4] == [("InitiatingVisitRecorded", "awv"), ("FaceToFaceVisitRecorded", None),
                         ("InitiatingVisitRecorded", "em"), ("InitiatingVisitRecorded", "ippe")]  # fmt: skip
    assert found[1].fact == f.FaceToFaceVisitRecorded(patient_id="P1", visit_id="V2", visit_on=date(2026, 1, 6),
                                                      provider_npi="1234567893", in_person=True, minutes=30,
                                                      discharge_id="D1")  # fmt: skip
    assert str(kinds[4]).startswith("column code: expected a visit code the mappings know")
    assert str(kinds[5]).startswith("column minutes: only for a face-to-face visit")
    assert isinstance(found[6].fact, f.FaceToFaceVisitRecorded) and not found[6].fact.in_person
    custom = Mappings(visit_types={"12345": "awv"})
    assert isinstance(one(header + rows[4] + "\n", "visits", mappings=custom).fact, f.InitiatingVisitRecorded)


def test_claims_care_plans_patients_and_readings() -> None:
    claim = fact_of("claim_id,patient_id,billing_provider_npi,service_month,place_of_service,codes\n"
                    'C1,P1,1234567893,03/2026,11,"99490; 99439x2"\n', "claims")  # fmt: skip
    assert claim.service_month == "2026-03" and [(x.code, x.units) for x in claim.lines] == [("99490", 1), ("99439", 2)]
    head = "claim_id,patient_id,billing_provider_npi,service_month,service_date,place_of_service,codes\n"
    both = one(head + "C1,P1,1234567893,2026-03,2026-03-05,2,99490\n", "claims")
    assert both.error == "column service_month: give exactly one of service_month and service_date"
    bad_units = one(head + "C1,P1,1234567893,,2026-03-05,2,99490x0\n", "claims")
    assert bad_units.error is not None and bad_units.error.startswith("column codes (code 1): expected int >= 1")
    on_day = fact_of(head + "C1,P1,1234567893,,2026-03-05,2,99495\n", "claims")
    assert on_day.service_on == date(2026, 3, 5) and on_day.place_of_service == "02"
    plan = fact_of("plan_id,patient_id,plan_date,established_by,shared_with_patient,programs\n"
                   "CP1,P1,01/05/2026,DR-1,y,ccm|RPM\n", "care-plans")  # fmt: skip
    assert plan.programs == ["CCM", "RPM"] and plan.shared_with_patient is True
    only_registered = list(items("Patient ID,Birth Date,QMB\nP1,5/17/1948,x\n", "patients", zone=NY))
    assert [i.fact for i in only_registered] == [f.PatientRegistered(patient_id="P1", birth_date=date(1948, 5, 17),
                                                                     qmb=True)]  # fmt: skip
    partial = list(items("patient_id,last_name,zip\nP1,Doe,2134\n", "patients", zone=NY))
    assert partial[0].fact is not None and partial[1].error == "column first_name: required, but the cell is blank"
    reading = fact_of("patient_id,device_id,reading_date,manual\nP1,BP-1,2026-03-02,yes\n", "device-readings")
    assert reading == f.DataTransmitted(patient_id="P1", device_id="BP-1", transmitted_on=date(2026, 3, 2), manual=True)


def test_samples_import_in_order_with_no_invalid_rows() -> None:
    assert sorted(p.stem for p in SAMPLES.glob("*.csv")) == sorted(KINDS) == sorted(ORDER)
    ledger = memory(Clock())
    for kind in ORDER:
        results = answers(ledger, items((SAMPLES / f"{kind}.csv").read_text(encoding="utf-8"), kind, zone=NY))
        assert results, kind
        assert [r for r in results if r.status != "accepted"] == [], kind
