"""Attacks on the claim gate (a red-team pass): each test is one attack a careless or dishonest
biller could try, with the answer the rules of rules.md require; the "held" ones pinned what
already held when the pass was made."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import msgspec
import pytest

from adapters import x12
from domain import facts as f
from domain.ledger import Ledger
from domain.reasons import Refused
from domain.rules.gate import shortfall
from tests.factories import (
    EST,
    NPI,
    OTHER_NPI,
    Book,
    claim,
    consent,
    enrolled,
    minutes,
    patient,
    plan,
    time_entry,
    visit,
)

P = f.Program
DP, DC = f.DeviceProgram, f.DeviceCategory


@pytest.fixture
def book(memory_ledger: Ledger) -> Book:
    return Book(memory_ledger)


def lines(*items: tuple[str, int]) -> list[f.ClaimLine]:
    return [f.ClaimLine(code, units) for code, units in items]


def on(claim_id: str, *codes: str, day: date, **kw: object) -> f.ClaimSubmitted:
    return claim(claim_id, codes=codes, service_month=None, service_on=day, **kw)


def verdict(book: Book, fact: f.Fact) -> list[str]:
    """[] when accepted, else the reason codes."""
    try:
        book.ledger.record(fact)
    except Refused as e:
        return [c.value for c in e.codes]
    return []


def statuses(book: Book, month: str, pid: str = "P1") -> dict[str, str]:
    view = book.ledger.month_view(pid, month)
    assert view is not None
    return {} if view.current is None else {k: c.status for k, c in view.current.claims.items()}


def exported(book: Book, month: str, pid: str = "P1") -> list[str]:
    return [c.claim.submitted.claim_id for c in x12.claims_for(book.ledger, [pid], month)]


def setup(device: str, program: DP, category: DC, day: date, pid: str = "P1") -> f.DeviceSetup:
    return f.DeviceSetup(patient_id=pid, device_id=device, program=program, category=category, setup_on=day)


def readings(device: str, first: date, days: int, pid: str = "P1") -> list[f.DataTransmitted]:
    return [
        f.DataTransmitted(patient_id=pid, device_id=device, transmitted_on=first + timedelta(days=i))
        for i in range(days)
    ]


def tcm_episode(book: Book, pid: str = "P1", discharged: date = date(2026, 3, 2)) -> date:
    """A discharge with contact on day 1, a visit on day 5 and high MDM: both 99495 and 99496
    are supported on their own. Returns the visit date (the TCM date of service)."""
    seen = discharged + timedelta(days=5)
    book.add(
        f.Discharged(
            patient_id=pid, discharge_id="D1", discharged_on=discharged, from_setting="inpatient", to_setting="home"
        ),
        f.TransitionContactMade(
            patient_id=pid,
            discharge_id="D1",
            contacted_on=discharged + timedelta(days=1),
            method=f.ContactMethod.PHONE,
            by="RN",
        ),
        f.FaceToFaceVisitRecorded(
            patient_id=pid, visit_id="FV1", visit_on=seen, provider_npi=NPI, in_person=True, discharge_id="D1"
        ),
        f.MedicalDecisionMaking(patient_id=pid, discharge_id="D1", level=f.MdmLevel.HIGH, by="DR", decided_on=seen),
    )
    return seen


# Findings: each of these fails while the bug stands.


def test_g06_voiding_the_base_claim_strands_its_add_on(book: Book) -> None:
    """G-06 (ADDON_WITHOUT_BASE): 99490 on C1 and 99439 on C2; voiding C1 leaves 99439 alone,
    still `accepted` and still in the 837P. Expected: C2 becomes unsupported (or the void is
    refused until the add-on claim is voided), and leaves the export."""
    book.add(enrolled("P1"), minutes(45))
    book.add(claim("C1", codes=("99490",)), claim("C2", codes=("99439",)))
    book.add(f.ClaimVoided(claim_id="C1", reason="wrong NPI", by="BILLER"))
    assert "C2" not in exported(book, "2026-03")


def test_g07_one_practitioner_across_patient_ids_with_the_same_medicare_id(book: Book) -> None:
    """G-07, L-01: the same beneficiary registered as P1 and P2 (one medicare_id, however it is
    spelled) could get 99490 from two practitioners for March. The second registration is
    refused ID_REUSED, so nothing can be claimed for P2."""
    book.add(enrolled("P1"))
    assert verdict(book, f.PatientRegistered(patient_id="P2", medicare_id=" 1eg4te5mk72")) == ["ID_REUSED"]
    assert verdict(book, claim("C2", "P2", billing_provider_npi=OTHER_NPI)) == ["UNKNOWN_PATIENT"]


def test_g09_an_old_consent_recorded_late_does_not_undo_a_revocation(book: Book) -> None:
    """G-09 (CONSENT_REVOKED): consent of 2026-01-05 revoked 2026-01-20; recording afterwards an
    older consent (2025-06-01, say from a chart migration) makes it the 'latest' consent, and
    March CCM is accepted. Expected: still CONSENT_REVOKED."""
    book.add(enrolled("P1"), minutes(20))
    book.add(f.ConsentRevoked(patient_id="P1", program=P.CCM, revoked_on=date(2026, 1, 20)))
    assert verdict(book, claim("C0")) == ["CONSENT_REVOKED"]
    book.add(consent(P.CCM, "P1", recorded_on=date(2025, 6, 1)))
    assert "CONSENT_REVOKED" in verdict(book, claim("C1"))


def test_pccm2_a_voided_backdated_entry_does_not_freshen_a_stale_visit(book: Book) -> None:
    """P-CCM-2 (INITIATING_VISIT_STALE): the only visit is 2024-06-01 and CCM starts March 2026,
    so the claim is stale. Logging one CCM minute dated 2025-02 and voiding it at once moves
    the 'first CCM month' to 2025-02 for good (voids never undo it), and the claim passes.
    Expected: a voided entry is no service on record; still INITIATING_VISIT_STALE."""
    book.add([x for x in enrolled("P1") if not isinstance(x, f.InitiatingVisitRecorded)])
    book.add(visit("VOLD", "P1", visit_on=date(2024, 6, 1)), minutes(20))
    assert verdict(book, claim("C0")) == ["INITIATING_VISIT_STALE"]
    book.add(
        time_entry("OLD", at=datetime(2025, 2, 3, 9, 0, tzinfo=EST), minutes=1),
        f.TimeEntryVoided(entry_id="OLD", patient_id="P1", reason="wrong patient", by="RN"),
    )
    assert verdict(book, claim("C1")) == ["INITIATING_VISIT_STALE"]


def test_pcocm1_a_voided_entry_does_not_turn_the_first_month_into_a_later_one(book: Book) -> None:
    """P-COCM-1: March is the first CoCM month; 33 minutes bill nothing (99492 needs 36). A one
    minute entry dated February, voided, makes March a 'later month', and 99493 (31 minutes) is
    accepted. Expected: 99493 refused CODE_CONFLICT as before the voided entry."""
    book.add(enrolled("P1", P.COCM), minutes(33, program=P.COCM))
    assert verdict(book, claim("C0", codes=("99493",))) == ["CODE_CONFLICT"]
    book.add(
        time_entry("FEB", at=datetime(2026, 2, 3, 9, 0, tzinfo=EST), minutes=1, program=P.COCM),
        f.TimeEntryVoided(entry_id="FEB", patient_id="P1", reason="wrong patient", by="RN"),
    )
    assert "CODE_CONFLICT" in verdict(book, claim("C1", codes=("99493",)))


def test_pcocm1_two_first_month_codes_through_late_entries(book: Book) -> None:
    """P-COCM-1, P-CCM-2: 99492 (first month) accepted for February; January minutes recorded
    late move the first month back, and a second 99492 for January is accepted, while the
    February 99492 stays `accepted`. Expected: the January 99492 refused, or February's claim
    marked unsupported (G-16); never two first months."""
    book.add(enrolled("P1", P.COCM), minutes(40, program=P.COCM, month="2026-02", day=9))
    book.add(claim("C1", codes=("99492",), service_month="2026-02"))
    book.add(minutes(40, program=P.COCM, month="2026-01", day=12))
    second = verdict(book, claim("C2", codes=("99492",), service_month="2026-01"))
    assert second != [] or statuses(book, "2026-02") == {"C1": "unsupported"}


def test_prpm1_prpm2_a_backdated_setup_reopens_setup_and_overlapping_periods(book: Book) -> None:
    """P-RPM-2 (SETUP_ALREADY_BILLED), P-RPM-1 (one device code per period): 99453 and 99454 for
    the episode begun 2026-02-01 are claimed. A second device set up 'on 2026-01-20' (recorded
    late) shifts every period: a second 99453 and a 99454 for 2026-01-20..02-18 (overlapping
    the 18 days already billed on C2) are both accepted. Expected: both refused."""
    book.add(enrolled("P1", P.RPM))
    book.add(setup("BP1", DP.RPM, DC.PHYSIOLOGIC, date(2026, 2, 1)), readings("BP1", date(2026, 2, 1), 20))
    book.add(on("C1", "99453", day=date(2026, 2, 1)), on("C2", "99454", day=date(2026, 3, 2)))
    book.add(setup("SC1", DP.RPM, DC.PHYSIOLOGIC, date(2026, 1, 20)), readings("SC1", date(2026, 1, 20), 5))
    again = verdict(book, on("C3", "99453", day=date(2026, 1, 20)))
    overlap = verdict(book, on("C4", "99454", day=date(2026, 2, 18)))
    assert again != [] and overlap != []


def test_prpm1_one_rtm_device_code_per_period_however_many_devices(book: Book) -> None:
    """P-RPM-1, P-RTM-1: 'one device code per period however many devices'. A respiratory and a
    musculoskeletal RTM device, 20 days each, same period: 98976 + 98977 on one claim is
    accepted. Expected: CODE_CONFLICT (as 98984 with 98977 already is)."""
    book.add(enrolled("P1", P.RTM))
    book.add(
        setup("R1", DP.RTM, DC.RESPIRATORY, date(2026, 2, 1)),
        setup("M1", DP.RTM, DC.MUSCULOSKELETAL, date(2026, 2, 1)),
        readings("R1", date(2026, 2, 1), 20),
        readings("M1", date(2026, 2, 1), 20),
    )
    assert verdict(book, claim("C1", lines=lines(("98976", 1), ("98977", 1)), service_month=None,
                               service_on=date(2026, 3, 2))) != []  # fmt: skip


def test_l07_99445_and_99454_for_one_period_dated_in_two_months(book: Book) -> None:
    """L-07 ('99445 and 99454 never for the same 30 days'), P-RPM-1: period 2026-02-15..03-16.
    99445 on 10 days, dated 02-20; late uploads bring 20 days; 99454 dated 03-10 (same period,
    other calendar month) is accepted beside it. The exclusion compares claim months, not
    periods. Expected: CODE_CONFLICT (it is refused when dated in February)."""
    book.add(enrolled("P1", P.RPM))
    book.add(setup("BP1", DP.RPM, DC.PHYSIOLOGIC, date(2026, 2, 15)), readings("BP1", date(2026, 2, 15), 10))
    book.add(on("C1", "99445", day=date(2026, 2, 20)))
    book.add(readings("BP1", date(2026, 2, 25), 10))
    assert "CODE_CONFLICT" in verdict(book, on("C2", "99454", day=date(2026, 3, 10)))


def test_l07_rpm_and_rtm_for_the_same_period_dated_in_two_months(book: Book) -> None:
    """L-07 (RPM and RTM exclude each other for the same period): RPM and RTM devices both set up
    2026-02-10 (period 02-10..03-11). 99454 dated 03-11 and 98976 dated 02-28 are both accepted;
    dated 03-11 the 98976 is refused. Expected: CODE_CONFLICT whatever day of the period."""
    book.add(enrolled("P1", P.RPM), consent(P.RTM, "P1"))
    book.add(setup("BP1", DP.RPM, DC.PHYSIOLOGIC, date(2026, 2, 10)), readings("BP1", date(2026, 2, 10), 20))
    book.add(setup("R1", DP.RTM, DC.RESPIRATORY, date(2026, 2, 10)), readings("R1", date(2026, 2, 10), 20))
    book.add(on("C1", "99454", day=date(2026, 3, 11)))
    assert "CODE_CONFLICT" in verdict(book, on("C2", "98976", day=date(2026, 2, 28)))


def test_ptcm1_99495_and_99496_on_one_claim(book: Book) -> None:
    """P-TCM-1 (one TCM per patient per 30 days, TCM_ALREADY_BILLED): one claim carrying 99495
    and 99496 for one discharge is accepted and exported ($518). On two claims the second is
    refused. Expected: refused (TCM_ALREADY_BILLED or TIER_CONFLICT)."""
    book.add(patient("P1"))
    seen = tcm_episode(book)
    assert verdict(book, claim("T1", lines=lines(("99495", 1), ("99496", 1)), service_month=None,
                               service_on=seen)) != []  # fmt: skip


def test_g16_a_late_short_stay_does_not_leave_a_supported_claim_unsupported(book: Book) -> None:
    """G-16, G-10: 45 CCM minutes on 03-02 and 03-20; 99490+99439 paid. A 3-day inpatient stay
    (03-08..03-11) is recorded late: FacilityStayStarted re-checks with the stay still open,
    marks C1 unsupported (a $116 'overpayment', repay by date) and FacilityStayEnded, the next
    line, never undoes it, though shortfall() is now empty. Expected: C1 paid, not unsupported
    (judge once the stay is known, or let a later fact restore support)."""
    book.add(enrolled("P1"), minutes(30, day=2), minutes(15, day=20, staff="RN-2"))
    book.add(claim("C1", lines=lines(("99490", 1), ("99439", 1))))
    book.add(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("116")))
    book.add(
        f.FacilityStayStarted(patient_id="P1", stay_id="S1", setting=f.Setting.INPATIENT, started_on=date(2026, 3, 8)),
        f.FacilityStayEnded(patient_id="P1", stay_id="S1", ended_on=date(2026, 3, 11)),
    )
    view = book.ledger.month_view("P1", "2026-03")
    assert view is not None and view.current is not None
    c1 = view.current.claims["C1"]
    assert shortfall(c1, view) == []
    assert c1.status == "paid"


def test_g18_a_device_claim_dated_after_death(book: Book) -> None:
    """G-18 (PATIENT_DECEASED: no service dated after death): the patient died 2026-03-01 in the
    period 02-20..03-21. 99445 dated 03-21 is accepted (its 10 days are before death) and goes
    to the 837 with DTP*472 after the date of death. Expected: refused PATIENT_DECEASED for a
    date of service after death (the period's days before death may be billed dated on or
    before the death)."""
    book.add(enrolled("P1", P.RPM))
    book.add(setup("BP1", DP.RPM, DC.PHYSIOLOGIC, date(2026, 2, 20)), readings("BP1", date(2026, 2, 20), 25))
    book.add(f.PatientDied(patient_id="P1", died_on=date(2026, 3, 1)))
    assert "PATIENT_DECEASED" in verdict(book, on("D1", "99445", day=date(2026, 3, 21)))


# What held.


def test_held_tcm_twice_on_two_claims_and_setup_twice_in_one_episode(book: Book) -> None:
    """P-TCM-1, P-RPM-2: the second TCM claim and the second setup are refused."""
    book.add(enrolled("P1", P.RPM))
    seen = tcm_episode(book)
    book.add(on("T1", "99496", day=seen))
    assert verdict(book, on("T2", "99495", day=seen)) == ["TCM_ALREADY_BILLED"]
    book.add(setup("BP1", DP.RPM, DC.PHYSIOLOGIC, date(2026, 2, 1)), readings("BP1", date(2026, 2, 1), 20))
    book.add(on("S1", "99453", day=date(2026, 2, 1)))
    assert "SETUP_ALREADY_BILLED" in verdict(book, on("S2", "99453", day=date(2026, 2, 3)))


def test_held_lane_and_duplicates_across_npis_and_date_forms(book: Book) -> None:
    """L-01, G-07, G-08, L-09: a claim dated by service_on and one by service_month of the same
    month are duplicates; the lane holds across practitioners; G0181 is refused beside CCM."""
    book.add(enrolled("P1"), consent(P.PCM, "P1"), consent(P.APCM, "P1"))
    book.add(visit("V2", "P1", provider_npi=OTHER_NPI), plan("CPP", "P1", programs=[P.PCM]), minutes(40))
    book.add(on("C1", "99490", day=date(2026, 3, 31)))
    assert verdict(book, claim("C2")) == ["DUPLICATE_CLAIM"]
    assert "LANE_CONFLICT" in verdict(book, claim("C3", codes=("G0557",), billing_provider_npi=OTHER_NPI))
    assert "PROVIDER_CONFLICT" in verdict(book, claim("C4", codes=("99439",), billing_provider_npi=OTHER_NPI))
    assert verdict(book, claim("C5", codes=("G0181",))) == ["CODE_CONFLICT"]
    book.add(claim("C6", codes=("99439",)))
    assert "DUPLICATE_CLAIM" in verdict(book, claim("C7", codes=("99439",)))


def test_held_rule_years_for_new_codes(book: Book) -> None:
    """Effective dates: APCM in 2024, 99470 and G0568 in 2025 are CODE_NOT_YET_EFFECTIVE."""
    book.add(enrolled("P1", P.APCM))
    assert "CODE_NOT_YET_EFFECTIVE" in verdict(book, claim("Y1", codes=("G0557",), service_month="2024-12"))
    assert "CODE_NOT_YET_EFFECTIVE" in verdict(book, claim("Y2", codes=("99470",), service_month="2025-12"))
    assert "CODE_NOT_YET_EFFECTIVE" in verdict(
        book, claim("Y3", lines=lines(("G0557", 1), ("G0568", 1)), service_month="2025-12")
    )


def test_g09_minutes_before_the_consent_do_not_count(book: Book) -> None:
    """G-09: consent before the first billed service: minutes logged before the consent's date
    are not counted (CONSENT_MISSING names them), minutes after it are."""
    book.add([x for x in enrolled("P1") if not isinstance(x, f.ConsentRecorded)], minutes(20))
    book.add(consent(P.CCM, "P1", recorded_on=date(2026, 3, 30)))
    reasons = verdict(book, claim("C1"))
    assert "UNDER_THRESHOLD" in reasons and "CONSENT_MISSING" in reasons
    book.add(minutes(20, day=31, staff="RN-5"))
    assert verdict(book, claim("C1")) == []


def test_pccm2_a_visit_after_the_first_month_does_not_initiate(book: Book) -> None:
    """P-CCM-2: the initiating visit comes before the program's first month ends; CCM minutes
    in January and a first visit on 10 February leave March without an initiating visit."""
    book.add([x for x in enrolled("P1") if not isinstance(x, f.InitiatingVisitRecorded)])
    book.add(minutes(20, month="2026-01", day=20), minutes(20))
    book.add(visit("V-LATE", "P1", visit_on=date(2026, 2, 10)))
    assert verdict(book, claim("C1")) == ["INITIATING_VISIT_MISSING"]


def test_every_claimed_entry_carries_its_status(book: Book) -> None:
    """interface.md section 4: each `claimed` entry has a status, `accepted` included."""
    book.add(enrolled("P1"), minutes(20), claim("C1"))
    (entry,) = msgspec.to_builtins(book.row().claimed)
    assert entry["status"] == "accepted"
