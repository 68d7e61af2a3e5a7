"""CCM and the general rules it exercises (rules.md P-CCM-*, G-*), on a real SQLite store.
Each test names its rule ids and shows the rule holding and its refusal's reason code."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from domain import facts as f
from domain.ledger import Ledger
from domain.policy import Policy
from tests.conftest import Clock, memory
from tests.factories import OTHER_NPI, Book, claim, condition, consent, enrolled, minutes, plan, visit

PHYS = f.StaffRole.PHYSICIAN


@pytest.fixture
def book(memory_ledger: Ledger) -> Book:
    b = Book(memory_ledger)
    b.add(enrolled("P1"))
    return b


def test_pccm4_worked_example_45_staff_minutes(book: Book) -> None:
    """P-CCM-4, G-05: 45 minutes of clinical staff time gives 99490 + 99439 x1 ($116)."""
    book.add(minutes(45))
    row = book.row()
    assert book.billable() == {"99490": 1, "99439": 1} and row.estimated_total == "116.00"
    assert {(b.code, b.reason, b.detail) for b in row.blocked} == {
        ("99439", "UNDER_THRESHOLD", "unit 2 needs 60 minutes; 45 logged")
    }
    assert row.lane == "CCM" and row.minutes["CCM"] == {"clinical_staff": 45, "physician": 0, "qhp": 0}


def test_g05_at_least_n_means_the_full_n(book: Book) -> None:
    """G-05: 19 minutes is not 20: UNDER_THRESHOLD with the near miss; the claim is refused."""
    book.add(minutes(19))
    assert book.billable() == {}
    assert book.row().blocked[0].detail == "19 of 20 minutes"
    assert book.refused(claim("C1")) == ["UNDER_THRESHOLD"]
    book.add(minutes(1, day=3))
    book.add(claim("C1"))


def test_pccm4_add_on_caps_at_two_units(book: Book) -> None:
    """P-CCM-4, G-06: 99439 at 40 and 60 minutes, at most 2; a third unit is ADDON_CAP_EXCEEDED."""
    book.add(minutes(85))
    assert book.billable() == {"99490": 1, "99439": 2}
    assert book.refused(claim("C1", lines=[f.ClaimLine("99490"), f.ClaimLine("99439", 3)])) == ["ADDON_CAP_EXCEEDED"]
    book.add(claim("C2", lines=[f.ClaimLine("99490"), f.ClaimLine("99439", 2)]))


def test_g06_add_on_needs_its_base(book: Book) -> None:
    """G-06: 99439 without 99490 in the same month is ADDON_WITHOUT_BASE."""
    book.add(minutes(45))
    assert book.refused(claim("C1", codes=("99439",))) == ["ADDON_WITHOUT_BASE"]
    book.add(claim("C2", codes=("99490",)), claim("C3", codes=("99439",), service_month="2026-03"))


def test_g05_more_units_than_minutes_support(book: Book) -> None:
    """G-05: 99439 x2 needs 60 minutes; with 45 the claim is refused UNDER_THRESHOLD."""
    book.add(minutes(45))
    assert book.refused(claim("C1", lines=[f.ClaimLine("99490"), f.ClaimLine("99439", 2)])) == ["UNDER_THRESHOLD"]


def test_pccm5_worked_example_95_physician_minutes(book: Book) -> None:
    """P-CCM-5, L-02: 95 physician minutes gives 99491 + 99437 x2 ($215); the 99490 tier is
    named as TIER_CONFLICT because it pays less."""
    book.add(minutes(95, role=PHYS, staff="DR-1"))
    row = book.row()
    assert book.billable() == {"99491": 1, "99437": 2} and row.estimated_total == "215.00"
    assert book.blocked()["99490"] == "TIER_CONFLICT"


def test_pccm5_staff_minutes_never_count_for_99491(book: Book) -> None:
    """P-CCM-5: 99491 needs the practitioner's own minutes: staff minutes are WRONG_PERFORMER."""
    book.add(minutes(40))
    assert book.refused(claim("C1", codes=("99491",))) == ["WRONG_PERFORMER"]


def test_pccm5_99437_cap_is_a_policy_switch(clock: Clock) -> None:
    """P-CCM-5: 99437 is capped at 2 by default; a practice may set another cap."""

    book = Book(memory(clock, policy=Policy(cap_overrides={"99437": 3})))
    book.add(enrolled("P1"), minutes(125, role=PHYS, staff="DR-1"))
    assert book.billable() == {"99491": 1, "99437": 3}


def test_pccm6_worked_example_complex_ccm(book: Book) -> None:
    """P-CCM-6: 95 staff minutes, moderate MDM and a substantially revised plan give
    99487 + 99489 x1 ($222)."""
    book.add(
        minutes(95),
        f.MedicalDecisionMaking(
            patient_id="P1", month="2026-03", level=f.MdmLevel.MODERATE, by="DR", decided_on=date(2026, 3, 10)
        ),
        f.CarePlanRevised(
            patient_id="P1", plan_id="CP-P1-CCM", revised_on=date(2026, 3, 10), by="DR", substantial=True
        ),
    )
    row = book.row()
    assert book.billable() == {"99487": 1, "99489": 1} and row.estimated_total == "222.00"
    book.add(claim("C1", lines=[f.ClaimLine("99487"), f.ClaimLine("99489")]))


def test_pccm6_without_mdm_falls_back_to_99490(book: Book) -> None:
    """P-CCM-6: without moderate MDM the same minutes give 99490/99439; 99487 is MDM_INSUFFICIENT."""
    book.add(minutes(95))
    assert book.billable() == {"99490": 1, "99439": 2}
    assert book.refused(claim("C1", codes=("99487",))) == ["MDM_INSUFFICIENT", "CARE_PLAN_MISSING"]


def test_l02_ccm_tiers_exclude_each_other(book: Book) -> None:
    """L-02: once 99490 is claimed, 99491 for the same month is TIER_CONFLICT."""
    book.add(minutes(25), minutes(35, role=PHYS, staff="DR-1", day=9))
    book.add(claim("C1", codes=("99490",)))
    assert book.refused(claim("C2", codes=("99491",))) == ["TIER_CONFLICT"]


def test_pccm1_two_qualifying_conditions(memory_ledger: Ledger) -> None:
    """P-CCM-1: two chronic conditions, each 12+ months and significant risk, active in the month."""
    book = Book(memory_ledger)
    setup = [x for x in enrolled("P1") if not isinstance(x, f.ConditionDiagnosed)]
    book.add(
        setup,
        condition("E11.9"),
        condition("I10", significant_risk=False),
        condition("J44.9", expected_duration_months=6),
        minutes(25),
    )
    assert book.refused(claim("C1")) == ["CONDITIONS_INSUFFICIENT"]
    book.add(f.ConditionResolved(patient_id="P1", condition_id="J44.9", resolved_on=date(2026, 2, 1)))
    book.add(condition("N18.3", diagnosed_on=date(2026, 3, 20)))
    book.add(claim("C2"))


def test_pccm1_a_condition_resolved_before_the_month_does_not_count(memory_ledger: Ledger) -> None:
    """P-CCM-1: a condition resolved before the month began is not active in it."""
    book = Book(memory_ledger)
    book.add(enrolled("P1"), minutes(25))
    for code in ("I50.9", "F33.1", "G89.4"):
        book.add(f.ConditionResolved(patient_id="P1", condition_id=code, resolved_on=date(2026, 2, 27)))
    assert book.refused(claim("C1")) == ["CONDITIONS_INSUFFICIENT"]


def test_pccm2_initiating_visit_by_the_billing_practitioner_within_12_months(memory_ledger: Ledger) -> None:
    """P-CCM-2: no visit by the billing NPI is MISSING; one older than 12 months before the
    first CCM month is STALE."""
    book = Book(memory_ledger)
    facts_ = [x for x in enrolled("P1") if not isinstance(x, f.InitiatingVisitRecorded)]
    book.add(facts_, minutes(25), visit("V-OLD", visit_on=date(2024, 12, 20)))
    assert book.refused(claim("C1")) == ["INITIATING_VISIT_STALE"]
    assert book.refused(claim("C2", billing_provider_npi=OTHER_NPI)) == ["INITIATING_VISIT_MISSING"]
    book.add(visit("V-NEW", visit_on=date(2025, 3, 1)))
    book.add(claim("C3"))


def test_pccm3_care_plan_by_the_months_last_day(memory_ledger: Ledger) -> None:
    """P-CCM-3: a care plan established after the month is CARE_PLAN_MISSING; one established
    on or before the month's last day counts (establishing it is part of the service)."""
    book = Book(memory_ledger)
    facts_ = [x for x in enrolled("P1") if not isinstance(x, f.CarePlanEstablished)]
    book.add(facts_, minutes(25), plan("CP-LATE", established_on=date(2026, 4, 1)))
    assert book.refused(claim("C1")) == ["CARE_PLAN_MISSING"]
    assert book.blocked()["99490"] == "CARE_PLAN_MISSING"
    book.add(plan("CP-LAST-DAY", established_on=date(2026, 3, 31)))
    book.add(claim("C1"))


def test_pccm3_plan_before_the_month_is_a_policy_switch(clock: Clock) -> None:
    """P-CCM-3: with care_plan_before_month a plan established within the month does not count."""

    book = Book(memory(clock, policy=Policy(care_plan_before_month=True)))
    facts_ = [x for x in enrolled("P1") if not isinstance(x, f.CarePlanEstablished)]
    book.add(facts_, minutes(25), plan("CP-MID", established_on=date(2026, 3, 5)))
    assert book.refused(claim("C1")) == ["CARE_PLAN_MISSING"]
    book.add(plan("CP-EARLY", established_on=date(2026, 2, 27)))
    book.add(claim("C1"))


def test_pccm7_g0506_once_with_an_extended_initiating_visit(memory_ledger: Ledger) -> None:
    """P-CCM-7: G0506 needs an initiating visit that date with extended assessment, once per
    patient and practitioner (DUPLICATE_CLAIM); its minutes count toward no month."""
    book = Book(memory_ledger)
    book.add(enrolled("P1"), visit("V-EXT", visit_on=date(2026, 3, 4), extended_assessment=True))
    g0506 = claim("C1", codes=("G0506",), service_month=None, service_on=date(2026, 3, 4))
    assert book.refused(claim("C0", codes=("G0506",), service_month=None, service_on=date(2026, 3, 5))) == [
        "INITIATING_VISIT_MISSING"
    ]
    book.add(g0506)
    again = claim("C2", codes=("G0506",), service_month=None, service_on=date(2026, 3, 4))
    assert book.refused(again) == ["DUPLICATE_CLAIM"]
    book.add(minutes(15), minutes(10, day=4, activity="G0506 comprehensive assessment"))
    assert book.refused(claim("C3")) == ["TIME_ALREADY_COUNTED", "UNDER_THRESHOLD"]


def test_g04_face_to_face_minutes_never_count_toward_ccm(book: Book) -> None:
    """G-04: face-to-face time is FACE_TO_FACE_TIME and does not reach the CCM threshold."""
    book.add(minutes(10), minutes(15, day=5, face_to_face=True))
    assert book.refused(claim("C1")) == ["FACE_TO_FACE_TIME", "UNDER_THRESHOLD"]
    assert book.row().minutes["CCM"]["clinical_staff"] == 10


def test_g02_minutes_never_roll_over(book: Book) -> None:
    """G-02: 15 minutes in February and 15 in March are not 20 in either month."""
    book.add(minutes(15, month="2026-02"), minutes(15))
    assert book.refused(claim("C1")) == ["UNDER_THRESHOLD"]
    assert book.refused(claim("C2", service_month="2026-02")) == ["UNDER_THRESHOLD"]


def test_g07_one_billing_practitioner_per_period(memory_ledger: Ledger) -> None:
    """G-07: once one NPI bills CCM for the month, another NPI's CCM line is PROVIDER_CONFLICT."""
    book = Book(memory_ledger)
    book.add(enrolled("P1"), visit("V-2", provider_npi=OTHER_NPI), minutes(45))
    book.add(claim("C1", codes=("99490",)))
    assert "PROVIDER_CONFLICT" in book.refused(claim("C2", codes=("99439",), billing_provider_npi=OTHER_NPI))


def test_g09_consent_missing_revoked_and_incomplete(memory_ledger: Ledger, clock: Clock) -> None:
    """G-09: no consent is CONSENT_MISSING; one revoked in an earlier month is CONSENT_REVOKED
    (a revocation takes effect at the end of its month); one without the explanations is
    CONSENT_INCOMPLETE."""
    book = Book(memory_ledger)
    book.add([x for x in enrolled("P1") if not isinstance(x, f.ConsentRecorded)], minutes(25))
    assert book.refused(claim("C1")) == ["CONSENT_MISSING"]
    book.add(consent(f.Program.CCM, "P1", cost_sharing_explained=False))
    assert book.refused(claim("C1")) == ["CONSENT_INCOMPLETE"]
    book.add(consent(f.Program.CCM, "P1", method=f.ConsentMethod.WRITTEN, recorded_on=date(2026, 1, 20)))
    book.add(f.ConsentRevoked(patient_id="P1", program=f.Program.CCM, revoked_on=date(2026, 3, 20)))
    book.add(claim("C1"))  # revoked in March: March is still covered
    book.add(minutes(25, month="2026-04", day=1))
    clock.now = datetime(2026, 5, 4, 12, tzinfo=UTC)
    assert book.refused(claim("C2", service_month="2026-04")) == ["CONSENT_REVOKED"]


def test_g10_minutes_during_an_inpatient_stay_do_not_count(book: Book) -> None:
    """G-10: CCM minutes during an inpatient stay are FACILITY_EXCLUSION; minutes outside the
    stay in the same month count."""
    book.add(
        f.FacilityStayStarted(patient_id="P1", stay_id="S1", setting=f.Setting.INPATIENT, started_on=date(2026, 3, 8)),
        f.FacilityStayEnded(patient_id="P1", stay_id="S1", ended_on=date(2026, 3, 12)),
        minutes(10, day=3),
        minutes(15, day=10),
    )
    assert book.refused(claim("C1")) == ["FACILITY_EXCLUSION", "UNDER_THRESHOLD"]
    book.add(minutes(10, day=20))
    book.add(claim("C1"))


def test_g10_hospice_custodial_and_bhi(memory_ledger: Ledger) -> None:
    """G-10: hospice minutes do not count toward CCM by default; custodial nursing facility
    residents are eligible; BHI minutes in a facility do count."""
    book = Book(memory_ledger)
    book.add(enrolled("P1"), enrolled("P2"), enrolled("P3", f.Program.BHI))
    book.add(
        f.FacilityStayStarted(patient_id="P1", stay_id="H", setting=f.Setting.HOSPICE, started_on=date(2026, 2, 1)),
        f.FacilityStayStarted(
            patient_id="P2", stay_id="N", setting=f.Setting.CUSTODIAL_NF, started_on=date(2026, 2, 1)
        ),
        f.FacilityStayStarted(patient_id="P3", stay_id="I", setting=f.Setting.INPATIENT, started_on=date(2026, 3, 1)),
        minutes(25, "P1"),
        minutes(25, "P2", staff="RN-2"),
        minutes(25, "P3", program=f.Program.BHI, staff="RN-3"),
        f.RatingScaleAdministered(patient_id="P3", scale="PHQ-9", score=12, administered_on=date(2026, 3, 2), by="RN"),
    )
    assert book.refused(claim("C1", "P1")) == ["FACILITY_EXCLUSION", "UNDER_THRESHOLD"]
    book.add(claim("C2", "P2"), claim("C3", "P3", codes=("99484",)))


def test_g10_hospice_rule_is_a_policy_switch(clock: Clock) -> None:
    """G-10: with hospice_excludes_ccm_pcm off, hospice minutes count."""

    book = Book(memory(clock, policy=Policy(hospice_excludes_ccm_pcm=False)))
    book.add(enrolled("P1"), minutes(25))
    book.add(
        f.FacilityStayStarted(patient_id="P1", stay_id="H", setting=f.Setting.HOSPICE, started_on=date(2026, 2, 1))
    )
    book.add(claim("C1"))


def test_g08_ccm_and_g01_month_of_the_claim(book: Book, clock: Clock) -> None:
    """G-08, G-01: the same code twice in a month is DUPLICATE_CLAIM; the next month is a new period."""
    book.add(minutes(25), minutes(25, month="2026-04", day=1))
    clock.now = datetime(2026, 5, 4, 12, tzinfo=UTC)
    book.add(claim("C1"))
    assert book.refused(claim("C2")) == ["DUPLICATE_CLAIM"]
    book.add(claim("C3", service_month="2026-04"))


def test_g10_a_cancelled_stay_excludes_no_minutes(book: Book) -> None:
    """A stay keyed in error and cancelled (ADT A11) excludes nothing: its minutes count."""
    book.add(
        f.FacilityStayStarted(patient_id="P1", stay_id="S1", setting=f.Setting.INPATIENT, started_on=date(2026, 3, 8)),
        minutes(10, day=3),
        minutes(15, day=10),
    )
    assert book.refused(claim("C1")) == ["FACILITY_EXCLUSION", "UNDER_THRESHOLD"]
    book.add(f.FacilityStayCancelled(patient_id="P1", stay_id="S1", reason="keyed on the wrong patient"))
    book.add(claim("C1"))


def test_g10_a_stay_ends_once_and_never_before_it_began(book: Book) -> None:
    """An end before the start, or a second end on another day (a corrected A03), is refused
    STAY_DATES_CONFLICT: two end dates would make the excluded minutes a guess."""
    book.add(f.FacilityStayStarted(patient_id="P1", stay_id="S1", setting=f.Setting.INPATIENT,
                                   started_on=date(2026, 3, 8)))  # fmt: skip
    assert book.refused(f.FacilityStayEnded(patient_id="P1", stay_id="S1", ended_on=date(2026, 3, 6))) == [
        "STAY_DATES_CONFLICT"]  # fmt: skip
    book.add(f.FacilityStayEnded(patient_id="P1", stay_id="S1", ended_on=date(2026, 3, 12)))
    book.add(f.FacilityStayEnded(patient_id="P1", stay_id="S1", ended_on=date(2026, 3, 12)))  # sent again
    assert book.refused(f.FacilityStayEnded(patient_id="P1", stay_id="S1", ended_on=date(2026, 3, 14))) == [
        "STAY_DATES_CONFLICT"]  # fmt: skip
