"""The rule functions on their own, with no ledger and no store: `conflicts` over lines built
by hand, `allowance` over aggregates built in memory, and the Month value object."""

from __future__ import annotations

from datetime import UTC, date, datetime

import msgspec
import pytest
from hypothesis import given, strategies as st

from domain import facts as f
from domain.catalog import CATALOG
from domain.claim_records import DevicePeriod, TcmWindow
from domain.fact_ids import digest
from domain.month import Month, add_months, month_bounds, shift_month
from domain.patient import Patient
from domain.patient_month import PatientMonth
from domain.policy import DEFAULT_POLICY
from domain.rules.codes import allowance
from domain.rules.stacking import conflicts
from domain.rules.view import MonthView
from domain.state import Line
from domain.vocab import Program
from tests.factories import NPI, OTHER_NPI, enrolled, minutes

MARCH = "2026-03"
AT = datetime(2026, 4, 15, 12, tzinfo=UTC)


def line(
    code: str, units: int = 1, *, npi: str = NPI, month: str = MARCH, scope: object = None, cid: str = "C"
) -> Line:
    return Line(code, units, npi, month, scope, cid)  # type: ignore[arg-type]  # scopes are typed structs


def codes(reasons: list[object]) -> list[str]:
    return [r.code.value for r in reasons]  # type: ignore[attr-defined]


# conflicts: G-06, G-07, G-08, L-01..L-09


@pytest.mark.parametrize(
    ("existing", "new", "expected"),
    [
        ([line("99490")], [line("99490")], ["DUPLICATE_CLAIM"]),  # G-08
        ([line("99490")], [line("99491")], ["TIER_CONFLICT"]),  # L-02
        ([line("99490")], [line("99424")], ["LANE_CONFLICT"]),  # L-01
        ([], [line("99439")], ["ADDON_WITHOUT_BASE"]),  # G-06
        ([], [line("99490"), line("99439", 3)], ["ADDON_CAP_EXCEEDED"]),  # cap 2
        ([line("99490")], [line("99439", npi=OTHER_NPI)], ["PROVIDER_CONFLICT"]),  # G-07
        ([line("99490")], [line("99457")], []),  # L-08: CCM and RPM stack
        ([line("99490")], [line("G0181")], ["CODE_CONFLICT"]),  # L-09
        ([line("99484")], [line("99492")], ["CODE_CONFLICT"]),  # L-06
        ([line("G0557")], [line("G0558")], ["TIER_CONFLICT"]),  # P-APCM-1: one APCM code a month
        ([line("G0557")], [line("99495", scope=TcmWindow(date(2026, 3, 4)))], ["LANE_CONFLICT"]),  # L-04
    ],
)
def test_conflicts_of_lines_built_by_hand(existing: list[Line], new: list[Line], expected: list[str]) -> None:
    assert sorted(codes(conflicts(new, existing, DEFAULT_POLICY))) == sorted(expected)


def test_device_periods_conflict_by_the_days_they_cover_not_the_claim_month() -> None:
    """P-RPM-1, L-07: a period from 15 March overlaps one from 1 April; RPM and RTM device
    codes for overlapping periods exclude each other, whichever months the claims name."""
    march = DevicePeriod(Program.RPM, date(2026, 3, 15))
    april = DevicePeriod(Program.RPM, date(2026, 4, 1))
    may = DevicePeriod(Program.RPM, date(2026, 5, 20))
    assert codes(conflicts([line("99454", scope=april, month="2026-04")], [line("99454", scope=march)],
                           DEFAULT_POLICY)) == ["DUPLICATE_CLAIM"]  # fmt: skip
    assert conflicts([line("99454", scope=may, month="2026-05")], [line("99454", scope=march)], DEFAULT_POLICY) == []
    rtm = DevicePeriod(Program.RTM, date(2026, 4, 1))
    assert "CODE_CONFLICT" in codes(conflicts([line("98976", scope=rtm)], [line("99454", scope=march)], DEFAULT_POLICY))


@given(st.lists(st.sampled_from(sorted(c for c, s in CATALOG.items() if s.program is Program.CCM)), max_size=4))
def test_a_duplicate_is_refused_whatever_else_is_claimed(claimed: list[str]) -> None:
    """G-08: every code already claimed for the month is refused again as a duplicate."""
    existing = [line(c, cid=f"C{i}") for i, c in enumerate(claimed)]
    for code in set(claimed) - {"G0506"}:
        assert "DUPLICATE_CLAIM" in codes(conflicts([line(code, cid="NEW")], existing, DEFAULT_POLICY))


# allowance: thresholds, steps, caps and requirements, on aggregates built in memory


def month_view(*record: f.Fact, logged: list[f.TimeLogged] = ()) -> MonthView:  # type: ignore[assignment]
    """A MonthView over a Patient and a PatientMonth built from facts, with no store."""
    registered, *rest = record
    assert isinstance(registered, f.PatientRegistered)
    patient = Patient.register(registered, digest(registered), AT)
    for fact in rest:
        patient.note(fact, digest(fact), AT)
    pm = PatientMonth.open("P1", MARCH, AT)
    for entry in logged:
        pm.log_time(entry, digest(entry), AT)
    return MonthView(patient, MARCH, DEFAULT_POLICY, {MARCH: pm})


@pytest.mark.parametrize(("logged", "units", "reason"), [(15, 0, "UNDER_THRESHOLD"), (25, 1, None), (45, 1, None)])
def test_allowance_of_99490_by_minutes(logged: int, units: int, reason: str | None) -> None:
    a = allowance(CATALOG["99490"], month_view(*enrolled("P1"), logged=minutes(logged)), NPI)
    assert a.units == units and (codes(a.reasons) == [reason] if reason else a.reasons == [])
    if reason:
        assert (a.reasons[0].have, a.reasons[0].need, a.reasons[0].unit) == (logged, 20, "minutes")


@pytest.mark.parametrize(("logged", "units"), [(39, 0), (40, 1), (59, 1), (60, 2), (95, 2)])
def test_allowance_of_the_99439_add_on_steps_20_minutes_and_caps_at_2(logged: int, units: int) -> None:
    a = allowance(CATALOG["99439"], month_view(*enrolled("P1"), logged=minutes(logged)), NPI)
    assert a.units == units and a.supported == units


def test_allowance_judges_every_prerequisite_on_its_own() -> None:
    """G-14: no consent and too few minutes: both reasons, and what the minutes support."""
    record = [x for x in enrolled("P1") if not isinstance(x, f.ConsentRecorded)]
    a = allowance(CATALOG["99490"], month_view(*record, logged=minutes(15)), NPI)
    assert a.units == 0 and set(codes(a.reasons)) == {"CONSENT_MISSING", "UNDER_THRESHOLD"}


def test_complex_ccm_needs_moderate_mdm_in_the_month() -> None:
    """P-CCM-5: 99487 at 65 staff minutes without the month's MDM is MDM_INSUFFICIENT."""
    a = allowance(CATALOG["99487"], month_view(*enrolled("P1"), logged=minutes(65)), NPI)
    assert "MDM_INSUFFICIENT" in codes(a.reasons)


# Month: the one owner of month arithmetic and spelling


def test_month_arithmetic_and_spelling() -> None:
    m = Month("2026-01")
    assert m.shifted(-1) == "2025-12" and m.shifted(13) == "2027-02"
    assert Month("2024-02").last == date(2024, 2, 29) and Month("2026-02").last == date(2026, 2, 28)
    assert m.window() == ("2025-11", "2025-12", "2026-01", "2026-02")
    assert Month("2025-11").through("2026-02") == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert month_bounds("2026-03") == (date(2026, 3, 1), date(2026, 3, 31))
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert type(shift_month("2026-03", 1)) is str and type(m.window()[0]) is str
    assert msgspec.json.encode({"m": shift_month("2026-03", 1)}) == b'{"m":"2026-04"}'  # stored as a plain str


@given(st.integers(1900, 2199), st.integers(1, 12), st.integers(-400, 400))
def test_shifting_a_month_and_back_is_the_same_month(year: int, month: int, delta: int) -> None:
    m = Month(f"{year:04d}-{month:02d}")
    assert m.shifted(delta).shifted(-delta) == m
    assert Month.of(m.first) == m and Month.of(m.last) == m
