"""PCM, APCM, RPM, RTM, BHI, CoCM, CPM and TCM, and the lanes between programs (rules.md
P-*, L-*), on a real SQLite store. Each test names its rule ids."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain import facts as f
from domain.ledger import Ledger
from domain.policy import Policy
from tests.conftest import Clock, memory
from tests.factories import OTHER_NPI, Book, claim, condition, consent, enrolled, minutes

P = f.Program
PHYS = f.StaffRole.PHYSICIAN


@pytest.fixture
def book(memory_ledger: Ledger) -> Book:
    return Book(memory_ledger)


def on(day: date, *codes: str, cid: str = "C1", pid: str = "P1", **kw: object) -> f.ClaimSubmitted:
    return claim(cid, pid, codes=codes, service_month=None, service_on=day, **kw)  # type: ignore[arg-type]


def device(
    book: Book,
    pid: str = "P1",
    program: P = P.RPM,
    days: int = 16,
    start: date = date(2026, 3, 1),
    category: f.DeviceCategory = f.DeviceCategory.PHYSIOLOGIC,
    device_id: str = "D1",
) -> None:
    book.add(
        f.DeviceSetup(
            patient_id=pid,
            device_id=device_id,
            program=f.DeviceProgram(program.value),
            category=category,
            setup_on=start,
        )
    )
    for i in range(days):
        book.add(f.DataTransmitted(patient_id=pid, device_id=device_id, transmitted_on=start + timedelta(days=i)))


# PCM


def test_ppcm1_practitioner_and_staff_tiers(book: Book) -> None:
    """P-PCM-1, L-03: 99424 at 30 practitioner minutes; 99426 + 99427 x1 at 65 staff minutes;
    the two tiers are not billed together (TIER_CONFLICT)."""
    book.add(enrolled("P1", P.PCM), minutes(65, program=P.PCM), minutes(30, program=P.PCM, role=PHYS, staff="DR"))
    assert book.billable() == {"99426": 1, "99427": 1}
    assert book.blocked()["99424"] == "TIER_CONFLICT"
    book.add(claim("C1", codes=("99424",)))
    assert book.refused(claim("C2", codes=("99426",))) == ["TIER_CONFLICT"]


def test_ppcm1_needs_one_high_risk_condition(book: Book) -> None:
    """P-PCM-1: without a high-risk condition expected to last 3 months: CONDITIONS_INSUFFICIENT."""
    setup = [x for x in enrolled("P1", P.PCM) if not isinstance(x, f.ConditionDiagnosed)]
    book.add(setup, condition("I10", significant_risk=False), minutes(30, program=P.PCM, role=PHYS, staff="DR"))
    assert book.refused(claim("C1", codes=("99424",))) == ["CONDITIONS_INSUFFICIENT"]
    book.add(condition("C50.9", expected_duration_months=3))
    book.add(claim("C1", codes=("99424",)))


def test_l01_ccm_pcm_apcm_are_one_lane(book: Book) -> None:
    """L-01: once CCM is claimed for the month, PCM or APCM for it is LANE_CONFLICT."""
    book.add(
        enrolled("P1"),
        consent(P.PCM, obtained_by="RN"),
        f.CarePlanEstablished(
            patient_id="P1",
            plan_id="CP-PCM",
            established_on=date(2026, 1, 5),
            by="DR",
            shared_with_patient=True,
            programs=[P.PCM],
        ),
    )
    book.add(minutes(25), minutes(30, program=P.PCM, role=PHYS, staff="DR"))
    assert book.row().lane == "PCM" and book.blocked()["99490"] == "LANE_CONFLICT"  # PCM pays more
    book.add(claim("C1"))
    assert book.row().lane == "CCM" and book.blocked()["99424"] == "LANE_CONFLICT"
    assert book.refused(claim("C2", codes=("99424",))) == ["LANE_CONFLICT"]


def test_l01_lane_per_practitioner_is_a_policy_switch(clock: Clock) -> None:
    """L-01: with lane_across_practitioners off, a specialist's PCM may stand beside CCM."""
    book = Book(memory(clock, policy=Policy(lane_across_practitioners=False)))
    book.add(
        enrolled("P1"),
        enrolled("P1", P.PCM, npi=OTHER_NPI)[5:],
        minutes(25),
        minutes(30, program=P.PCM, role=PHYS, staff="DR"),
    )
    book.add(claim("C1"), claim("C2", codes=("99424",), billing_provider_npi=OTHER_NPI))


# APCM


def test_papcm1_levels_by_conditions_and_qmb(book: Book) -> None:
    """P-APCM-1: no minimum time; G0557 for 2+ chronic conditions; G0558 needs QMB all month
    (QMB_REQUIRED); one APCM code per month (TIER_CONFLICT)."""
    book.add(enrolled("P1", P.APCM), minutes(5, program=P.APCM))
    assert book.billable() == {"G0557": 1}
    assert book.blocked() == {"G0558": "QMB_REQUIRED"}
    assert book.refused(claim("C1", codes=("G0558",))) == ["QMB_REQUIRED"]
    book.add(f.QmbStatusChanged(patient_id="P1", qmb=True, effective_on=date(2026, 3, 1)))
    assert book.billable() == {"G0558": 1}
    book.add(claim("C1", codes=("G0558",)))
    assert book.refused(claim("C2", codes=("G0557",))) == ["TIER_CONFLICT"]


def test_papcm1_one_condition_is_g0556_and_visit_within_3_years(book: Book) -> None:
    """P-APCM-1: 0-1 chronic conditions is G0556; the initiating visit may be 3 years old
    (INITIATING_VISIT_STALE beyond that)."""
    facts_ = [x for x in enrolled("P2", P.APCM) if not isinstance(x, f.ConditionDiagnosed | f.InitiatingVisitRecorded)]
    book.add(facts_, condition("E11.9", "P2"), minutes(5, "P2", program=P.APCM))
    book.add(
        f.InitiatingVisitRecorded(
            patient_id="P2",
            visit_id="V-OLD",
            visit_type=f.VisitType.AWV,
            visit_on=date(2022, 12, 1),
            provider_npi="1234567893",
        )
    )
    assert book.refused(claim("C1", "P2", codes=("G0556",))) == ["INITIATING_VISIT_STALE"]
    book.add(
        f.InitiatingVisitRecorded(
            patient_id="P2",
            visit_id="V-2023",
            visit_type=f.VisitType.AWV,
            visit_on=date(2023, 3, 1),
            provider_npi="1234567893",
        )
    )
    assert book.billable("P2") == {"G0556": 1}
    assert book.refused(claim("C2", "P2", codes=("G0557",))) == ["CONDITIONS_INSUFFICIENT"]


def test_l04_apcm_excludes_tcm_and_l05_addons(book: Book) -> None:
    """L-04: APCM and TCM 99495/99496 in one month are LANE_CONFLICT. L-05: APCM add-ons need
    the APCM base by the same practitioner (ADDON_WITHOUT_BASE) and exclude 99484 (CODE_CONFLICT)."""
    book.add(enrolled("P1", P.APCM), minutes(5, program=P.APCM), *tcm_facts(date(2026, 3, 2), visit_day=5))
    assert book.refused(claim("C0", codes=("G0568",))) == ["ADDON_WITHOUT_BASE"]
    book.add(claim("C1", codes=("G0557",)))
    assert book.refused(on(date(2026, 3, 7), "99496", cid="C2")) == ["LANE_CONFLICT"]
    book.add(enrolled("P1", P.APCM, npi=OTHER_NPI)[6:7])
    assert "ADDON_WITHOUT_BASE" in book.refused(claim("C3", codes=("G0568",), billing_provider_npi=OTHER_NPI))
    book.add(claim("C4", codes=("G0568",)))
    book.add(
        enrolled("P1", P.BHI)[5:6],
        minutes(25, program=P.BHI, staff="RN-2"),
        f.RatingScaleAdministered(patient_id="P1", scale="PHQ-9", score=11, administered_on=date(2026, 3, 3), by="RN"),
    )
    assert book.refused(claim("C5", codes=("99484",))) == ["CODE_CONFLICT"]


# RPM / RTM


def test_prpm1_device_days_worked_example(book: Book) -> None:
    """P-RPM-1, G-01: 14 days in the 30-day period from setup gives 99445, 16 gives 99454,
    1 is DEVICE_DAYS_INSUFFICIENT (for 99453 too: from 2026 it needs 2 days in the first
    period); a day counts once across devices and readings."""
    book.add(enrolled("P1", P.RPM), enrolled("P2", P.RPM), enrolled("P3", P.RPM))
    device(book, "P1", days=14)
    device(book, "P2", days=16)
    device(book, "P3", days=1)
    device(book, "P1", days=14, device_id="D2")  # the same 14 days again, from a second device
    assert book.billable("P1") == {"99445": 1, "99453": 1} and book.billable("P2") == {"99454": 1, "99453": 1}
    assert book.blocked("P3") == {"99445": "DEVICE_DAYS_INSUFFICIENT", "99453": "DEVICE_DAYS_INSUFFICIENT"}
    assert book.refused(on(date(2026, 3, 30), "99454", pid="P1")) == ["DEVICE_DAYS_INSUFFICIENT"]
    assert book.refused(on(date(2026, 3, 30), "99445", pid="P3", cid="C3")) == ["DEVICE_DAYS_INSUFFICIENT"]
    book.add(on(date(2026, 3, 30), "99454", pid="P2", cid="C2"))
    # 16 days is past 99445's band, and 99445 never joins 99454 for the same 30 days (L-07).
    assert book.refused(on(date(2026, 3, 30), "99445", pid="P2", cid="C4")) == ["BAND_EXCEEDED", "CODE_CONFLICT"]


def test_g01_device_periods_are_30_days_from_setup(book: Book) -> None:
    """G-01: a device period runs 30 days from setup, across calendar months; the next
    period starts at zero (G-02)."""
    book.add(enrolled("P1", P.RPM))
    device(book, "P1", days=20, start=date(2026, 2, 20))
    assert book.billable(month="2026-03") == {"99454": 1}  # 20 Feb - 21 Mar ends in March
    book.add(on(date(2026, 3, 21), "99454"))
    assert book.refused(on(date(2026, 3, 5), "99454", cid="C2")) == ["DUPLICATE_CLAIM"]
    # The next period (22 Mar - 20 Apr) has no days yet, and had not ended on 15 Apr (G-15).
    assert book.refused(on(date(2026, 3, 25), "99454", cid="C3")) == ["DEVICE_DAYS_INSUFFICIENT", "PERIOD_OPEN"]


def test_prpm2_setup_once_per_episode(book: Book) -> None:
    """P-RPM-2: 99453 once per episode of care: a second is SETUP_ALREADY_BILLED, and for the
    same episode also DUPLICATE_CLAIM (G-08, G-14); a void frees it."""
    book.add(enrolled("P1", P.RPM))
    device(book, "P1", days=3)
    book.add(on(date(2026, 3, 1), "99453"))
    assert book.refused(on(date(2026, 3, 5), "99453", cid="C2")) == ["DUPLICATE_CLAIM", "SETUP_ALREADY_BILLED"]
    book.add(f.ClaimVoided(claim_id="C1", reason="wrong date", by="B"))
    book.add(on(date(2026, 3, 5), "99453", cid="C2"))


def test_prpm3_management_needs_interactive_contact(book: Book) -> None:
    """P-RPM-3: 10-19 minutes gives 99470; 20+ gives 99457 and 99458 per further 20 (cap 2);
    without an interactive communication: INTERACTION_MISSING."""
    book.add(enrolled("P1", P.RPM), enrolled("P2", P.RPM), enrolled("P3", P.RPM))
    book.add(minutes(15, "P1", program=P.RPM, interactive=True))
    book.add(minutes(65, "P2", program=P.RPM, staff="RN-2", interactive=True))
    book.add(minutes(25, "P3", program=P.RPM, staff="RN-3"))
    assert book.billable("P1") == {"99470": 1}
    assert book.billable("P2") == {"99457": 1, "99458": 2}
    assert book.refused(claim("C3", "P3", codes=("99457",))) == ["INTERACTION_MISSING"]
    assert book.refused(claim("C1", "P1", codes=("99457",))) == ["UNDER_THRESHOLD"]


def test_l07_99470_99457_and_99091(book: Book) -> None:
    """L-07: 99470 and 99457 never in one month; 99091 not with 99457 (CPT default; CODE_CONFLICT)."""
    book.add(
        enrolled("P1", P.RPM),
        minutes(25, program=P.RPM, interactive=True),
        minutes(30, program=P.RPM, role=PHYS, staff="DR", day=9),
    )
    book.add(claim("C1", codes=("99457",)))
    assert book.refused(claim("C2", codes=("99091",))) == ["CODE_CONFLICT"]
    assert "CODE_CONFLICT" in book.refused(claim("C3", codes=("99470",)))


def test_l07_99091_switch(clock: Clock) -> None:
    """L-07: with rpm_99091_excludes_99457 off, 99091 may stand beside 99457."""
    book = Book(memory(clock, policy=Policy(rpm_99091_excludes_99457=False)))
    book.add(
        enrolled("P1", P.RPM),
        minutes(25, program=P.RPM, interactive=True),
        minutes(30, program=P.RPM, role=PHYS, staff="DR", day=9),
    )
    book.add(claim("C1", codes=("99457",)), claim("C2", codes=("99091",)))


def test_l07_rpm_and_rtm_exclude_each_other(book: Book) -> None:
    """L-07: RPM and RTM codes in the same period are CODE_CONFLICT."""
    book.add(enrolled("P1", P.RPM), enrolled("P1", P.RTM)[5:6])
    device(book, "P1", days=16)
    device(book, "P1", P.RTM, days=16, category=f.DeviceCategory.RESPIRATORY, device_id="R1")
    assert set(book.billable()) in ({"99454", "99453"}, {"98976", "98975"})
    book.add(on(date(2026, 3, 30), "99454"))
    assert book.refused(on(date(2026, 3, 30), "98976", cid="C2")) == ["CODE_CONFLICT"]


def test_prtm1_rtm_codes(book: Book) -> None:
    """P-RTM-1: respiratory 16 days gives 98976, musculoskeletal 5 days 98985; 25 interactive
    minutes give 98980, 45 add 98981."""
    book.add(enrolled("P1", P.RTM), enrolled("P2", P.RTM))
    device(book, "P1", P.RTM, days=16, category=f.DeviceCategory.RESPIRATORY)
    device(book, "P2", P.RTM, days=5, category=f.DeviceCategory.MUSCULOSKELETAL, device_id="M1")
    book.add(minutes(45, "P1", program=P.RTM, interactive=True))
    assert book.billable("P1") == {"98976": 1, "98980": 1, "98981": 1, "98975": 1}
    assert book.billable("P2") == {"98985": 1, "98975": 1}


def test_g09_device_consent_is_needed_by_default(book: Book, clock: Clock) -> None:
    """G-09: RPM needs consent by default (CONSENT_MISSING); a policy switch lifts it."""
    book.add(enrolled("P1")[:1])
    device(book, "P1", days=16)
    assert book.refused(on(date(2026, 3, 30), "99454")) == ["CONSENT_MISSING"]
    lenient = Book(memory(clock, policy=Policy(device_consent_required=False)))
    lenient.add(enrolled("P1")[:1])
    device(lenient, "P1", days=16)
    lenient.add(on(date(2026, 3, 30), "99454"))


# BHI / CoCM / CPM


def test_pbhi1_behavioral_diagnosis_and_rating_scale(book: Book) -> None:
    """P-BHI-1: 99484 at 20 staff minutes with a behavioral diagnosis and a rating scale in the
    month or the month before; RATING_SCALE_MISSING, CONDITIONS_INSUFFICIENT otherwise."""
    book.add(enrolled("P1", P.BHI), minutes(20, program=P.BHI))
    assert book.refused(claim("C1", codes=("99484",))) == ["RATING_SCALE_MISSING"]
    book.add(
        f.RatingScaleAdministered(patient_id="P1", scale="GAD-7", score=9, administered_on=date(2026, 2, 20), by="RN")
    )
    assert book.billable() == {"99484": 1}
    book.add(f.ConditionResolved(patient_id="P1", condition_id="F33.1", resolved_on=date(2026, 2, 25)))
    assert book.refused(claim("C1", codes=("99484",))) == ["CONDITIONS_INSUFFICIENT"]


def test_pcocm1_first_and_later_months_and_midpoint(book: Book) -> None:
    """P-COCM-1: 99492 from 36 minutes in the first month, 99493 from 31 later; 99494 after 85
    (first) or 75 (later) minutes; 35 minutes is UNDER_THRESHOLD. L-06: 99492 and 99493
    exclude each other, and BHI 99484 excludes CoCM (CODE_CONFLICT)."""
    book.add(enrolled("P1", P.COCM, recorded_on=date(2026, 2, 2)))
    book.add(minutes(35, program=P.COCM, month="2026-02"), minutes(90, program=P.COCM, day=3))
    assert book.refused(claim("C0", codes=("99492",), service_month="2026-02")) == ["UNDER_THRESHOLD"]
    book.add(minutes(1, program=P.COCM, month="2026-02", day=20))
    assert book.billable(month="2026-02") == {"99492": 1}
    assert book.billable() == {"99493": 1, "99494": 1}
    assert book.refused(claim("C1", codes=("99492",))) == ["CODE_CONFLICT"]
    book.add(claim("C2", lines=[f.ClaimLine("99493"), f.ClaimLine("99494")]))
    book.add(
        f.RatingScaleAdministered(patient_id="P1", scale="PHQ-9", score=14, administered_on=date(2026, 3, 2), by="RN"),
        consent(P.BHI, obtained_by="RN"),
        minutes(20, program=P.BHI, staff="RN-2"),
    )
    assert book.refused(claim("C3", codes=("99484",))) == ["CODE_CONFLICT"]


def test_pcpm1_chronic_pain_management(book: Book) -> None:
    """P-CPM-1: G3002 at 30 practitioner minutes, G3003 per further 15; the first month needs
    an in-person visit of 30 minutes (INITIATING_VISIT_MISSING)."""
    book.add(enrolled("P1", P.CPM, recorded_on=date(2026, 3, 1)), minutes(50, program=P.CPM, role=PHYS, staff="DR"))
    assert book.refused(claim("C1", codes=("G3002",))) == ["INITIATING_VISIT_MISSING"]
    book.add(
        f.FaceToFaceVisitRecorded(
            patient_id="P1",
            visit_id="FV-1",
            visit_on=date(2026, 3, 3),
            provider_npi="1234567893",
            in_person=True,
            minutes=30,
            program=P.CPM,
        )
    )
    assert book.billable() == {"G3002": 1, "G3003": 1}
    book.add(claim("C1", lines=[f.ClaimLine("G3002"), f.ClaimLine("G3003")]))


# TCM


def tcm_facts(
    discharged: date,
    visit_day: int,
    level: f.MdmLevel = f.MdmLevel.HIGH,
    contact_day: int = 1,
    pid: str = "P1",
    did: str = "D1",
    to: str = "home",
) -> list[f.Fact]:
    visit_on = discharged + timedelta(days=visit_day)
    return [
        f.Discharged(
            patient_id=pid,
            discharge_id=did,
            discharged_on=discharged,
            from_setting="inpatient",
            to_setting=to,
        ),
        f.TransitionContactMade(
            patient_id=pid,
            discharge_id=did,
            contacted_on=discharged + timedelta(days=contact_day),
            method=f.ContactMethod.PHONE,
            by="RN",
        ),
        f.FaceToFaceVisitRecorded(
            patient_id=pid,
            visit_id=f"FV-{did}",
            visit_on=visit_on,
            provider_npi="1234567893",
            in_person=True,
            discharge_id=did,
            program=P.TCM,
        ),
        f.MedicalDecisionMaking(patient_id=pid, discharge_id=did, level=level, by="DR", decided_on=visit_on),
    ]


def test_ptcm1_worked_example_99496(book: Book) -> None:
    """P-TCM-1: contact within 2 business days, a visit on day 5 and high MDM give 99496."""
    book.add(enrolled("P1")[:1], tcm_facts(date(2026, 3, 2), visit_day=5))
    assert book.billable() == {"99496": 1}
    book.add(on(date(2026, 3, 7), "99496"))


def test_ptcm1_clocks_and_mdm(book: Book) -> None:
    """P-TCM-1: a visit on day 10 with high MDM is 99495 only (99496 TCM_VISIT_LATE); moderate
    MDM is 99495 (99496 MDM_INSUFFICIENT); low MDM is MDM_INSUFFICIENT; day 15 is TCM_VISIT_LATE."""
    for pid in ("P1", "P2", "P3", "P4"):
        book.add(enrolled(pid)[:1])
    book.add(
        tcm_facts(date(2026, 3, 2), 10, pid="P1", did="A"),
        tcm_facts(date(2026, 3, 2), 5, f.MdmLevel.MODERATE, pid="P2", did="B"),
        tcm_facts(date(2026, 3, 2), 5, f.MdmLevel.LOW, pid="P3", did="C"),
        tcm_facts(date(2026, 3, 2), 15, pid="P4", did="E"),
    )
    assert book.billable("P1") == {"99495": 1}
    assert book.refused(on(date(2026, 3, 12), "99496", pid="P1")) == ["TCM_VISIT_LATE"]
    assert book.billable("P2") == {"99495": 1}
    assert book.refused(on(date(2026, 3, 7), "99496", pid="P2")) == ["MDM_INSUFFICIENT"]
    assert book.refused(on(date(2026, 3, 7), "99495", pid="P3")) == ["MDM_INSUFFICIENT"]
    assert book.refused(on(date(2026, 3, 17), "99495", pid="P4")) == ["TCM_VISIT_LATE"]


def test_ptcm1_contact_within_two_business_days_around_a_holiday(book: Book) -> None:
    """P-TCM-1: business days skip weekends and federal holidays: discharged Friday 13 February
    2026, Monday 16th is Washington's Birthday, so a Wednesday contact is in time and a
    Thursday one late."""
    book.add(enrolled("P1")[:1], enrolled("P2")[:1])
    book.add(tcm_facts(date(2026, 2, 13), 5, contact_day=5, pid="P1", did="A"))  # Wed 18 Feb
    book.add(tcm_facts(date(2026, 2, 13), 5, contact_day=6, pid="P2", did="B"))  # Thu 19 Feb
    assert book.billable("P1", "2026-02") == {"99496": 1}
    assert book.refused(on(date(2026, 2, 18), "99496", pid="P2")) == ["TCM_CONTACT_LATE"]


def test_ptcm1_one_tcm_per_30_days_and_eligible_transitions(book: Book) -> None:
    """P-TCM-1, G-01: one TCM per patient per 30 days from discharge (TCM_ALREADY_BILLED); a
    discharge to a nursing facility is not a TCM transition (DISCHARGE_INELIGIBLE)."""
    book.add(enrolled("P1")[:1], tcm_facts(date(2026, 3, 2), 5, did="A"), tcm_facts(date(2026, 3, 20), 5, did="B"))
    book.add(on(date(2026, 3, 7), "99496"))
    assert book.refused(on(date(2026, 3, 25), "99496", cid="C2")) == ["TCM_ALREADY_BILLED"]
    book.add(enrolled("P2")[:1], tcm_facts(date(2026, 3, 2), 5, pid="P2", did="N", to="custodial_nf"))
    assert book.refused(on(date(2026, 3, 7), "99496", pid="P2", cid="C3")) == ["DISCHARGE_INELIGIBLE"]


# Stacking


def test_l08_programs_allowed_together(book: Book) -> None:
    """L-08: CCM with RPM, BHI and TCM in one month, each on its own minutes."""
    book.add(enrolled("P1"), enrolled("P1", P.RPM)[5:6], enrolled("P1", P.BHI)[5:6])
    device(book, "P1", days=16)
    book.add(
        minutes(25),
        minutes(25, program=P.RPM, staff="RN-2", interactive=True),
        minutes(20, program=P.BHI, staff="RN-3"),
        f.RatingScaleAdministered(patient_id="P1", scale="PHQ-9", score=12, administered_on=date(2026, 3, 2), by="RN"),
        tcm_facts(date(2026, 3, 2), 5),
    )
    assert set(book.billable()) >= {"99490", "99454", "99457", "99484", "99496"}
    book.add(claim("C1", codes=("99490", "99457", "99484")), on(date(2026, 3, 7), "99496", cid="C2"))


def test_l09_ccm_not_with_esrd_or_hospice_supervision(book: Book) -> None:
    """L-09: CCM is not billed in a month with G0181, G0182 or 90951-90970 (CODE_CONFLICT)."""
    book.add(enrolled("P1"), minutes(25))
    book.add(claim("C1", codes=("90960",)))
    assert book.refused(claim("C2")) == ["CODE_CONFLICT"]
    assert book.row().billable == []


def test_a_claim_is_refused_whole_with_every_failing_line(book: Book) -> None:
    """A claim with several lines is accepted or refused whole; each failing line is named."""
    book.add(enrolled("P1"), minutes(25))
    reasons = book.refused(claim("C1", codes=("99490", "99491", "99999")))
    assert "CODE_UNKNOWN" in reasons and "UNDER_THRESHOLD" in reasons and "TIER_CONFLICT" not in reasons[:1]
    assert book.row().claimed == []


def test_a_record_past_a_codes_band_is_band_exceeded_not_a_conflict(book: Book) -> None:
    """P-RPM-3, P-APCM-1: 99470 is for 10-19 minutes and G0556 for 0-1 chronic conditions.
    Claimed past their band they are refused BAND_EXCEEDED (the next code applies), a reason
    of its own: CODE_CONFLICT keeps its one meaning, codes that exclude each other."""
    book.add(enrolled("P1", P.RPM))
    device(book, days=16)
    book.add(minutes(25, program=P.RPM, interactive=True))
    assert book.refused(claim("C1", codes=("99470",))) == ["BAND_EXCEEDED"]
    book.add(enrolled("P2", P.APCM), minutes(5, program=P.APCM, pid="P2", staff="RN-2"))
    assert book.refused(claim("C2", pid="P2", codes=("G0556",))) == ["BAND_EXCEEDED"]


def test_ptcm1_a_cancelled_discharge_starts_no_tcm(book: Book) -> None:
    """A discharge cancelled (ADT A13) is no transition: its TCM is no longer billable, and a
    TCM claim for it is refused."""
    book.add(enrolled("P1")[:1], tcm_facts(date(2026, 3, 2), visit_day=5))
    assert book.billable() == {"99496": 1}
    book.add(f.DischargeCancelled(patient_id="P1", discharge_id="D1", reason="admission cancelled (A13)"))
    assert "99496" not in book.billable()
    assert book.refused(on(date(2026, 3, 7), "99496"))
