"""HL7 v2 ADT messages into the ledger: stays, discharges and their cancellations, deaths; an
unknown patient refused, a malformed message invalid, a message sent twice recorded once.
The fixtures follow the HL7 v2.5.1 chapter 3 ADT examples (fictional people)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from adapters.feeds import hl7_feed
from adapters.feeds.items import FeedError, FeedResult, record
from domain import facts
from domain.catalog import DEFAULT_FEES
from domain.ledger import Ledger
from domain.rules.assess import assess
from tests.conftest import Clock, memory
from tests.factories import NPI

FIXTURES = Path(__file__).parent.parent / "fixtures" / "hl7"
ZONE = ZoneInfo("America/New_York")
PID = "PATID1234"  # PID-3 of the fixtures


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


@pytest.fixture
def ledger() -> Ledger:
    ledger = memory(Clock())
    ledger.record(facts.PatientRegistered(patient_id=PID))
    return ledger


def send(ledger: Ledger, *names: str) -> list[FeedResult]:
    """Each fixture as one message, numbered in order, recorded as the listener records it."""
    answers: list[FeedResult] = []
    for n, name in enumerate(names, start=1):
        record(ledger, hl7_feed.message_items(fixture(name), n, zone=ZONE), answers.append)
    return answers


def tcm_row(ledger: Ledger) -> tuple[dict[str, str], list[str]]:
    """The March worklist's TCM codes: held back (reason: detail), and billable."""
    view = ledger.month_view(PID, "2026-03")
    assert view is not None
    row = assess(view, DEFAULT_FEES)
    tcm = ("99495", "99496")
    return {b.reason: b.detail for b in row.blocked if b.code in tcm}, [b.code for b in row.billable if b.code in tcm]


def visit_after(ledger: Ledger, discharge_id: str = "V1001") -> None:
    """The practice's TCM visit on day 6 with moderate MDM: only the contact can hold TCM back."""
    ledger.record(facts.FaceToFaceVisitRecorded(
        patient_id=PID, visit_id="TCM-1", visit_on=date(2026, 3, 12), provider_npi=NPI, in_person=True,
        discharge_id=discharge_id,
    ))  # fmt: skip
    ledger.record(facts.MedicalDecisionMaking(
        patient_id=PID, discharge_id=discharge_id, level=facts.MdmLevel.MODERATE, by="DR-1",
        decided_on=date(2026, 3, 12),
    ))  # fmt: skip


def test_admit_and_discharge_start_the_tcm_contact_clock(ledger: Ledger) -> None:
    """P-TCM-1: a discharge home on Friday 2026-03-06 needs contact by Tuesday 2026-03-10."""
    answers = send(ledger, "a01_admit.hl7", "a03_discharge_home.hl7")
    assert [(a.status, a.fact_type) for a in answers] == [
        ("accepted", "FacilityStayStarted"),
        ("accepted", "FacilityStayStarted"),  # the A03 repeats the stay: the same, recorded once
        ("accepted", "FacilityStayEnded"),
        ("accepted", "Discharged"),
    ]
    assert answers[1].duplicate and answers[0].item == "message 1 (MSG00001)"
    view = ledger.month_view(PID, "2026-03")
    assert view is not None
    stay = view.patient.stays["V1001"]
    assert str(stay.started.setting) == "inpatient" and str(stay.started.started_on) == "2026-03-02"
    discharged = view.patient.discharges["V1001"].discharged
    assert (discharged.from_setting, discharged.to_setting) == ("inpatient", "home")
    visit_after(ledger)
    blocked, billable = tcm_row(ledger)
    assert blocked["TCM_CONTACT_LATE"] == "no contact by 2026-03-10 (2 business days)"
    assert "DISCHARGE_INELIGIBLE" not in blocked and billable == []
    ledger.record(facts.TransitionContactMade(
        patient_id=PID, discharge_id="V1001", contacted_on=date(2026, 3, 10), method=facts.ContactMethod.PHONE,
        by="RN-1",
    ))  # fmt: skip
    assert tcm_row(ledger)[1] == ["99495"]  # contact on the deadline day: TCM-eligible


def test_a03_alone_records_the_stay_it_ends(ledger: Ledger) -> None:
    """A feed that missed the A01 (or a patient registered mid-stay) still gets a whole stay."""
    answers = send(ledger, "a03_discharge_home.hl7")
    assert [a.status for a in answers] == ["accepted"] * 3
    visit_after(ledger)
    assert "TCM_CONTACT_LATE" in tcm_row(ledger)[0]


def test_a13_cancels_the_discharge(ledger: Ledger) -> None:
    send(ledger, "a01_admit.hl7", "a03_discharge_home.hl7")
    visit_after(ledger)
    assert "TCM_CONTACT_LATE" in tcm_row(ledger)[0]
    [answer] = send(ledger, "a13_cancel_discharge.hl7")
    assert answer.status == "accepted" and answer.fact_type == "DischargeCancelled"
    view = ledger.month_view(PID, "2026-03")
    assert view is not None and "V1001" not in view.patient.discharges
    assert tcm_row(ledger) == ({}, [])  # no TCM offered, nor held back


def test_a11_cancels_the_stay(ledger: Ledger) -> None:
    answers = send(ledger, "a01_admit.hl7", "a11_cancel_admit.hl7")
    assert [(a.status, a.fact_type) for a in answers][-1] == ("accepted", "FacilityStayCancelled")
    view = ledger.month_view(PID, "2026-03")
    assert view is not None and view.patient.stays == {}


def test_disposition_expired_records_a_death_not_a_discharge(ledger: Ledger) -> None:
    answers = send(ledger, "a01_admit.hl7", "a03_expired.hl7")
    assert [a.fact_type for a in answers[1:]] == ["FacilityStayStarted", "FacilityStayEnded", "PatientDied"]
    assert all(a.status == "accepted" for a in answers)
    view = ledger.month_view(PID, "2026-03")
    assert view is not None and str(view.patient.died_on) == "2026-03-06"
    assert view.patient.discharges == {} and str(view.patient.stays["V1001"].ended_on) == "2026-03-06"


def test_a08_with_a_death_date_records_the_death_and_without_one_is_skipped(ledger: Ledger) -> None:
    [died] = send(ledger, "a08_death.hl7")
    assert (died.status, died.fact_type) == ("accepted", "PatientDied")
    plain = fixture("a08_death.hl7").replace("202603060310-0500|Y", "")
    [item] = hl7_feed.message_items(plain, 2, zone=ZONE)
    assert item.skipped is not None and item.fact is None


def test_unknown_patient_is_refused(ledger: Ledger) -> None:
    [answer] = send(ledger, "a01_unknown_patient.hl7")
    assert answer.status == "refused" and answer.reasons is not None
    assert [r.code.value for r in answer.reasons] == ["UNKNOWN_PATIENT"]


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("malformed_order.hl7", "PID: segment out of order for ADT_A01"),
        ("malformed_no_msh.hl7", "does not start with an MSH segment"),
    ],
)
def test_malformed_message_is_invalid(ledger: Ledger, name: str, error: str) -> None:
    [answer] = send(ledger, name)
    assert answer.status == "invalid" and answer.error is not None and error in answer.error


def test_invalid_fields_name_the_field_never_the_value(ledger: Ledger) -> None:
    """A message with an unreadable field records none of its facts."""
    text = fixture("a03_discharge_home.hl7").replace("202603061430-0500", "2026-03-06")
    [item] = hl7_feed.message_items(text, 1, zone=ZONE)
    assert item.error == "PV1-45: expected an HL7 date/time YYYYMMDD[HHMM[SS]][+/-ZZZZ]"
    no_visit = fixture("a01_admit.hl7").replace("V1001^^^GHH^VN", "")
    [item] = hl7_feed.message_items(no_visit, 1, zone=ZONE)
    assert item.error is not None and item.error.startswith("PV1-19:")


def test_the_same_message_twice_records_once(ledger: Ledger) -> None:
    first = send(ledger, "a01_admit.hl7", "a03_discharge_home.hl7")
    again = send(ledger, "a01_admit.hl7", "a03_discharge_home.hl7")
    assert all(a.status == "accepted" and a.duplicate for a in again)
    assert [a.position for a in again] == [a.position for a in first]


def test_offsets_are_read_in_the_practice_zone() -> None:
    """An instant late on the 6th in UTC is still the 6th in New York; a plain date stays."""
    assert str(hl7_feed.hl7_day("202603070300+0000", ZONE, "PV1-45")) == "2026-03-06"
    assert str(hl7_feed.hl7_day("20260307", ZONE, "PV1-45")) == "2026-03-07"


def test_a_file_of_messages_and_its_framings(ledger: Ledger) -> None:
    """Newline-separated messages, or MLLP frames; FeedError when nothing is HL7."""
    text = fixture("a01_admit.hl7") + fixture("a03_discharge_home.hl7")
    assert [i.where for i in hl7_feed.items(text, zone=ZONE)][::3] == ["message 1 (MSG00001)", "message 2 (MSG00002)"]
    framed = "".join(
        f"\x0b{fixture(n).replace(chr(10), chr(13))}\x1c\r" for n in ("a01_admit.hl7", "a11_cancel_admit.hl7")
    )
    assert [type(i.fact).__name__ for i in hl7_feed.items(framed, zone=ZONE)] == [
        "FacilityStayStarted",
        "FacilityStayCancelled",
    ]
    with pytest.raises(FeedError):
        list(hl7_feed.items("patient_id,minutes\nP1,20\n", zone=ZONE))


def test_ack_answers_the_message_and_a_broken_one() -> None:
    from hl7apy.parser import parse_message  # type: ignore[import-untyped]

    reply = parse_message(hl7_feed.ack(fixture("a01_admit.hl7"), "AE", "UNKNOWN_PATIENT: not registered"))
    assert (reply.msa.msa_1.value, reply.msa.msa_2.value) == ("AE", "MSG00001")
    assert reply.msh.msh_9.to_er7() == "ACK^A01^ACK" and reply.msh.msh_5.to_er7() == "ADT1"
    assert "UNKNOWN_PATIENT" in reply.err.err_8.to_er7()
    broken = parse_message(hl7_feed.ack("not hl7 at all", "AR", "unparsable"))
    assert broken.msa.msa_1.value == "AR" and broken.msa.msa_2.value == ""
