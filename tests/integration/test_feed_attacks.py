"""What an attack run found in the feeds, each kept closed: HL7 fields sent with components
where the standard has one value, values that may be PHI in skip and error texts, ZIP codes
"repaired" into other ZIPs, one fact per device day from a CSV, control characters, and
escapes."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from adapters.feeds import csv_feed, hl7_feed
from adapters.feeds.items import record
from adapters.feeds.mllp import verdict
from domain import facts as f
from tests.conftest import Clock, memory
from tests.factories import enrolled

ZONE = ZoneInfo("America/New_York")
SAMPLES = Path(__file__).parent.parent.parent / "docs" / "samples"
A03 = (SAMPLES / "hl7" / "a03_discharge_home.hl7").read_text().replace("\n", "\r")


def with_pv1(changes: dict[int, str]) -> str:
    lines = A03.split("\r")
    pv1 = next(i for i, x in enumerate(lines) if x.startswith("PV1"))
    fields = lines[pv1].split("|")
    for k, v in changes.items():
        fields[k] = v
    lines[pv1] = "|".join(fields)
    return "\r".join(lines)


def test_fields_sent_with_components_read_by_their_first() -> None:
    """PV1-36 `01^Home` and PV1-2 `I^Inpatient`, common in v2.5.1 feeds, read as 01 and I."""
    found = hl7_feed.message_items(with_pv1({36: "01^Home", 2: "I^Inpatient"}), 1, zone=ZONE)
    assert [type(x.fact).__name__ for x in found] == ["FacilityStayStarted", "FacilityStayEnded", "Discharged"]


def test_a_message_hl7apy_cannot_read_is_an_error_never_a_crash() -> None:
    broken = A03.replace("MSH|^~\\&|", "MSH|^~\\&|\x00", 1).replace("EVN|A03|", "EVN|A03^X^Y^Z|", 1)
    items = list(hl7_feed.items(broken + "\r\n" + A03, zone=ZONE))
    assert items[0].fact is None and items[0].error and items[0].where.startswith("message 1")
    assert [type(x.fact).__name__ for x in items if x.where.startswith("message 2")] == [
        "FacilityStayStarted", "FacilityStayEnded", "Discharged"]  # fmt: skip


def test_skip_texts_never_repeat_what_is_not_a_code() -> None:
    found = hl7_feed.message_items(with_pv1({36: "EVERYMAN ADAM 19610615", 2: "SMITH JOHN"}), 1, zone=ZONE)
    said = " ".join(x.skipped or x.error or "" for x in found)
    assert "EVERYMAN" not in said and "SMITH" not in said and "not a table code" in said


def test_an_ae_says_what_of_the_message_was_recorded() -> None:
    ledger = memory(Clock())
    for fact in enrolled("PATID1234")[:1]:
        ledger.record(fact)
    found = hl7_feed.message_items(A03, 1, zone=ZONE)
    answers: list[object] = []
    record(ledger, found, answers.append)
    again = hl7_feed.message_items(A03.replace("202603061430", "202603081430"), 2, zone=ZONE)
    second: list[object] = []
    record(ledger, again, second.append)
    code, text, reasons = verdict(again, second)  # type: ignore[arg-type]
    assert code == "AE" and "STAY_DATES_CONFLICT" in reasons and "recorded: FacilityStayStarted" in text


def test_zip_codes_are_padded_only_where_zeros_were_lost() -> None:
    header = "patient_id,last_name,first_name,sex,address,city,state,zip,demographics_date\n"
    rows = ["P1,Doe,Jo,F,1 Elm,Boston,MA,2134,2020-01-01", "P2,Doe,Jo,F,1 Elm,Boston,MA,616021,2020-01-01"]
    items = list(csv_feed.items(header + "\n".join(rows) + "\n", "patients", zone=ZONE))
    zips = [getattr(x.fact, "zip", None) for x in items if isinstance(x.fact, f.PatientDemographicsRecorded)]
    assert zips == ["02134"]
    assert any(x.error and "column zip" in x.error and "616021" not in x.error for x in items)


def test_a_csv_of_readings_records_one_fact_per_device_day() -> None:
    header = "patient_id,device_id,reading_date,reading_kind,manual\n"
    rows = [f"P1,BP-1,2026-03-0{1 + n % 3},{kind},no" for n in range(30) for kind in ("bp", "pulse")]
    items = list(csv_feed.items(header + "\n".join(rows) + "\n", "device-readings", zone=ZONE))
    assert sum(x.fact is not None for x in items) == 3
    assert all(x.skipped and "recorded by row" in x.skipped for x in items if x.fact is None)


def test_a_header_that_is_really_data_is_not_repeated() -> None:
    import pytest

    from adapters.feeds.items import FeedError

    with pytest.raises(FeedError) as caught:
        list(csv_feed.items("p_2002,bp_2002,margaret_thatcher,manual\n1,2,3,4\n", "device-readings", zone=ZONE))
    assert "thatcher" not in str(caught.value) and "p_2002" not in str(caught.value)


def test_control_characters_and_escapes_in_hl7_ids() -> None:
    escaped = hl7_feed.message_items(A03.replace("PATID1234", "PAT\\F\\1"), 1, zone=ZONE)
    assert {getattr(x.fact, "patient_id", None) for x in escaped} == {"PAT|1"}
    control = hl7_feed.message_items(A03.replace("PATID1234", "PAT\x01ID"), 1, zone=ZONE)
    assert any(x.error and "control characters" in x.error for x in control)
