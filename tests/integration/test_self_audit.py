"""`carelane self-audit` (issue 18) on a real SQLite store: the checks a federal auditor runs
over gated and historical claims (837P and CSV), each finding with its rules.md id, the
money at stake and the 60-day deadline to report and return it."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

import adapters.commands.self_audit  # noqa: F401  # registers the command on `main`
from adapters import reads
from adapters.commands.base import main
from adapters.historical import HistoryError, from_837, read
from adapters.viewdb import open_views
from adapters.x12 import validate
from domain import facts as f
from domain.ledger import Ledger
from projections.self_audit import HistoricalClaim, SelfAudit, run
from tests.conftest import Clock
from tests.factories import Book, claim as claim_fact, condition, consent, enrolled, minutes, patient, plan, visit

FIXTURES = Path(__file__).parent.parent / "fixtures" / "self_audit"
HISTORY_837 = FIXTURES / "history.837"
OTHER_CSV = FIXTURES / "other_system.csv"
TODAY = date(2026, 4, 15)  # tests.conftest.NOW
DEADLINE = "2026-06-14"  # TODAY + 60 days


def audit(ledger: Ledger, url: str, historical: list[HistoricalClaim], first: str = "2026-02",
          last: str = "2026-03") -> SelfAudit:  # fmt: skip
    db = reads.ready(ledger, open_views(ledger, url))
    return run(ledger, first, last, lambda m: reads.patients(ledger, db, m, refresh=False), historical)


def found(result: SelfAudit) -> list[tuple[str, str, str, str, str, str]]:
    return [(x.rule, x.reason, x.claim_id, x.patient_id, x.month, x.amount) for x in result.findings]


def records_only(book: Book) -> None:
    """P1 and P2 as the ledger knows them after the move: their record, none of their claims."""
    book.add(*enrolled("P1"), *enrolled("P2"), consent(f.Program.PCM, "P2"))


def cli(url: str, *args: str) -> Any:
    return CliRunner().invoke(main, ["--db", url, "self-audit", *args])


def test_an_imported_837p_yields_exactly_its_duplicate_overlap_and_overpaid_addon(
    sqlite_url: str, open_at: Callable[[str], Ledger]
) -> None:
    """Done-when: a pyx12-valid 837P with a duplicate CCM month (99487 twice, G-08), a CCM
    beside a PCM in one month (L-01) and a 99489 on the duplicate 99487 (G-06) yields exactly
    those three findings, priced from the fee schedule, due 60 days from today; its other
    claims (other months, matched to the ledger's patients by Medicare id) are clean."""
    assert validate(HISTORY_837.read_text()) == []
    ledger = open_at(sqlite_url)
    records_only(Book(ledger))
    result = audit(ledger, sqlite_url, read(str(HISTORY_837)))
    assert found(result) == [
        ("G-08", "DUPLICATE_CLAIM", "H-102", "P1", "2026-03", "144.00"),
        ("G-06", "ADDON_WITHOUT_BASE", "H-102", "P1", "2026-03", "78.00"),
        ("L-01", "LANE_CONFLICT", "H-104", "P2", "2026-03", "87.00"),
    ]
    assert [(c.code, c.units, c.basis) for x in result.findings for c in x.codes] == [
        ("99487", 1, "fee schedule"), ("99489", 1, "fee schedule"), ("99424", 1, "fee schedule")]  # fmt: skip
    assert {x.identified_on for x in result.findings} == {TODAY.isoformat()}
    assert {x.report_by for x in result.findings} == {DEADLINE}
    assert [x.related for x in result.findings] == [["H-101 (history.837)"]] * 2 + [["H-103 (history.837)"]]
    assert (result.claims, result.historical, result.amount) == (6, 6, "309.00")
    # Minutes were kept in the other system: said, not guessed.
    assert {x.claim_id for x in result.not_judged} == {f"H-10{n}" for n in range(1, 7)}
    assert {tuple(x.checks) for x in result.not_judged} == {("G-05 minutes",)}


def test_the_same_837p_through_the_command_line_in_every_format(
    sqlite_url: str, open_at: Callable[[str], Ledger], tmp_path: Path
) -> None:
    """The CLI reads the file, prints the same findings as JSON (deadline = identified + 60),
    CSV, a table no wider than 80 columns and an escaped, self-contained HTML page."""
    records_only(Book(open_at(sqlite_url)))
    args = ["--from", "2026-02", "--to", "2026-03", "--historical", str(HISTORY_837)]
    got = cli(sqlite_url, *args, "--format", "json")
    assert got.exit_code == 0, got.output
    result = msgspec.json.decode(got.output, type=SelfAudit)
    assert [(x.rule, x.claim_id, x.amount) for x in result.findings] == [
        ("G-08", "H-102", "144.00"), ("G-06", "H-102", "78.00"), ("L-01", "H-104", "87.00")]  # fmt: skip
    identified = date.fromisoformat(result.identified_on)
    assert {x.report_by for x in result.findings} == {(identified + timedelta(days=60)).isoformat()}
    table = cli(sqlite_url, *args)
    assert table.exit_code == 0 and "$309.00 at stake" in table.output.replace("\n", " ")
    assert max(len(line) for line in table.output.splitlines()) <= 80
    assert all(claim in table.output for claim in ("H-102", "H-104", "DUPLICATE_CLAIM", "LANE_CONFLICT"))
    csv_out = cli(sqlite_url, *args, "--format", "csv").output.splitlines()
    assert csv_out[0].startswith("rule,reason,claim_id,source,patient_id,month,codes,amount") and len(csv_out) == 4
    hostile = tmp_path / "hostile.csv"
    hostile.write_text("claim_id,medicare_id,billing_provider_npi,service_month,codes\n"
                       "<script>alert(1)</script>,9ZZ9ZZ9ZZ99,1234567893,2026-03,99490\n")  # fmt: skip
    page = cli(sqlite_url, *args, "--historical", str(hostile), "--format", "html").output
    assert page.startswith("<!doctype html>") and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script" not in page and not re.search(r"(src|href)=", page)
    assert "H-102" in page and "2026-03" in page


def other_system(book: Book, clock: Clock) -> None:
    """Gated claims (one paid, one paid and then left unsupported on 2026-04-10) beside the
    records the CSV's claims are judged against."""
    clock.now = datetime(2026, 4, 10, 12, 0, tzinfo=clock.now.tzinfo)
    book.add(*enrolled("P1"), *minutes(45, "P1", staff="RN-P1"), claim_fact("C1", "P1"),
             f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("52.80")))  # fmt: skip
    book.add(*enrolled("P3"), *minutes(25, "P3", staff="RN-P3"), claim_fact("C3", "P3"),
             f.ClaimAdjudicated(claim_id="C3", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("60.00")),
             f.TimeEntryVoided(entry_id="T-P3-CCM-2026-03-RN-P3-2-0", patient_id="P3", reason="wrong patient",
                               by="RN-P3"))  # fmt: skip
    # P4: one qualifying condition; P5: no consent and no initiating visit; P6: 15 minutes.
    book.add(patient("P4"), condition("E11.9", "P4"), consent(pid="P4"), visit("V-P4", "P4"), plan("CP-P4", "P4"))
    book.add(patient("P5"), condition("E11.9", "P5"), condition("I50.9", "P5"), plan("CP-P5", "P5"))
    book.add(*enrolled("P6"), *minutes(15, "P6", staff="RN-P6"))
    clock.now = datetime(2026, 4, 15, 12, 0, tzinfo=clock.now.tzinfo)


def test_gated_and_historical_claims_together(sqlite_url: str, open_at: Callable[[str], Ledger], clock: Clock) -> None:
    """Across the ledger and a CSV: a gated claim duplicating an earlier historical one is at
    issue at its paid amount; an unsupported claim (G-16) keeps its own repay-by date;
    P-CCM-1, G-09, P-CCM-2 and G-05 are judged on the record; a Medicare id finds its
    patient; an unknown patient is not judged; a claim the ledger holds is not counted twice."""
    ledger = open_at(sqlite_url)
    other_system(Book(ledger), clock)
    assert ledger.month_view("P3", "2026-03").current.claims["C3"].status == "unsupported"  # type: ignore[union-attr]
    result = audit(ledger, sqlite_url, read(str(OTHER_CSV)))
    assert found(result) == [
        ("P-CCM-1", "CONDITIONS_INSUFFICIENT", "OLD-8", "P4", "2026-02", "66.00"),
        ("G-08", "DUPLICATE_CLAIM", "C1", "P1", "2026-03", "52.80"),
        ("G-16", "SUPPORT_WITHDRAWN", "C3", "P3", "2026-03", "60.00"),
        ("P-CCM-1", "CONDITIONS_INSUFFICIENT", "OLD-4", "P4", "2026-03", "66.00"),
        ("G-09", "CONSENT_MISSING", "OLD-5", "P5", "2026-03", "55.00"),
        ("P-CCM-2", "INITIATING_VISIT_MISSING", "OLD-5", "P5", "2026-03", "55.00"),
        ("G-05", "UNDER_THRESHOLD", "OLD-6", "P6", "2026-03", "116.00"),
    ]
    by_claim = {(x.claim_id, x.rule): x for x in result.findings}
    assert by_claim[("C1", "G-08")].related == ["OLD-1 (other_system.csv)"]
    assert [c.basis for c in by_claim[("C1", "G-08")].codes] == ["paid"]
    assert by_claim[("C3", "G-16")].report_by == "2026-06-09"  # Claim.repay_by: paid and withdrawn on 04-10
    assert by_claim[("OLD-5", "G-09")].codes[0].basis == "paid"
    assert [(c.code, c.units) for c in by_claim[("OLD-6", "G-05")].codes] == [("99490", 1), ("99439", 1)]
    assert {x.report_by for x in result.findings if x.rule != "G-16"} == {DEADLINE}
    assert result.amount == "415.80"  # OLD-5's 99490 counted once under its two findings
    assert result.already_on_ledger == ["C1 (other_system.csv)"]
    unknown = [x for x in result.not_judged if x.claim_id == "OLD-7"]
    assert unknown and unknown[0].checks == ["P-CCM-1 CCM", "G-09 CCM", "P-CCM-2 CCM", "G-05 minutes"]
    assert unknown[0].patient_id == "9ZZ9ZZ9ZZ99"


def test_overlaps_come_from_the_catalog(memory_ledger: Ledger) -> None:
    """L-02 (two CCM tiers), L-09 (CCM beside ESRD monthly services) and L-07 (RPM beside
    RTM) are found from the catalog's tiers and EXCLUSIONS, the later claim at issue; an
    add-on with no base anywhere that month is G-06; a voided 837 claim counts for nothing."""

    def h(claim_id: str, *codes: str, month: str = "2026-03") -> HistoricalClaim:
        return HistoricalClaim(claim_id=claim_id, source="x.csv", billing_provider_npi="1234567893",
                               lines=tuple((c, 1) for c in codes), service_month=month, patient_id="Q1")  # fmt: skip

    claims = [h("A", "99490"), h("B", "99491"), h("C", "90960"), h("D", "99457"), h("E", "98980"),
              h("F", "99439", month="2026-02")]  # fmt: skip
    result = run(memory_ledger, "2026-02", "2026-03", lambda m: [], claims)
    assert [(x.rule, x.reason, x.claim_id, [c.code for c in x.codes]) for x in result.findings] == [
        ("G-06", "ADDON_WITHOUT_BASE", "F", ["99439"]),
        ("L-02", "TIER_CONFLICT", "B", ["99491"]),
        ("L-09", "CODE_CONFLICT", "C", ["90960"]),
        ("L-07", "CODE_CONFLICT", "E", ["98980"]),
    ]
    text = HISTORY_837.read_text()
    voided = text.replace("CLM*H-104*87***11:B:1*Y*A*Y*Y~", "CLM*H-104*87***11:B:8*Y*A*Y*Y~\nREF*F8*PAYER104~")
    count = int(re.search(r"SE\*(\d+)\*", voided).group(1))  # type: ignore[union-attr]
    voided = voided.replace(f"SE*{count}*", f"SE*{count + 1}*")
    assert validate(voided) == []
    assert [c.claim_id for c in from_837(voided, "v.837")] == ["H-101", "H-102", "H-103", "H-105", "H-106"]


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("claim_id,medicare_id,billing_provider_npi,service_month,codes\nX1,1EG4TE5MK72,123,2026-13,99490x0\n",
         ["line 2: billing_provider_npi", "line 2: service_month or service_date", "line 2: codes"]),
        ("claim_id,mbi,codes\nX1,1EG4TE5MK72,99490\n",
         ["unknown column 'mbi'", "missing column billing_provider_npi", "missing column patient_id or medicare_id"]),
        ("ISA*00*broken~", ["fails X12 validation"]),
        (HISTORY_837.read_text().replace("DTP*472*D8*20260331", "DTP*472*D8*20261399", 1),
         ["fails X12 validation", "invalid date (...)"]),
    ],
)  # fmt: skip
def test_an_unreadable_file_is_refused_naming_line_and_field_never_a_value(
    sqlite_url: str, tmp_path: Path, content: str, said: list[str]
) -> None:
    """Nothing is audited from a file with problems; the message names each problem's line
    and field but repeats no value from the file (a claims file holds PHI), and no traceback."""
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(HistoryError):
        read(str(path))
    got = cli(sqlite_url, "--from", "2026-03", "--to", "2026-03", "--historical", str(path))
    assert got.exit_code == 1 and "nothing was audited" in got.output
    for text in said:
        assert text in got.output, text
    assert "1EG4TE5MK72" not in got.output and "20261399" not in got.output and "Traceback" not in got.output
    backwards = cli(sqlite_url, "--from", "2026-03", "--to", "2026-01")
    assert backwards.exit_code == 2 and "before the first" in backwards.output


def test_http_self_audit_for_compliance_as_json_or_a_page(sqlite_url: str, open_at: Callable[[str], Ledger],
                                                           clock: Clock) -> None:  # fmt: skip
    """`GET /self-audit?from=&to=`: compliance reads the ledger's findings as JSON or HTML
    (the read is logged per patient); a biller is refused; a backwards range is a 400."""
    from litestar import Litestar
    from litestar.datastructures import State
    from litestar.testing import TestClient

    from adapters.http import roles_guard
    from adapters.http_self_audit import ROUTES
    from adapters.http_service import Service
    from adapters.http_tenants import Tenancy
    from adapters.keys import Keys

    other_system(Book(open_at(sqlite_url)), clock)
    service = Service(sqlite_url)
    keys = Keys(service.views)
    tokens = {role: keys.add(f"t-{role}", role)[1] for role in ("compliance", "biller")}
    state = State({"tenancy": Tenancy(None, service=service)})
    app = Litestar(route_handlers=ROUTES, guards=[roles_guard], state=state)
    with TestClient(app) as client:

        def get(role: str, query: str, **headers: str) -> Any:
            return client.get(f"/self-audit?{query}", headers={"X-API-Key": tokens[role], **headers})

        answer = get("compliance", "from=2026-03&to=2026-03")
        assert answer.status_code == 200, answer.text
        body = msgspec.json.decode(answer.content, type=SelfAudit)
        assert [(x.rule, x.claim_id) for x in body.findings] == [("G-16", "C3")]  # no historical claims here
        assert body.findings[0].report_by == "2026-06-09"
        page = get("compliance", "from=2026-03&to=2026-03", accept="text/html")
        assert page.headers["content-type"].startswith("text/html") and "SUPPORT_WITHDRAWN" in page.text
        assert get("biller", "from=2026-03&to=2026-03").status_code == 403
        assert get("compliance", "from=2026-03&to=2026-01").status_code == 400
        assert get("compliance", "from=2026-3&to=2026-03").status_code == 400
    assert "P3" in {row.patient_id for row in service.access.of("P3", None)}
