"""`carelane pace`: thresholds at the present pace and renewals coming due, on real stores,
through the projection, the command and `GET /pace`."""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import TestClient

import adapters.commands.pace  # noqa: F401  # registers `pace` on the group until cli.py imports it
from adapters.commands.base import main
from domain import facts as f
from domain.ledger import Ledger
from projections.pace import PaceReport, PaceRow, clamp, pace_report
from tests.conftest import Clock, memory
from tests.factories import Book, condition, consent, enrolled, minutes, patient, plan, visit

MARCH = "2026-03"
P = f.Program


def report(ledger: Ledger, pids: list[str], as_of: date, within: int = 60) -> PaceReport:
    return pace_report(ledger, pids, MARCH, as_of, within=within)


def row(rep: PaceReport, pid: str, code: str) -> PaceRow:
    found = [r for r in rep.pace if r.patient_id == pid and r.code == code]
    assert len(found) == 1, [(r.patient_id, r.code) for r in rep.pace]
    return found[0]


@pytest.fixture
def book() -> Book:
    return Book(memory(Clock()))


# Pace (G-01 periods, G-05 thresholds as the worklist holds them back)


def test_done_when_12_of_20_on_the_25th_is_flagged_and_18_of_20_on_the_10th_is_not(book: Book) -> None:
    book.add(enrolled("P1"), minutes(12, "P1", day=24), enrolled("P2"), minutes(18, "P2", day=2))
    late = row(report(book.ledger, ["P1", "P2"], date(2026, 3, 25)), "P1", "99490")
    assert (late.have, late.need, late.unit, late.reason) == (12, 20, "minutes", "UNDER_THRESHOLD")
    assert (late.days_in_period, late.days_elapsed, late.days_left) == (31, 25, 7)
    assert late.projected == 14  # 12 / 25 x 31
    assert late.per_day == "1.15"  # 8 minutes over 7 days, rounded up
    assert late.status == "behind" and late.flagged
    early = row(report(book.ledger, ["P2"], date(2026, 3, 10)), "P2", "99490")
    assert (early.have, early.need, early.projected) == (18, 20, 55)
    assert early.status == "on pace" and not early.flagged


def test_flagged_rows_come_first_and_on_pace_ones_are_kept(book: Book) -> None:
    book.add(enrolled("A1"), minutes(18, "A1", day=2), enrolled("Z9"), minutes(5, "Z9", day=3))
    rep = report(book.ledger, ["A1", "Z9"], date(2026, 3, 10))
    assert [(r.patient_id, r.flagged) for r in rep.pace] == [("Z9", True), ("A1", False)]


def test_an_add_on_unit_is_paced_against_the_worklists_next_threshold(book: Book) -> None:
    book.add(enrolled("P3"), minutes(45, "P3", day=3))
    add_on = row(report(book.ledger, ["P3"], date(2026, 3, 20)), "P3", "99439")
    assert (add_on.have, add_on.need) == (45, 60)  # unit 2 of 99439, from the catalog via the worklist
    assert add_on.status == "on pace"
    assert report(book.ledger, ["P3"], date(2026, 3, 31)).pace[0].status == "behind"  # last day: still short


def _rpm(book: Book, pid: str, days: list[int]) -> None:
    book.add(enrolled(pid, P.RPM))
    book.add(f.DeviceSetup(patient_id=pid, device_id=f"BP-{pid}", program=f.DeviceProgram.RPM,
                           category=f.DeviceCategory.PHYSIOLOGIC, setup_on=date(2026, 2, 20)))  # fmt: skip
    for d in days:
        book.add(f.DataTransmitted(patient_id=pid, device_id=f"BP-{pid}", transmitted_on=date(2026, 3, d)))


def test_device_days_are_paced_over_the_30_day_device_period(book: Book) -> None:
    _rpm(book, "R1", [1, 2, 3, 4, 5])
    days = row(report(book.ledger, ["R1"], date(2026, 3, 10)), "R1", "99454")
    assert (days.unit, days.have, days.need) == ("days", 5, 16)
    assert (days.period_start, days.period_end, days.days_in_period) == ("2026-02-20", "2026-03-21", 30)
    assert (days.days_elapsed, days.days_left) == (19, 12)
    assert days.projected == 7 and days.per_day == "0.92" and days.status == "behind"
    later = row(report(book.ledger, ["R1"], date(2026, 3, 15)), "R1", "99454")
    assert later.status == "out of reach" and later.flagged  # 11 more days needed, 7 left
    over = row(report(book.ledger, ["R1"], date(2026, 3, 25)), "R1", "99454")
    assert over.status == "missed" and over.days_left == 0 and over.per_day is None


def test_other_reasons_holding_the_code_are_listed_beside_the_pace() -> None:
    book = Book(memory(Clock()))
    book.add(patient("N1"), condition("E11.9", "N1"), condition("I50.9", "N1"), visit("V-N1", "N1"), plan("CP", "N1"))
    book.add(minutes(12, "N1", day=2))  # no consent: the minutes do not count, and CCM is held back
    rep = report(book.ledger, ["N1"], date(2026, 3, 10))
    assert all("CONSENT_MISSING" in r.held_by for r in rep.pace)


def test_as_of_is_kept_in_the_month_and_a_past_month_read_later_was_missed(book: Book) -> None:
    assert clamp(MARCH, date(2026, 5, 2)) == date(2026, 3, 31)
    assert clamp(MARCH, date(2026, 1, 2)) == date(2026, 3, 1)
    book.add(enrolled("P1"), minutes(12, "P1", day=24))
    last_day = report(book.ledger, ["P1"], date(2026, 3, 31)).pace[0]
    assert (last_day.status, last_day.days_left, last_day.per_day) == ("behind", 1, "8.00")  # the day is not over
    after = report(book.ledger, ["P1"], date(2026, 4, 2))
    assert after.as_of == "2026-03-31"
    assert (after.pace[0].status, after.pace[0].days_left, after.pace[0].flagged) == ("missed", 0, True)


# Renewals coming due


def _stale(book: Book, pid: str, program: f.Program, visit_on: date) -> None:
    """Consented, no service of the program yet, the latest initiating visit on `visit_on`."""
    book.add(patient(pid), condition("E11.9", pid), condition("I50.9", pid), consent(program, pid),
             visit(f"V-{pid}", pid, visit_on=visit_on), plan(f"CP-{pid}", pid, programs=[program]))  # fmt: skip


def renewal_kinds(rep: PaceReport) -> dict[tuple[str, str], tuple[str, str, int]]:
    return {(r.patient_id, r.kind): (r.due_on, r.status, r.days_until) for r in rep.renewals}


def test_initiating_visits_coming_due_and_overdue(book: Book) -> None:
    _stale(book, "V1", P.CCM, date(2025, 3, 10))  # initiates a first CCM month up to 2026-03
    _stale(book, "V2", P.APCM, date(2023, 2, 14))  # 3 years: a first APCM month up to 2026-02
    _stale(book, "V3", P.CCM, date(2025, 9, 1))  # good for six more months: not due within 60 days
    book.add(enrolled("V4"), minutes(20, "V4", month="2026-01"), minutes(20, "V4"))  # first month behind us
    rep = report(book.ledger, ["V1", "V2", "V3", "V4"], date(2026, 3, 20))
    found = renewal_kinds(rep)
    assert found == {("V1", "initiating_visit"): ("2026-03-31", "due", 11),
                     ("V2", "initiating_visit"): ("2026-02-28", "overdue", -20)}  # fmt: skip
    by = {r.patient_id: r for r in rep.renewals}
    assert by["V1"].rule == "P-CCM-2" and "start CCM" in by["V1"].action
    assert by["V2"].rule == "P-APCM-1" and "new initiating visit" in by["V2"].action


def test_a_first_month_now_with_a_stale_visit_is_overdue(book: Book) -> None:
    _stale(book, "V5", P.CCM, date(2024, 12, 1))
    book.add(minutes(20, "V5"))  # March is CCM's first month; the visit is 15 months old
    assert renewal_kinds(report(book.ledger, ["V5"], date(2026, 3, 20))) == {
        ("V5", "initiating_visit"): ("2025-12-31", "overdue", -79)
    }
    _stale(book, "V6", P.CCM, date(2025, 6, 1))
    book.add(minutes(20, "V6", day=4))  # first month March, visit within 12 months: settled, nothing due
    assert not report(book.ledger, ["V6"], date(2026, 3, 20)).renewals


def test_consents_revoked_or_incomplete(book: Book) -> None:
    book.add(enrolled("C1"), f.ConsentRevoked(patient_id="C1", program=P.CCM, revoked_on=date(2026, 3, 12)))
    book.add(enrolled("C2"), f.ConsentRevoked(patient_id="C2", program=P.CCM, revoked_on=date(2026, 1, 12)))
    book.add(enrolled("C3", cost_sharing_explained=False))
    rep = report(book.ledger, ["C1", "C2", "C3"], date(2026, 3, 20))
    assert renewal_kinds(rep) == {("C1", "consent_revoked"): ("2026-03-31", "due", 11),
                                  ("C3", "consent_incomplete"): ("2026-03-31", "due", 11)}  # fmt: skip
    incomplete = next(r for r in rep.renewals if r.kind == "consent_incomplete")
    assert "cost-sharing" in incomplete.detail and incomplete.rule == "G-09"


def test_qmb_ending_names_the_codes_that_need_it(book: Book) -> None:
    book.add(enrolled("Q1", P.APCM), f.QmbStatusChanged(patient_id="Q1", qmb=True, effective_on=date(2025, 1, 1)))
    book.add(f.QmbStatusChanged(patient_id="Q1", qmb=False, effective_on=date(2026, 4, 1)))
    book.add(patient("Q2", qmb=False), f.QmbStatusChanged(patient_id="Q2", qmb=False, effective_on=date(2026, 4, 1)))
    rep = report(book.ledger, ["Q1", "Q2"], date(2026, 3, 20))
    [qmb] = rep.renewals
    assert (qmb.patient_id, qmb.kind, qmb.due_on, qmb.days_until) == ("Q1", "qmb_ending", "2026-04-01", 12)
    assert "G0558" in qmb.action and "through 2026-03" in qmb.action


def test_renewals_after_the_horizon_wait(book: Book) -> None:
    _stale(book, "V1", P.CCM, date(2025, 3, 10))
    _stale(book, "V2", P.APCM, date(2023, 2, 14))
    rep = report(book.ledger, ["V1", "V2"], date(2026, 3, 20), within=5)
    assert rep.renewals_through == "2026-03-25"
    assert [r.patient_id for r in rep.renewals] == ["V2"]  # overdue items always show


# The command and GET /pace, on SQLite


@pytest.fixture
def stocked(sqlite_url: str, open_at: Callable[[str], Ledger]) -> str:
    book = Book(open_at(sqlite_url))
    book.add(enrolled("P1"), minutes(12, "P1", day=24), enrolled("P2"), minutes(18, "P2", day=2))
    book.add(enrolled("C1"), f.ConsentRevoked(patient_id="C1", program=P.CCM, revoked_on=date(2026, 3, 12)))
    book.add(minutes(30, "C1", day=3))
    return sqlite_url


def pace(url: str, *args: str) -> tuple[int, str]:
    got = CliRunner().invoke(main, ["--db", url, "pace", "--month", MARCH, *args])
    assert got.exception is None or isinstance(got.exception, SystemExit), got.exception
    return got.exit_code, got.output


def test_command_json_table_and_csv(stocked: str) -> None:
    code, out = pace(stocked, "--as-of", "2026-03-25", "--format", "json")
    assert code == 0
    body = json.loads(out)
    assert body["as_of"] == "2026-03-25"
    assert [(r["patient_id"], r["code"], r["flagged"]) for r in body["pace"]] == [
        ("C1", "99439", True), ("P1", "99490", True), ("P2", "99490", False)
    ]  # fmt: skip
    assert [(r["patient_id"], r["kind"]) for r in body["renewals"]] == [("C1", "consent_revoked")]
    code, out = pace(stocked, "--as-of", "2026-03-25")
    assert code == 0 and "BEHIND" in out and "consent revoked" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    code, out = pace(stocked, "--as-of", "2026-03-10", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {(r["section"], r["patient_id"], r["status"]) for r in rows} == {
        ("pace", "C1", "on pace"), ("pace", "P1", "on pace"), ("pace", "P2", "on pace"), ("renewal", "C1", "due")
    }  # fmt: skip


def test_command_writes_the_json_for_its_owner_only(stocked: str, tmp_path: Path) -> None:
    target = tmp_path / "pace.json"
    code, out = pace(stocked, "--as-of", "2026-03-25", "--out", str(target))
    assert code == 0 and "2 of 3 thresholds" in out and str(target) in out
    assert json.loads(target.read_text())["pace"][1]["patient_id"] == "P1"
    assert target.stat().st_mode & 0o777 == 0o600


def test_command_errors_are_sentences(stocked: str, tmp_path: Path) -> None:
    code, out = pace(stocked, "--as-of", "25/03/2026")
    assert code == 2 and "expected YYYY-MM-DD" in out and "Traceback" not in out
    code, out = pace(stocked, "--out", str(tmp_path / "x.json"), "--push", "https://example.org/hook")
    assert code == 2 and "not both" in out
    code, out = pace(stocked, "--out", str(tmp_path / "missing" / "x.json"))
    assert code == 1 and "cannot be written" in out and "Traceback" not in out
    assert not os.path.exists(tmp_path / "x.json")


@pytest.fixture
def client(stocked: str) -> Iterator[tuple[TestClient[Litestar], dict[str, str]]]:
    from adapters.http import roles_guard
    from adapters.http_pace import ROUTES
    from adapters.http_service import Service
    from adapters.http_tenants import Tenancy
    from adapters.keys import Keys

    service = Service(stocked)
    keys = {role: Keys(service.views).add(role, role)[1] for role in ("biller", "recorder")}
    state = State({"tenancy": Tenancy(None, service=service)})
    app = Litestar(route_handlers=ROUTES, guards=[roles_guard], state=state)
    with TestClient(app) as c:
        yield c, keys
    service.ledger.close()


def test_get_pace_for_billers(client: tuple[TestClient[Litestar], dict[str, str]]) -> None:
    c, keys = client
    got = c.get("/pace", params={"month": MARCH, "as_of": "2026-03-25"}, headers={"X-API-Key": keys["biller"]})
    assert got.status_code == 200
    assert [(r["patient_id"], r["status"]) for r in got.json()["pace"]] == [
        ("C1", "behind"),
        ("P1", "behind"),
        ("P2", "on pace"),
    ]
    assert c.get("/pace", params={"month": MARCH}, headers={"X-API-Key": keys["recorder"]}).status_code == 403
    assert c.get("/pace", params={"month": MARCH}).status_code == 401
    assert c.get("/pace", params={"month": "March"}, headers={"X-API-Key": keys["biller"]}).status_code == 400


def test_get_pace_refuses_bad_parameters(client: tuple[TestClient[Litestar], dict[str, str]]) -> None:
    c, keys = client
    key = {"X-API-Key": keys["biller"]}
    assert c.get("/pace", params={"month": MARCH, "as_of": "2026-13-01"}, headers=key).status_code == 400
    assert c.get("/pace", params={"month": MARCH, "within": "999"}, headers=key).status_code == 400
    got = c.get("/pace", params={"month": MARCH, "as_of": "2026-03-10", "within": "0"}, headers=key)
    assert got.status_code == 200 and got.json()["renewals_through"] == "2026-03-10"
    assert got.json()["renewals"] == []  # C1's revocation ends 2026-03-31, after the horizon
