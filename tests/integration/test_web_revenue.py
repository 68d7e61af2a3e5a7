"""The biller's month with the revenue cycle, and the reports page, on the app `carelane serve`
runs (a real SQLite store, Litestar's TestClient): the month's 837P downloaded from the page
(a test file leaves its claims due, a production file sends them once), an export that cannot
be made explained on the page, the month's denials explained, the pace of a near miss in words,
and revenue charts whose numbers are `carelane report`'s."""

from __future__ import annotations

import re
from decimal import Decimal

import httpx
from litestar.testing import TestClient

from adapters.access import AccessLog
from adapters.store import open_ledger
from adapters.viewdb import open_views
from domain import facts as f
from projections.report import report
from tests.factories import claim, demographics, practice
from tests.integration.test_web_session import (
    MONTH,
    TOKEN,
    Workbench,
    bench as bench,  # P1 billable, P2 a near miss, <b>P3</b> 25 minutes; a key per role
    client as client,
    sign_in,
    token,
)


def record(bench: Workbench, *facts: f.Fact) -> None:
    ledger = open_ledger(bench.url)
    for fact in facts:
        ledger.record(fact)


def export(client: TestClient, production: bool = False) -> httpx.Response:  # type: ignore[type-arg]
    csrf = token(client.get(f"/app/month?month={MONTH}"))
    sent = {"csrf_token": csrf, "month": MONTH, "production": "true" if production else "", "back": f"month={MONTH}"}
    return client.post("/app/month/837", data=sent, follow_redirects=False)


def test_the_month_exports_its_837p_test_then_production(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    record(bench, practice(), demographics("P1"), claim("C1", codes=("99490", "99439")))  # read by the export itself
    sign_in(client, bench.keys["biller"])
    page = client.get(f"/app/month?month={MONTH}").text
    assert 'action="/app/month/837"' in page and "Download the 837P for 2026-03" in page
    test = export(client)
    assert test.status_code == 200 and test.headers["content-type"].startswith("application/edi-x12")
    assert test.headers["content-disposition"] == f'attachment; filename="837P-{MONTH}-B000000001-test.x12"'
    assert test.text.startswith("ISA*") and "*0*T*:" in test.text.splitlines()[0] and "CLM*C1*116" in test.text
    real = export(client, production=True)  # a test file left C1 due
    assert "*0*P*:" in real.text.splitlines()[0] and "CLM*C1*116" in real.text
    assert "C1 (99490, 99439): exported" in client.get(f"/app/month?month={MONTH}").text
    again = export(client)
    assert again.status_code == 303 and again.headers["location"] == f"/app/month?month={MONTH}"
    shown = client.get(f"/app/month?month={MONTH}").text
    assert "No 837P was made for 2026-03" in shown and "no claim of 2026-03 is due" in shown
    assert "No 837P was made" not in client.get(f"/app/month?month={MONTH}").text  # shown once
    reads = AccessLog(open_views(open_ledger(bench.url), bench.url)).of("P1")
    assert "POST /app/month/837" in {r.route for r in reads}


def test_an_export_that_cannot_be_made_says_why_and_needs_its_token(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    record(bench, claim("C1", codes=("99490", "99439")))
    sign_in(client, bench.keys["biller"])
    refused = client.post("/app/month/837", data={"month": MONTH}, follow_redirects=False)
    assert refused.status_code == 403 and "This form has expired" in refused.text
    assert export(client).status_code == 303
    shown = client.get(f"/app/month?month={MONTH}").text
    assert "no practice is registered: send a PracticeRegistered fact first" in shown
    sign_in(client, bench.keys["recorder"])
    csrf = TOKEN.search(client.get("/app").text)
    assert csrf is not None
    assert client.post("/app/month/837", data={"csrf_token": csrf.group(1), "month": MONTH}).status_code == 403


def test_the_month_shows_its_denials_explained(bench: Workbench) -> None:
    record(bench, claim("C1", codes=("99490", "99439")),
           f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.DENIED, reason_codes=["CO-16"]))  # fmt: skip
    with bench.client() as client:  # started after the facts: its views hold them
        sign_in(client, bench.keys["biller"])
        page = client.get(f"/app/month?month={MONTH}").text
        only_p2 = client.get(f"/app/month?month={MONTH}&status=near-miss").text
    denials = page.split('id="denials"')[1].split("</table>")[0]
    assert re.search(r'<th scope="row">C1</th><td>P1</td><td>denied</td><td>\$116.00</td>', denials)
    assert "<code>CO-16</code>" in denials and "P2" not in denials
    assert 'id="denials"' not in only_p2 and "No denied, partly paid, reversed or underpaid claim" in only_p2


def test_a_near_miss_says_whether_its_pace_will_make_it(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["biller"])
    row = client.get(f"/app/month?month={MONTH}").text.split('id="row-P2"')[1].split("</tbody>")[0]
    assert "CCM 99490: 15 of 20 minutes" in row
    pace = re.search(r'<span class="pace pace-([a-z-]+)">(.*?)</span>', row, re.S)
    assert pace is not None
    said = {"on-pace": "will make it at this pace", "behind": "will miss at this pace",
            "missed": "missed: the period is over", "out-of-reach": "will miss: too few days left"}  # fmt: skip
    assert said[pace.group(1)] in pace.group(2)
    assert pace.group(1) == "missed" or "days left" in pace.group(2) or "day left" in pace.group(2)


def test_reports_chart_the_months_revenue_as_carelane_report_counts_it(bench: Workbench) -> None:
    record(bench, claim("C1", codes=("99490", "99439")),
           f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("92.80")))  # fmt: skip
    ledger = open_ledger(bench.url)
    rows = report(ledger, ["P1", "P2", "<b>P3</b>"], MONTH)
    claimed = sum((Decimal(r.claimed_amount) for r in rows), Decimal(0))
    billable = sum((Decimal(r.billable_amount) for r in rows), Decimal(0))
    assert claimed == Decimal("116.00") and billable > 0
    with bench.client() as client:  # started after the facts: its views hold them
        shown(client, bench, billable)


def shown(client: TestClient, bench: Workbench, billable: Decimal) -> None:  # type: ignore[type-arg]
    for role in ("biller", "compliance"):
        sign_in(client, bench.keys[role])
        page = client.get(f"/app/reports?through={MONTH}&months=3")
        assert page.status_code == 200 and 'id="revenue-chart"' in page.text and 'id="amounts-chart"' in page.text
        assert f'data-month="{MONTH}" data-billable="{billable}" data-claimed="116.00" data-paid="92.80"' in page.text
        group = r'<g class="revenue-month" data-month="2026-03" data-claimed="116.00">\s*<title>Mar 26: CCM \$116'
        assert re.search(group, page.text)
        assert 'data-month="2026-01"' in page.text and 'data-month="2025-12"' not in page.text  # three months
    assert "<b>P3</b>" not in page.text and "P1" not in TOKEN.sub("", page.text)  # totals only
    for role in ("auditor", "recorder"):
        sign_in(client, bench.keys[role])
        assert client.get("/app/reports").status_code == 403
    sign_in(client, bench.keys["biller"])
    for query in ("months=5", "through=2026-13", "provider=12"):
        bad = client.get(f"/app/reports?{query}")
        assert bad.status_code == 400 and "^" not in bad.text
