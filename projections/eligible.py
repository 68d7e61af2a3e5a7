"""Who qualifies for a program they are not enrolled in, and the revenue it would bring
(interface.md section 3, `carelane eligible`).

Enrolled means a consent of the program in force for the month (G-09). Each offer names
its reasons by code (conditions, QMB, devices, discharges), what the record lacks to start
(from the same requirement checks the gate uses) and the month's revenue at the starting
codes' fees. Offers of one group exclude each other in a month (L-01 the CCM/PCM/APCM lane,
L-06 BHI or CoCM, L-07 RPM or RTM, one TCM per 30 days): `best` marks the one paying most,
which the forecast counts; a patient enrolled in any program of a group is offered none
of it (a switch inside a lane brings no new month).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import msgspec

from domain import records
from domain.catalog import CATALOG, DEFAULT_FEES, FeeSchedule
from domain.claim_records import TcmWindow
from domain.ledger import Ledger
from domain.month import month_bounds
from domain.reasons import Because, Reason
from domain.rules import eligibility
from domain.rules.business_days import add_business_days
from domain.rules.chronic import chronic_warning, normal
from domain.rules.codes import allowance, qmb_all_month
from domain.rules.tcm import tcm_allowance
from domain.rules.view import MonthView
from domain.state import DischargeEpisode
from domain.vocab import Program
from projections.runner import Cursor

P = Program
CENT = Decimal("0.01")

# Groups of programs billed one at a time (L-01, L-06, L-07; P-TCM-1), in report order.
GROUPS: dict[Program, str] = {
    P.CCM: "lane", P.PCM: "lane", P.APCM: "lane", P.BHI: "behavioral", P.COCM: "behavioral",
    P.RPM: "remote", P.RTM: "remote", P.TCM: "transition",
}  # fmt: skip
ORDER = ("lane", "behavioral", "remote", "transition")

# The codes that start each program in a month (base codes; RPM and RTM bill a device code
# and a management code). APCM's level and RTM's device code depend on the record.
STARTING: dict[Program, tuple[str, ...]] = {
    P.CCM: ("99490",), P.PCM: ("99426",), P.BHI: ("99484",), P.COCM: ("99492",),
    P.RPM: ("99454", "99457"), P.TCM: ("99495",),
}  # fmt: skip
RTM_CODES = {"respiratory": ("98976", "98980"), "musculoskeletal": ("98977", "98980")}

# Conditions device data would inform (ICD-10-CM prefixes, no dots): the program and device
# category commonly prescribed. Hypertension, heart failure, diabetes, COPD and obesity:
# physiologic RPM (cuff, scale, glucometer, oximeter); asthma and sleep apnea: respiratory
# RTM (inhaler and CPAP adherence); hip and knee osteoarthritis: musculoskeletal RTM.
DEVICE_INFORMED: dict[str, tuple[Program, str]] = {
    **{p: (P.RPM, "physiologic") for p in ("I10", "I11", "I12", "I13", "I15", "I16", "I50")},
    **{p: (P.RPM, "physiologic") for p in ("E08", "E09", "E10", "E11", "E13", "J44", "E66")},
    **{p: (P.RTM, "respiratory") for p in ("J45", "G4733")},
    **{p: (P.RTM, "musculoskeletal") for p in ("M16", "M17")},
}

# What the record lacks to start, by the requirement checks' reason codes.
MISSING: dict[Reason, str] = {
    Reason.CONSENT_MISSING: "consent",
    Reason.CONSENT_INCOMPLETE: "consent recording cost-sharing and the one-practitioner rule",
    Reason.CONSENT_REVOKED: "new consent (the last was revoked)",
    Reason.INITIATING_VISIT_MISSING: "initiating visit (E/M, AWV or IPPE)",
    Reason.INITIATING_VISIT_STALE: "new initiating visit (the last is too old)",
    Reason.CARE_PLAN_MISSING: "care plan",
}
ENROLMENT_GONE = frozenset({Reason.CONSENT_MISSING, Reason.CONSENT_REVOKED})
NO_TCM = frozenset({Reason.DISCHARGE_INELIGIBLE, Reason.PATIENT_DECEASED})  # P-TCM-1: nothing to start


class Offer(msgspec.Struct):
    patient_id: str
    month: str
    program: str
    codes: list[str]  # the starting codes, priced
    why: list[str]  # condition codes and facts, never descriptions
    missing: list[str]  # what the record lacks to start
    monthly: str  # the starting codes' fees, one month
    group: str  # offers of one group exclude each other in a month
    best: bool  # the offer of its group that pays most: the one the forecast counts
    fee_schedule: str
    warning: str | None = None  # domain.rules.chronic: counted conditions CCW does not hold chronic


@dataclass
class Draft:
    program: Program
    codes: tuple[str, ...]
    why: list[str]
    missing: list[str] = field(default_factory=list)


def candidates(cur: Cursor, month: str) -> list[str]:
    """Patients with activity in the month (the worklist index) and patients with a
    condition, device or discharge on record by the month's end (the event index)."""
    last = month_bounds(month)[1].isoformat()
    cur.execute(
        "SELECT patient_id FROM view_worklist WHERE month = %s UNION SELECT patient_id FROM view_events "
        "WHERE type IN ('ConditionDiagnosed', 'DeviceSetup', 'Discharged') AND happened <= %s ORDER BY 1",
        (month, last),
    )
    return [str(r[0]) for r in cur.fetchall()]


def eligible(ledger: Ledger, patients: list[str], month: str, fees: FeeSchedule = DEFAULT_FEES) -> list[Offer]:
    return [offer for view in ledger.month_views_of(patients, month) for offer in offers(view, fees)]


def offers(view: MonthView, fees: FeeSchedule = DEFAULT_FEES) -> list[Offer]:
    """The month's offers for one patient, best first within each group."""
    died = view.patient.died_on
    if died is not None and died <= view.last:
        return []  # G-18: nothing to start for a patient who died by the month's end
    drafts = [*_lane(view), *_behavioral(view), *_remote(view), *_transitions(view)]
    open_groups = {g for g in ORDER if not any(enrolled(view, p) for p, pg in GROUPS.items() if pg == g)}
    warning = chronic_warning(view)
    found = [
        _priced(view, d, fees, warning if GROUPS[d.program] == "lane" else None)
        for d in drafts
        if GROUPS[d.program] in open_groups and all(view.rules.spec(c) for c in d.codes)
    ]
    found.sort(key=lambda o: (ORDER.index(o.group), -Decimal(o.monthly)))
    seen: set[str] = set()
    for offer in found:
        offer.best = offer.group not in seen
        seen.add(offer.group)
    return found


def enrolled(view: MonthView, program: Program) -> bool:
    """A consent of the program in force for the month (a revocation ends it at the end of
    its month: G-09). TCM needs none, so no one is enrolled in it."""
    if program is P.TCM or eligibility.consent_in_force(view, program, view.last) is None:
        return False
    return not any(r.code in ENROLMENT_GONE for r in eligibility.consent(view, program, view.last))


def _priced(view: MonthView, draft: Draft, fees: FeeSchedule, warning: str | None) -> Offer:
    missing = [*_requirements(view, draft.program), *draft.missing]
    amount = sum((fees.fee(c) for c in draft.codes), Decimal(0)).quantize(CENT)
    return Offer(
        view.patient.patient_id, view.month, str(draft.program), list(draft.codes), draft.why, missing,
        str(amount), GROUPS[draft.program], False, fees.name, warning,
    )  # fmt: skip


def _requirements(view: MonthView, program: Program) -> list[str]:
    """Program-level requirements the record lacks (consent, initiating visit, care plan),
    judged for any practitioner: whoever starts the program bills it."""
    if program is P.TCM:
        return []
    reasons = eligibility.program_reasons(view, program, None)
    return list(dict.fromkeys(MISSING[r.code] for r in reasons if r.code in MISSING))


def _codes(conditions: Iterable[records.ConditionDiagnosed]) -> list[str]:
    return sorted({c.condition_id for c in conditions})


def _lane(view: MonthView) -> list[Draft]:
    """P-CCM-1: 2+ chronic conditions at significant risk, CCM; P-PCM-1: else one high-risk
    condition, PCM; P-APCM-1: 2+ chronic conditions, APCM (G0558 for a QMB all month)."""
    active = eligibility.active_conditions(view)
    ccm = _codes(c for c in active if eligibility.QUALIFYING[P.CCM][0](c))
    pcm = _codes(c for c in active if eligibility.QUALIFYING[P.PCM][0](c))
    chronic = _codes(c for c in active if c.expected_duration_months >= 12)  # as eligibility.chronic_count
    drafts = []
    if len(ccm) >= 2:
        drafts.append(Draft(P.CCM, STARTING[P.CCM], ccm))
    elif pcm:
        drafts.append(Draft(P.PCM, STARTING[P.PCM], pcm))
    if len(chronic) >= 2:
        qmb = qmb_all_month(view)
        drafts.append(Draft(P.APCM, ("G0558",) if qmb else ("G0557",), chronic + (["QMB all month"] if qmb else [])))
    return drafts


def _behavioral(view: MonthView) -> list[Draft]:
    """P-BHI-1, P-COCM-1: a behavioral diagnosis; BHI also needs a rating scale."""
    found = _codes(c for c in eligibility.active_conditions(view) if c.behavioral)
    if not found:
        return []
    judged = allowance(CATALOG["99484"], view, None).reasons
    scale = ["rating scale (PHQ-9, GAD-7)"] if any(r.code is Reason.RATING_SCALE_MISSING for r in judged) else []
    return [Draft(P.BHI, STARTING[P.BHI], found, scale), Draft(P.COCM, STARTING[P.COCM], found)]


def _remote(view: MonthView) -> list[Draft]:
    """P-RPM-1, P-RTM-1: devices set up, or conditions device data would inform."""
    why: dict[Program, list[str]] = {}
    category: dict[Program, str] = {}
    for device_id, setups in sorted(view.patient.devices.items()):
        program = P(setups[0].program.value)
        why.setdefault(program, []).append(f"device {device_id} ({setups[0].category.value})")
        category.setdefault(program, setups[0].category.value)
    for c in eligibility.active_conditions(view):
        code = normal(c.condition_id)
        hit = next((DEVICE_INFORMED[code[:n]] for n in (5, 3) if code[:n] in DEVICE_INFORMED), None)
        if hit is not None:
            why.setdefault(hit[0], []).append(c.condition_id)
            category.setdefault(hit[0], hit[1])
    drafts = []
    for program, reasons in why.items():
        codes = RTM_CODES.get(category[program], RTM_CODES["respiratory"]) if program is P.RTM else STARTING[P.RPM]
        has_device = any(s[0].program.value == program.value for s in view.patient.devices.values())
        need = [] if has_device else [f"{program} device setup ({category[program]})"]
        drafts.append(Draft(program, codes, sorted(set(reasons)), need))
    return drafts


def _transitions(view: MonthView) -> list[Draft]:
    """P-TCM-1: discharges within 30 days before the month's end, not yet billable or billed."""
    spec = CATALOG["99495"]
    claimed = {line.scope for line in view.patient.scoped_lines() if isinstance(line.scope, TcmWindow)}
    drafts = []
    for episode in view.patient.discharges.values():
        d = episode.discharged
        if not 0 <= (view.last - d.discharged_on).days <= 30 or TcmWindow(d.discharged_on) in claimed:
            continue
        judged = tcm_allowance(spec, episode, view.patient.died_on)
        if judged.units or any(r.code in NO_TCM for r in judged.reasons):
            continue  # billable now (the worklist has it), or not a TCM transition
        why = [f"discharge {d.discharge_id} on {d.discharged_on} ({d.from_setting} to {d.to_setting})"]
        drafts.append(Draft(P.TCM, STARTING[P.TCM], why, _tcm_missing(episode, judged.reasons)))
    return drafts


def _tcm_missing(episode: DischargeEpisode, reasons: Iterable[Because]) -> list[str]:
    on = episode.discharged.discharged_on
    codes = {r.code for r in reasons}
    need = []
    if Reason.TCM_CONTACT_LATE in codes:
        need.append(f"interactive contact by {add_business_days(on, 2)} (2 business days)")
    if Reason.TCM_VISIT_LATE in codes:
        need.append(f"face-to-face visit by {on + timedelta(days=14)} (14 days)")
    if Reason.MDM_INSUFFICIENT in codes:
        need.append("moderate medical decision making")
    return need
