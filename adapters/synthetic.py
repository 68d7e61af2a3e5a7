"""A deterministic synthetic practice: the facts an EHR feed would send for a panel of
patients over some months, with a small share that the ledger must refuse or reject.

Used by `carelane demo` (small) and by the tests; the same seed gives the same lines.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import msgspec

from adapters.synthetic_faults import PRACTICE_NPI as PRACTICE_NPI, troublemakers
from domain import facts as f

P = f.Program
SPECIALIST_NPI = "1245319599"
STAFF = ["RN-ADA", "RN-BO", "MA-CY", "MA-DEE"]
PRACTITIONERS = [("DR-EVE", PRACTICE_NPI), ("NP-FAY", SPECIALIST_NPI)]
CONDITIONS = [
    ("E11.9", "Type 2 diabetes", False),
    ("I10", "Hypertension", False),
    ("I50.9", "Heart failure", False),
    ("J44.9", "COPD", False),
    ("N18.3", "Chronic kidney disease, stage 3", False),
    ("F33.1", "Major depressive disorder, recurrent", True),
    ("F41.1", "Generalized anxiety disorder", True),
]
# A panel's mix of programs (weights are a plausible practice, not a statistic).
PLANS: list[tuple[tuple[f.Program, ...], int]] = [
    ((P.CCM,), 30),
    ((P.CCM, P.RPM), 15),
    ((P.PCM,), 8),
    ((P.APCM,), 10),
    ((P.APCM, P.RTM), 4),
    ((P.CCM, P.BHI), 8),
    ((P.COCM,), 5),
    ((P.CPM, P.RPM), 4),
    ((P.RPM,), 8),
    ((P.CCM, P.TCM), 8),
]


@dataclass
class Practice:
    """Generation state: the staff's booked clock time, so entries never overlap by accident."""

    rng: random.Random
    zone: ZoneInfo
    tag: str = ""  # staff of another generated panel are other people
    booked: dict[tuple[str, date], datetime] = field(default_factory=dict)

    def slot(self, staff: str, day: date, minutes: int) -> datetime:
        start = self.booked.get((staff, day)) or datetime.combine(day, time(8), self.zone)
        start += timedelta(minutes=self.rng.choice((0, 5, 10)))
        self.booked[(staff, day)] = start + timedelta(minutes=minutes)
        return start


def months_ending(last: str, count: int) -> list[str]:
    year, month = map(int, last.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return out[::-1]


def last_full_month(today: date) -> str:
    first = today.replace(day=1) - timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}"


def _days(month: str) -> list[date]:
    start = date.fromisoformat(f"{month}-01")
    nxt = (start + timedelta(days=32)).replace(day=1)
    return [start + timedelta(days=i) for i in range((nxt - start).days)]


def generate(
    patients: int, months: list[str], seed: int = 7, timezone: str = "America/New_York", first: int = 1
) -> Iterator[f.Fact]:
    """The facts of a practice, in the order a feed would send them."""
    rng = random.Random(seed)
    practice = Practice(rng, ZoneInfo(timezone), "" if first == 1 else f"-{first}")
    first_day = date.fromisoformat(f"{months[0]}-01")
    for n in range(first, first + patients):
        programs = rng.choices([p for p, _ in PLANS], weights=[w for _, w in PLANS])[0]
        yield from _enrol(practice, f"P{n:05d}", programs, first_day)
        pid = f"P{n:05d}"
        for month in months:
            yield from _month(practice, pid, programs, month)


def _enrol(pr: Practice, pid: str, programs: tuple[f.Program, ...], first_day: date) -> Iterator[f.Fact]:
    start = first_day - timedelta(days=pr.rng.randint(20, 200))
    yield _registration(pr, pid)
    yield from _conditions(pr, pid, programs, start)
    yield from _initiation(pr, pid, programs, start)


def _registration(pr: Practice, pid: str) -> f.PatientRegistered:
    rng = pr.rng
    return f.PatientRegistered(
        patient_id=pid,
        birth_date=date(rng.randint(1930, 1960), rng.randint(1, 12), rng.randint(1, 28)),
        medicare_id=f"{rng.randint(1, 9)}EG{rng.randint(1, 9)}-TE{rng.randint(1, 9)}-MK{rng.randint(10, 99)}"
        + f"{pr.tag}{pid}",  # one beneficiary, one record (G-07)
        qmb=rng.random() < 0.15,
    )


def _conditions(pr: Practice, pid: str, programs: tuple[f.Program, ...], start: date) -> Iterator[f.Fact]:
    rng = pr.rng
    behavioral = any(p in (P.BHI, P.COCM) for p in programs)
    pool = [c for c in CONDITIONS if c[2] == behavioral] if behavioral else CONDITIONS[:5]
    count = 1 if P.PCM in programs else rng.randint(2, 3)
    for code, text, is_behavioral in rng.sample(pool, min(count, len(pool))):
        yield f.ConditionDiagnosed(
            patient_id=pid, condition_id=code, description=text,
            diagnosed_on=start - timedelta(days=rng.randint(100, 2000)),
            expected_duration_months=rng.choice((12, 24, 60)), significant_risk=True,
            behavioral=is_behavioral, chronic_pain=P.CPM in programs, diagnosed_by=PRACTICE_NPI,
        )  # fmt: skip
    if P.CPM in programs:
        yield f.ConditionDiagnosed(
            patient_id=pid, condition_id="G89.4", description="Chronic pain syndrome",
            diagnosed_on=start - timedelta(days=400), expected_duration_months=24, significant_risk=True,
            chronic_pain=True, diagnosed_by=PRACTICE_NPI,
        )  # fmt: skip


def _initiation(pr: Practice, pid: str, programs: tuple[f.Program, ...], start: date) -> Iterator[f.Fact]:
    """The initiating visit, each program's consent (and device), and the care plan."""
    rng = pr.rng
    yield f.InitiatingVisitRecorded(
        patient_id=pid, visit_id=f"V-{pid}", visit_type=rng.choice(list(f.VisitType)), visit_on=start,
        provider_npi=PRACTICE_NPI, extended_assessment=rng.random() < 0.2,
    )  # fmt: skip
    for program in (p for p in programs if p is not P.TCM):
        yield f.ConsentRecorded(
            patient_id=pid, program=program, method=rng.choice(list(f.ConsentMethod)),
            obtained_by=rng.choice(STAFF), cost_sharing_explained=True, one_practitioner_explained=True,
            recorded_on=start,
        )  # fmt: skip
        if program in (P.RPM, P.RTM):
            category = f.DeviceCategory.PHYSIOLOGIC if program is P.RPM else f.DeviceCategory.RESPIRATORY
            yield f.DeviceSetup(patient_id=pid, device_id=f"D-{pid}-{program.value}",
                                program=f.DeviceProgram(program.value), category=category, setup_on=start)  # fmt: skip
    yield f.CarePlanEstablished(
        patient_id=pid, plan_id=f"CP-{pid}", established_on=start, by="DR-EVE", shared_with_patient=True,
        programs=[p for p in programs if p is not P.TCM],
    )  # fmt: skip


def _month(pr: Practice, pid: str, programs: tuple[f.Program, ...], month: str) -> Iterator[f.Fact]:
    rng = pr.rng
    days = _days(month)
    # A hospital stay is on record before the month's minutes and their claim, as a biller
    # would have it; a stay recorded after a claim would withdraw its support (G-16).
    for program in sorted(programs, key=lambda p: p is not P.TCM):
        if program in (P.RPM, P.RTM):
            reading_days = sorted(rng.sample(days[:28], rng.randint(8, 26)))
            for day in reading_days:
                yield f.DataTransmitted(
                    patient_id=pid,
                    device_id=f"D-{pid}-{program.value}",
                    transmitted_on=day,
                    reading_kind="bp" if program is P.RPM else "spirometry",
                )
        if program is P.TCM:
            yield from _transition(pr, pid, days)
            continue
        yield from _time(pr, pid, program, days)


PANEL = 60  # patients per care team: a team's clock stays within its working days


def _team(pid: str, pr: Practice) -> str:
    """The care team of a patient: every PANEL patients have their own staff."""
    team = (int(pid[1:]) - 1) // PANEL
    return pr.tag + ("" if team == 0 else f"-T{team}")


def _time(pr: Practice, pid: str, program: f.Program, days: list[date]) -> Iterator[f.Fact]:
    rng = pr.rng
    personal = program in (P.CPM,) or (program is P.PCM and rng.random() < 0.5)
    target = rng.choice((8, 12, 15, 18, 22, 25, 35, 45, 62, 75))
    entries, day = _entries(pr, pid, program, days, personal, target)
    yield from entries
    yield from _after_entries(pr, pid, program, days, entries, day)


def _entries(
    pr: Practice, pid: str, program: f.Program, days: list[date], personal: bool, target: int
) -> tuple[list[f.TimeLogged], date]:
    """Entries until the month's target minutes; and the day of the last."""
    rng, logged, out, day = pr.rng, 0, [], days[0]
    while logged < target:
        minutes = min(rng.choice((5, 8, 10, 12, 15, 20)), target - logged)
        day = rng.choice(days[:27])
        staff, role = (
            (PRACTITIONERS[0][0] + _team(pid, pr), f.StaffRole.PHYSICIAN)
            if personal
            else (rng.choice(STAFF) + _team(pid, pr), f.StaffRole.CLINICAL_STAFF)
        )
        out.append(f.TimeLogged(
            entry_id=f"T-{pid}-{program.value}-{day:%m%d}-{logged}", patient_id=pid, program=program,
            staff_id=staff, staff_role=role,
            activity=rng.choice(("care coordination", "medication review", "call with patient")),
            started_at=pr.slot(staff, day, minutes), minutes=minutes, interactive=rng.random() < 0.6,
        ))  # fmt: skip
        logged += minutes
    return out, day


def _after_entries(
    pr: Practice, pid: str, program: f.Program, days: list[date], entries: list[f.TimeLogged], day: date
) -> Iterator[f.Fact]:
    """Now and then a double-keyed entry (G-03 refuses it); the CCM claim the minutes reach;
    now and then a void of the last entry."""
    rng, logged = pr.rng, sum(e.minutes for e in entries)
    last = entries[-1]
    if rng.random() < 0.02:
        yield f.TimeLogged(
            entry_id=f"T-{pid}-{program.value}-{day:%m%d}-x", patient_id=pid, program=program,
            staff_id=last.staff_id, staff_role=last.staff_role, activity="care coordination",
            started_at=pr.booked[(last.staff_id, day)] - timedelta(minutes=3), minutes=5,
        )  # fmt: skip
    if program is P.CCM and logged >= 20:
        lines = [f.ClaimLine("99490")] + ([f.ClaimLine("99439", min(2, (logged - 20) // 20))] if logged >= 40 else [])
        yield f.ClaimSubmitted(
            claim_id=f"C-{pid}-{days[0]:%Y%m}", patient_id=pid, billing_provider_npi=PRACTICE_NPI,
            service_month=f"{days[0]:%Y-%m}", place_of_service="11", lines=lines,
        )  # fmt: skip
    if rng.random() < 0.04 and logged:
        # An entry keyed on the wrong patient, taken back (its minutes stop counting).
        yield f.TimeEntryVoided(entry_id=f"T-{pid}-{program.value}-{day:%m%d}-{logged - last.minutes}",
                                patient_id=pid, reason="keyed on the wrong patient", by=last.staff_id)  # fmt: skip


def _transition(pr: Practice, pid: str, days: list[date]) -> Iterator[f.Fact]:
    """A hospital stay and discharge home, then the TCM contact, visit and MDM."""
    rng = pr.rng
    discharged_on = rng.choice(days[:12])
    did, stay = f"DC-{pid}-{discharged_on:%Y%m}", f"ST-{pid}-{discharged_on:%Y%m}"
    yield f.FacilityStayStarted(patient_id=pid, stay_id=stay, setting=f.Setting.INPATIENT,
                                started_on=discharged_on - timedelta(days=rng.randint(2, 6)))  # fmt: skip
    yield f.FacilityStayEnded(patient_id=pid, stay_id=stay, ended_on=discharged_on)
    yield f.Discharged(patient_id=pid, discharge_id=did, discharged_on=discharged_on, from_setting="inpatient",
                       to_setting="home")  # fmt: skip
    yield f.TransitionContactMade(patient_id=pid, discharge_id=did, contacted_on=discharged_on + timedelta(days=1),
                                  method=f.ContactMethod.PHONE, by=rng.choice(STAFF))  # fmt: skip
    visit_on = discharged_on + timedelta(days=rng.choice((5, 6, 9, 12)))
    yield f.FaceToFaceVisitRecorded(patient_id=pid, visit_id=f"FV-{did}", visit_on=visit_on,
                                    provider_npi=PRACTICE_NPI, in_person=True, minutes=30, discharge_id=did,
                                    program=P.TCM)  # fmt: skip
    yield f.MedicalDecisionMaking(patient_id=pid, discharge_id=did, by="DR-EVE", decided_on=visit_on,
                                  level=rng.choice((f.MdmLevel.MODERATE, f.MdmLevel.HIGH)))  # fmt: skip


def write(path: str, patients: int, months: list[str], seed: int) -> int:
    """The practice as NDJSON; returns the number of lines."""
    lines = practice_lines(patients, months, seed)
    with open(path, "wb") as out:
        for line in lines:
            out.write(line + b"\n")
    return len(lines)


def practice_lines(patients: int, months: list[str], seed: int = 7, first: int = 1) -> list[bytes]:
    encoder = msgspec.json.Encoder()
    lines = [encoder.encode(fact) for fact in generate(patients, months, seed, first=first)]
    return lines + (troublemakers(months, patients) if first == 1 else [])
