"""Transitional care management (P-TCM-1): a qualifying discharge, contact within 2
business days, a face-to-face visit within 7 or 14 days, and medical decision making of the
code's level; not when the patient died within the 30 days (G-18)."""

from __future__ import annotations

from datetime import date, timedelta

from domain import records
from domain.catalog import CodeSpec
from domain.claim_records import TcmWindow
from domain.reasons import Because, Reason
from domain.rules.allowance import Allowance, allowed
from domain.rules.business_days import add_business_days
from domain.rules.view import MonthView
from domain.state import DischargeEpisode

# P-TCM-1: discharges from these settings to a community setting.
TCM_FROM = frozenset({
    "inpatient", "observation", "snf", "snf_part_a", "skilled_nursing", "irf", "inpatient_rehab",
    "ltch", "long_term_care_hospital", "partial_hospitalization", "partial_hospital",
})  # fmt: skip
TCM_TO = frozenset({"home", "community", "domiciliary", "rest_home", "assisted_living"})
TCM_DAYS = 30  # G-01: the discharge day and the next 29


def tcm(spec: CodeSpec, view: MonthView, npi: str | None, service_on: date | None) -> Allowance:
    """P-TCM-1: the best discharge whose TCM visit falls on the date of service (or in the month)."""
    best = Allowance(reasons=[Because(Reason.TCM_VISIT_LATE, f"no discharge with a TCM visit in {view.month}")])
    for discharge in view.patient.discharges.values():
        visit = _tcm_visit(discharge)
        on = visit.visit_on if visit else None
        if on is None or not (service_on == on or (service_on is None and view.first <= on <= view.last)):
            continue
        judged = tcm_allowance(spec, discharge, view.patient.died_on)
        if judged.units or not best.units:
            best = judged
    return best


def _tcm_visit(discharge: DischargeEpisode) -> records.FaceToFaceVisitRecorded | None:
    """The discharge-day visit is not the TCM visit: the first face-to-face visit after it."""
    after = [v for v in discharge.visits if v.visit_on > discharge.discharged.discharged_on]
    return min(after, key=lambda v: v.visit_on) if after else None


def tcm_allowance(spec: CodeSpec, discharge: DischargeEpisode, died_on: date | None = None) -> Allowance:
    d = discharge.discharged
    scope = TcmWindow(d.discharged_on)
    reasons = []
    if died_on is not None and died_on <= d.discharged_on + timedelta(days=TCM_DAYS - 1):
        # P-TCM-1, G-18: not if the patient died within the period; bill the visit as an E/M.
        reasons.append(Because(
            Reason.PATIENT_DECEASED, f"the patient died on {died_on}, within 30 days of discharge {d.discharge_id}"
        ))  # fmt: skip
    if _norm(d.from_setting) not in TCM_FROM or _norm(d.to_setting) not in TCM_TO:
        reasons.append(Because(
            Reason.DISCHARGE_INELIGIBLE,
            f"discharge {d.discharge_id} from {d.from_setting} to {d.to_setting} is not a TCM transition",
        ))  # fmt: skip
    deadline = add_business_days(d.discharged_on, 2)
    if not any(d.discharged_on <= c.contacted_on <= deadline for c in discharge.contacts):
        reasons.append(Because(Reason.TCM_CONTACT_LATE, f"no contact by {deadline} (2 business days)"))
    visit = _tcm_visit(discharge)
    days = (visit.visit_on - d.discharged_on).days if visit else None
    assert spec.visit_within is not None and spec.mdm is not None, spec.code
    limit, level = spec.visit_within, spec.mdm
    if days is None or days > limit:
        seen = f"visit on day {days}" if days is not None else "no visit"
        reasons.append(Because(Reason.TCM_VISIT_LATE, f"{spec.code} needs a visit within {limit} days; {seen}"))
    decided = max((m.level.rank for m in discharge.decisions), default=-1)
    if decided < level.rank:
        reasons.append(Because(Reason.MDM_INSUFFICIENT, f"{spec.code} needs {level} medical decision making"))
    if reasons:
        return Allowance(reasons=reasons, scope=scope)
    return allowed(1, scope=scope, service_on=visit.visit_on if visit else None)


def _norm(setting: str) -> str:
    return setting.strip().lower().replace(" ", "_").replace("-", "_")
