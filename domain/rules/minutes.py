"""Which minutes count (G-02, G-04, G-10). Minutes never roll over: only the view's month
is read. A minute excluded here is shown to the biller with its reason, never dropped."""

from __future__ import annotations

from datetime import date

from domain import facts, records
from domain.reasons import Because, Reason
from domain.rules.view import MonthView

P = facts.Program
S = facts.Setting
# G-10: minutes during these stays do not count toward CCM or PCM.
FACILITY_SETTINGS = frozenset({S.INPATIENT, S.SNF_PART_A, S.INPATIENT_REHAB})
FACILITY_PROGRAMS = frozenset({P.CCM, P.PCM})


def exclusion(view: MonthView, entry: records.TimeLogged) -> Because | None:
    """Why an entry's minutes do not count toward its program, or None when they do."""
    day = view.day_of(entry)
    if view.after_death(day):
        # G-18: no service dated after the patient's death counts.
        return Because(Reason.PATIENT_DECEASED, f"entry {entry.entry_id} on {day} is after the patient's death")
    if not _consented(view, entry.program, day):
        # G-09: consent before the first billed service: minutes before it do not count.
        return Because(Reason.CONSENT_MISSING, f"entry {entry.entry_id} on {day} is before the {entry.program} consent")
    if "g0506" in entry.activity.lower():
        # G-04, P-CCM-7: G0506 work is paid with G0506 and counts toward no month.
        return Because(Reason.TIME_ALREADY_COUNTED, f"entry {entry.entry_id} is G0506 assessment work")
    if entry.program not in FACILITY_PROGRAMS:
        return None
    if entry.face_to_face:
        # G-04: an E/M visit's face-to-face time never counts toward CCM or PCM.
        return Because(Reason.FACE_TO_FACE_TIME, f"entry {entry.entry_id} is face-to-face visit time")
    settings = FACILITY_SETTINGS | ({S.HOSPICE} if view.policy.hospice_excludes_ccm_pcm else frozenset())
    for stay in view.patient.stays.values():
        if stay.started.setting in settings and _within(day, stay.started.started_on, stay.ended_on):
            return Because(
                Reason.FACILITY_EXCLUSION,
                f"entry {entry.entry_id} on {day} falls in {_a(stay.started.setting)} stay ({stay.started.stay_id})",
            )
    return None


def _consented(view: MonthView, program: facts.Program, day: date) -> bool:
    """A consent of the program dated on or before the day (G-09; TCM needs none, RPM/RTM as
    the policy says). With no consent at all, eligibility refuses CONSENT_MISSING once; a
    revocation is judged by month there too."""
    episodes = view.patient.consents.get(program)
    if not episodes or program is P.TCM or (program in (P.RPM, P.RTM) and not view.policy.device_consent_required):
        return True
    return any(e.recorded.recorded_on <= day for e in episodes)


def _within(day: date, start: date, end: date | None) -> bool:
    return start <= day and (end is None or day <= end)


def counted(view: MonthView, program: facts.Program, roles: frozenset[facts.StaffRole]) -> int:
    """Minutes of the program in the month by the given roles, after exclusions."""
    return sum(e.minutes for e in view.entries(program) if e.staff_role in roles and exclusion(view, e) is None)


def excluded(view: MonthView, program: facts.Program) -> list[tuple[records.TimeLogged, Because]]:
    out = []
    for entry in view.entries(program):
        why = exclusion(view, entry)
        if why is not None:
            out.append((entry, why))
    return out


def by_role(view: MonthView, program: facts.Program) -> dict[str, int]:
    """Counted minutes per role, the worklist's `minutes` shape."""
    totals = {role.value: 0 for role in facts.StaffRole}
    for e in view.entries(program):
        if exclusion(view, e) is None:
            totals[e.staff_role.value] += e.minutes
    return totals


def _a(word: str) -> str:
    """'an inpatient', 'a SNF': the article a setting takes."""
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word
