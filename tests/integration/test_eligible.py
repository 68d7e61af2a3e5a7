"""`carelane eligible` (interface.md section 3): patients who qualify for a program they are
not enrolled in, why by code, what is missing to start, and the month's revenue at the
fee schedule in force (rules.md "Fees"). Rules: P-PCM-1, P-APCM-1, P-CCM-1, P-BHI-1,
P-TCM-1, G-09 (enrolled = consent in force), G-18, L-01/L-06/L-07 (one offer of a group
counted)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from click.testing import CliRunner
from litestar import Litestar
from litestar.datastructures import State
from litestar.testing import TestClient

import adapters.commands.eligible  # noqa: F401  # registers the commands on `main`
from adapters.commands.base import main
from adapters.http import roles_guard
from adapters.http_eligible import ROUTES
from adapters.http_service import Service
from adapters.http_tenants import Tenancy
from adapters.keys import Keys
from adapters.viewdb import open_views
from domain import facts as f
from domain.ledger import Ledger
from projections.eligible import Offer, eligible
from tests.conftest import Clock, memory
from tests.factories import Book, condition, consent, enrolled, patient, visit

MARCH = "2026-03"


def offers_of(ledger: Ledger, *pids: str) -> dict[tuple[str, str], Offer]:
    return {(o.patient_id, o.program): o for o in eligible(ledger, list(pids), MARCH)}


def planted(book: Book) -> None:
    """P1 one high-risk condition (PCM); P2 a QMB with two chronic conditions (G0558);
    P3 enrolled in CCM; P4 a QMB until mid-March; P5 discharged home on 20 March."""
    book.add(patient("P1"), condition("E11.9", "P1"))
    book.add(patient("P2", qmb=True), condition("E11.9", "P2"), condition("I10", "P2"))
    book.add(enrolled("P3", f.Program.CCM))
    book.add(patient("P4", qmb=True), condition("E11.9", "P4"), condition("I10", "P4"),
             f.QmbStatusChanged(patient_id="P4", qmb=False, effective_on=date(2026, 3, 15)))  # fmt: skip
    book.add(patient("P5"), f.Discharged(patient_id="P5", discharge_id="D1", discharged_on=date(2026, 3, 20),
                                         from_setting="inpatient", to_setting="home"))  # fmt: skip


@pytest.fixture
def book() -> Book:
    b = Book(memory(Clock()))
    planted(b)
    return b


def test_pcm_patient_found_with_revenue_and_what_is_missing(book: Book) -> None:
    """P-PCM-1: one high-risk condition is a PCM offer at 99426's fee, consent and plan missing."""
    got = offers_of(book.ledger, "P1")
    pcm = got[("P1", "PCM")]
    assert (pcm.codes, pcm.why, pcm.monthly, pcm.best) == (["99426"], ["E11.9"], "67.00", True)
    assert pcm.missing == ["consent", "care plan"]
    assert ("P1", "CCM") not in got and ("P1", "APCM") not in got  # one condition: not CCM nor APCM 2+


def test_qmb_with_two_conditions_is_offered_g0558_as_best(book: Book) -> None:
    """P-APCM-1: a QMB all month with 2+ chronic conditions, G0558 at $117, over CCM at $66."""
    got = offers_of(book.ledger, "P2")
    apcm, ccm = got[("P2", "APCM")], got[("P2", "CCM")]
    assert (apcm.codes, apcm.monthly, apcm.best) == (["G0558"], "117.00", True)
    assert apcm.why == ["E11.9", "I10", "QMB all month"]
    assert (ccm.codes, ccm.monthly, ccm.best) == (["99490"], "66.00", False)
    assert "initiating visit (E/M, AWV or IPPE)" in apcm.missing


def test_qmb_for_part_of_the_month_gets_g0557(book: Book) -> None:
    """P-APCM-1: QMB must hold every day of the month; otherwise G0557 ($53), and CCM is best."""
    got = offers_of(book.ledger, "P4")
    assert (got[("P4", "APCM")].codes, got[("P4", "APCM")].monthly) == (["G0557"], "53.00")
    assert got[("P4", "CCM")].best and not got[("P4", "APCM")].best


def test_enrolled_in_ccm_is_not_offered_the_lane(book: Book) -> None:
    """G-09, L-01: consent to CCM on file: no CCM, PCM or APCM offer; other groups still come."""
    got = offers_of(book.ledger, "P3")
    assert not {p for (_, p) in got} & {"CCM", "PCM", "APCM"}
    assert got[("P3", "COCM")].why == ["F33.1"] and got[("P3", "COCM")].best  # behavioral, CoCM pays most
    assert got[("P3", "BHI")].missing == ["consent", "rating scale (PHQ-9, GAD-7)"]


def test_revoked_consent_is_offered_again(book: Book) -> None:
    """G-09: a consent revoked in January no longer enrols the patient in March."""
    book.add(f.ConsentRevoked(patient_id="P3", program=f.Program.CCM, revoked_on=date(2026, 1, 20)))
    got = offers_of(book.ledger, "P3")
    assert got[("P3", "CCM")].missing[0] == "new consent (the last was revoked)"


def test_discharge_within_30_days_is_a_tcm_offer(book: Book) -> None:
    """P-TCM-1: a discharge home on 20 March: TCM 99495 at $220, contact and visit dated."""
    tcm = offers_of(book.ledger, "P5")[("P5", "TCM")]
    assert (tcm.codes, tcm.monthly) == (["99495"], "220.00")
    assert tcm.missing[:2] == ["interactive contact by 2026-03-24 (2 business days)",
                               "face-to-face visit by 2026-04-03 (14 days)"]  # fmt: skip
    assert not [o for o in eligible(book.ledger, ["P5"], "2026-05") if o.program == "TCM"]  # 42+ days on


def test_device_data_and_informing_conditions_offer_rpm(book: Book) -> None:
    """P-RPM-1: a condition device data would inform (E11.9) offers RPM, 99454 + 99457."""
    rpm = offers_of(book.ledger, "P1")[("P1", "RPM")]
    assert (rpm.codes, rpm.monthly) == (["99454", "99457"], "103.00")
    assert "RPM device setup (physiologic)" in rpm.missing
    book.add(consent(f.Program.RPM, "P1"))
    assert ("P1", "RPM") not in offers_of(book.ledger, "P1")


def test_deceased_patient_is_offered_nothing(book: Book) -> None:
    """G-18: a patient who died by the month's end has nothing to start."""
    book.add(f.PatientDied(patient_id="P2", died_on=date(2026, 3, 3)))
    assert eligible(book.ledger, ["P2"], MARCH) == []


def test_non_chronic_attested_condition_is_warned_on_lane_offers(book: Book) -> None:
    """domain.rules.chronic: J02.9 attested at significant risk is counted by the rules but flagged."""
    book.add(patient("P6"), condition("E11.9", "P6"), condition("J02.9", "P6"))
    got = offers_of(book.ledger, "P6")
    assert got[("P6", "CCM")].warning is not None and "J02.9" in got[("P6", "CCM")].warning
    assert got[("P6", "RPM")].warning is None


# The command and the HTTP route, on real stores and their views


@pytest.fixture
def filled(store_url: str, open_at: Callable[[str], Ledger]) -> str:
    """The planted record on SQLite and on PostgreSQL (the candidate query runs on both)."""
    book = Book(open_at(store_url))
    planted(book)
    book.add(visit("V-P2", "P2"))
    return store_url


def test_cli_lists_planted_patients_and_not_the_enrolled_lane(filled: str) -> None:
    """`carelane eligible --format json`: every planted patient, as the projection has them."""
    result = CliRunner().invoke(main, ["--db", filled, "eligible", "--month", MARCH, "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    found = {(r["patient_id"], r["program"], r["monthly"]) for r in rows}
    assert {("P1", "PCM", "67.00"), ("P2", "APCM", "117.00"), ("P5", "TCM", "220.00")} <= found
    assert not [r for r in rows if r["patient_id"] == "P3" and r["program"] in ("CCM", "PCM", "APCM")]
    p2 = next(r for r in rows if (r["patient_id"], r["program"]) == ("P2", "APCM"))
    assert "initiating visit (E/M, AWV or IPPE)" not in p2["missing"]  # V-P2 is on file


def test_cli_table_and_csv_are_readable(filled: str) -> None:
    """The table fits 80 columns and names codes; CSV has one row per offer."""
    table = CliRunner().invoke(main, ["--db", filled, "eligible", "--month", MARCH])
    assert table.exit_code == 0 and "P2  APCM G0558  $117.00/month" in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80
    csv = CliRunner().invoke(main, ["--db", filled, "eligible", "--month", MARCH, "--format", "csv"])
    json_rows = CliRunner().invoke(main, ["--db", filled, "eligible", "--month", MARCH, "--format", "json"])
    assert len(csv.output.strip().splitlines()) == 1 + len(json.loads(json_rows.output))
    bad = CliRunner().invoke(main, ["--db", filled, "eligible", "--month", "2026-13"])
    assert bad.exit_code == 2 and "Traceback" not in bad.output


def test_http_eligible_for_billers_only(filled: str) -> None:
    """GET /eligible?month= answers a biller with the offers and refuses other roles."""
    service = Service(filled)
    keys = Keys(open_views(service.ledger, filled))
    biller, recorder = keys.add("b", "biller")[1], keys.add("r", "recorder")[1]
    state = State({"tenancy": Tenancy(None, service=service)})
    app = Litestar(route_handlers=ROUTES, guards=[roles_guard], state=state)
    with TestClient(app) as client:
        ok = client.get("/eligible", params={"month": MARCH}, headers={"X-API-Key": biller})
        assert ok.status_code == 200
        assert ("P1", "PCM") in {(r["patient_id"], r["program"]) for r in ok.json()}
        assert client.get("/eligible", params={"month": MARCH}, headers={"X-API-Key": recorder}).status_code == 403
        assert client.get("/eligible", params={"month": "March"}, headers={"X-API-Key": biller}).status_code == 400
    service.stop()
    service.ledger.close()
