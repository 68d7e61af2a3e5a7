"""Facts for tests, with sensible defaults: override only what a test is about."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from domain import facts as f

EST = timezone(timedelta(hours=-5))
NPI = "1234567893"
OTHER_NPI = "1245319599"
GROUP_NPI = "1326000019"  # the practice's organisation NPI (2010AA)


def patient(pid: str = "P1", **kw: Any) -> f.PatientRegistered:
    """A patient with a Medicare id of their own (one beneficiary, one record: G-07)."""
    mbi = "1EG4-TE5-MK72" if pid == "P1" else f"1EG4-TE5-{pid}"
    return f.PatientRegistered(**({"patient_id": pid, "birth_date": date(1948, 5, 17), "medicare_id": mbi} | kw))


def practice(**kw: Any) -> f.PracticeRegistered:
    """A complete, fictional practice: every field the 837P needs, both practitioners named."""
    base: dict[str, Any] = dict(
        practice_id="PR-1", name="Test Family Medicine", billing_npi=GROUP_NPI, tax_id="12-3456789",
        address="100 Test Street", city="Springfield", state="IL", zip="627010001", submitter_id="SUBM01",
        receiver_id="RECV01", payer_id="MACJ6", contact_name="Billing Office", contact_phone="2175550100",
        practitioners=[f.Practitioner(npi=NPI, last_name="Osler", first_name="Willa"),
                       f.Practitioner(npi=OTHER_NPI, last_name="Jenner", first_name="Ed")],
    )  # fmt: skip
    return f.PracticeRegistered(**(base | kw))


def demographics(pid: str = "P1", **kw: Any) -> f.PatientDemographicsRecorded:
    base: dict[str, Any] = dict(
        patient_id=pid, last_name="Testperson", first_name=f"Pat{pid}", sex=f.Sex.FEMALE, address="1 Elm St",
        city="Peoria", state="IL", zip="61602", effective_on=date(2020, 1, 1),
    )  # fmt: skip
    return f.PatientDemographicsRecorded(**(base | kw))


def condition(code: str = "E11.9", pid: str = "P1", **kw: Any) -> f.ConditionDiagnosed:
    base = dict(
        patient_id=pid,
        condition_id=code,
        diagnosed_on=date(2024, 1, 10),
        expected_duration_months=24,
        significant_risk=True,
        diagnosed_by=NPI,
    )
    return f.ConditionDiagnosed(**(base | kw))


def consent(program: f.Program = f.Program.CCM, pid: str = "P1", **kw: Any) -> f.ConsentRecorded:
    base = dict(
        patient_id=pid,
        program=program,
        method=f.ConsentMethod.VERBAL,
        obtained_by="RN-1",
        cost_sharing_explained=True,
        one_practitioner_explained=True,
        recorded_on=date(2026, 1, 5),
    )
    return f.ConsentRecorded(**(base | kw))


def visit(vid: str = "V1", pid: str = "P1", **kw: Any) -> f.InitiatingVisitRecorded:
    base = dict(patient_id=pid, visit_id=vid, visit_type=f.VisitType.EM, visit_on=date(2026, 1, 5), provider_npi=NPI)
    return f.InitiatingVisitRecorded(**(base | kw))


def plan(plan_id: str = "CP1", pid: str = "P1", **kw: Any) -> f.CarePlanEstablished:
    base = dict(
        patient_id=pid,
        plan_id=plan_id,
        established_on=date(2026, 1, 5),
        by="DR-1",
        shared_with_patient=True,
        programs=[f.Program.CCM],
    )
    return f.CarePlanEstablished(**(base | kw))


def time_entry(entry_id: str = "E1", pid: str = "P1", *, at: datetime | None = None, **kw: Any) -> f.TimeLogged:
    base = dict(
        entry_id=entry_id,
        patient_id=pid,
        program=f.Program.CCM,
        staff_id="RN-1",
        staff_role=f.StaffRole.CLINICAL_STAFF,
        activity="care coordination call",
        started_at=at or datetime(2026, 3, 2, 10, 0, tzinfo=EST),
        minutes=20,
    )
    return f.TimeLogged(**(base | kw))


def claim(claim_id: str = "C1", pid: str = "P1", codes: tuple[str, ...] = ("99490",), **kw: Any) -> f.ClaimSubmitted:
    base = dict(
        claim_id=claim_id,
        patient_id=pid,
        billing_provider_npi=NPI,
        place_of_service="11",
        lines=[f.ClaimLine(code=c, units=1) for c in codes],
        service_month="2026-03",
    )
    return f.ClaimSubmitted(**(base | kw))


def one_of_each(pid: str = "P1") -> list[f.Fact]:
    """Every fact type of interface.md section 1, in an order the ledger accepts."""
    return [
        patient(pid, qmb=True),
        f.QmbStatusChanged(patient_id=pid, qmb=False, effective_on=date(2026, 2, 1)),
        condition("E11.9", pid),
        condition("I50.9", pid, description="Heart failure"),
        f.ConditionResolved(patient_id=pid, condition_id="I50.9", resolved_on=date(2026, 3, 20)),
        consent(f.Program.CCM, pid),
        consent(f.Program.RPM, pid),
        f.ConsentRevoked(patient_id=pid, program=f.Program.RPM, revoked_on=date(2026, 3, 25)),
        visit("V1", pid, extended_assessment=True),
        plan("CP1", pid),
        f.CarePlanRevised(patient_id=pid, plan_id="CP1", revised_on=date(2026, 3, 3), by="DR-1", substantial=True),
        f.MedicalDecisionMaking(
            patient_id=pid, month="2026-03", level=f.MdmLevel.MODERATE, by="DR-1", decided_on=date(2026, 3, 3)
        ),
        f.FacilityStayStarted(patient_id=pid, stay_id="S1", setting=f.Setting.INPATIENT, started_on=date(2026, 3, 8)),
        f.FacilityStayEnded(patient_id=pid, stay_id="S1", ended_on=date(2026, 3, 11)),
        f.Discharged(
            patient_id=pid,
            discharge_id="D1",
            discharged_on=date(2026, 3, 11),
            from_setting="inpatient",
            to_setting="home",
        ),
        f.TransitionContactMade(
            patient_id=pid,
            discharge_id="D1",
            contacted_on=date(2026, 3, 12),
            method=f.ContactMethod.PHONE,
            by="RN-1",
        ),
        f.FaceToFaceVisitRecorded(
            patient_id=pid,
            visit_id="FV1",
            visit_on=date(2026, 3, 16),
            provider_npi=NPI,
            in_person=True,
            minutes=30,
            discharge_id="D1",
            program=f.Program.TCM,
        ),
        f.MedicalDecisionMaking(
            patient_id=pid, discharge_id="D1", level=f.MdmLevel.HIGH, by="DR-1", decided_on=date(2026, 3, 16)
        ),
        time_entry("E1", pid),
        time_entry("E2", pid, at=datetime(2026, 3, 3, 9, 0, tzinfo=EST), minutes=15, interactive=True),
        f.TimeEntryVoided(entry_id="E2", patient_id=pid, reason="logged on the wrong patient", by="RN-1"),
        f.DeviceSetup(
            patient_id=pid,
            device_id="BP-1",
            program=f.DeviceProgram.RPM,
            category=f.DeviceCategory.PHYSIOLOGIC,
            setup_on=date(2026, 3, 1),
        ),
        f.DataTransmitted(patient_id=pid, device_id="BP-1", transmitted_on=date(2026, 3, 2), reading_kind="bp"),
        f.DataTransmitted(patient_id=pid, device_id="BP-1", transmitted_on=date(2026, 3, 3), manual=True),
        f.DataTransmitted(patient_id=pid, device_id="BP-1", transmitted_on=date(2026, 3, 4)),
        f.RatingScaleAdministered(
            patient_id=pid, scale="PHQ-9", score=Decimal("12"), administered_on=date(2026, 3, 4), by="RN-1"
        ),
        claim("C1", pid),
        f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("52.80")),
        f.ClaimVoided(claim_id="C1", reason="billed under the wrong NPI", by="BILLER-1"),  # a request: C1 was paid
        f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.REVERSED, paid_amount=Decimal("0")),
        claim("C2", pid, codes=("99453",), service_month=None, service_on=date(2026, 3, 1)),
        f.ClaimVoided(claim_id="C2", reason="setup billed by the device vendor", by="BILLER-1"),
        claim("C3", pid),
        f.TimeEntryVoided(entry_id="E1", patient_id=pid, reason="duplicate of a visit note", by="RN-1"),
        time_entry("E3", pid, at=datetime(2026, 3, 24, 14, 0, tzinfo=EST), minutes=20),  # C3 supported again
        f.FacilityStayStarted(patient_id=pid, stay_id="S2", setting=f.Setting.HOSPICE, started_on=date(2026, 4, 1)),
        f.FacilityStayCancelled(patient_id=pid, stay_id="S2", reason="keyed on the wrong patient"),
        f.Discharged(
            patient_id=pid,
            discharge_id="D2",
            discharged_on=date(2026, 4, 2),
            from_setting="inpatient",
            to_setting="home",
        ),
        f.DischargeCancelled(patient_id=pid, discharge_id="D2", reason="the admission was cancelled"),
        f.PatientDied(patient_id=pid, died_on=date(2026, 4, 10)),
    ]


def enrolled(pid: str = "P1", program: f.Program = f.Program.CCM, npi: str = NPI, **consent_kw: Any) -> list[f.Fact]:
    """A patient ready for `program` in March 2026: registered, two qualifying conditions
    (one behavioral, one chronic pain), consent, initiating visit and care plan in January."""
    return [
        patient(pid),
        condition("E11.9", pid),
        condition("I50.9", pid, description="Heart failure"),
        condition("F33.1", pid, behavioral=True, description="Depression"),
        condition("G89.4", pid, chronic_pain=True, description="Chronic pain syndrome"),
        consent(program, pid, **consent_kw),
        visit(f"V-{pid}-{npi}", pid, provider_npi=npi),
        plan(f"CP-{pid}-{program}", pid, programs=[program]),
    ]


def minutes(
    total: int,
    pid: str = "P1",
    *,
    program: f.Program = f.Program.CCM,
    role: f.StaffRole = f.StaffRole.CLINICAL_STAFF,
    month: str = "2026-03",
    staff: str = "RN-1",
    day: int = 2,
    chunk: int = 15,
    **kw: Any,
) -> list[f.TimeLogged]:
    """`total` minutes for a patient in `month`, in chunks one hour apart (never overlapping)."""
    entries = []
    start = datetime.fromisoformat(f"{month}-{day:02d}T08:00:00-05:00")
    n = 0
    while total > 0:
        size = min(chunk, total)
        base = dict(
            entry_id=f"T-{pid}-{program}-{month}-{staff}-{day}-{n}",
            patient_id=pid,
            program=program,
            staff_id=staff,
            staff_role=role,
            activity="care management",
            started_at=start + timedelta(hours=n),
            minutes=size,
        )
        entries.append(f.TimeLogged(**(base | kw)))
        total -= size
        n += 1
    return entries


class Book:
    """A ledger with shorthand for rule tests: record facts, expect refusals, read the worklist."""

    def __init__(self, ledger: Any) -> None:
        self.ledger = ledger

    def add(self, *items: f.Fact | list[f.Fact] | list[f.TimeLogged]) -> None:
        for item in items:
            for fact in item if isinstance(item, list) else [item]:
                self.ledger.record(fact)

    def refused(self, fact: f.Fact) -> list[str]:
        from domain.reasons import Refused

        try:
            self.ledger.record(fact)
        except Refused as e:
            return [c.value for c in e.codes]
        raise AssertionError(f"{type(fact).__name__} was accepted")

    def row(self, pid: str = "P1", month: str = "2026-03") -> Any:
        from domain.catalog import DEFAULT_FEES
        from domain.rules.assess import assess

        view = self.ledger.month_view(pid, month)
        assert view is not None
        return assess(view, DEFAULT_FEES)

    def billable(self, pid: str = "P1", month: str = "2026-03") -> dict[str, int]:
        return {b.code: b.units for b in self.row(pid, month).billable}

    def blocked(self, pid: str = "P1", month: str = "2026-03") -> dict[str, str]:
        return {b.code: b.reason for b in self.row(pid, month).blocked}
