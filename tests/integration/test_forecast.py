"""`carelane forecast`: monthly and annual revenue by program and code, and work RVUs per
practitioner, checked against totals computed by hand from rules.md's fee table ("Fees
(2026 national averages)") for a mixed panel typed in, and for a panel on record."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

import adapters.commands.eligible  # noqa: F401  # registers the commands on `main`
from adapters.commands.base import main
from domain.catalog import DEFAULT_FEES
from domain.ledger import Ledger
from projections.forecast import PanelError, forecast, panel_from_csv, panel_from_json, record_panel
from tests.factories import NPI, OTHER_NPI, Book, claim, condition, enrolled, minutes, patient

A, B = NPI, OTHER_NPI
# code, patients, units, engagement, practitioner; by hand at rules.md's fees and work RVUs:
PANEL = [
    ("99490", 100, 1, "0.8", A),  # 80 x $66 = 5,280.00; 80 x 1.00 = 80.00 wRVU
    ("99439", 40, 1, "1", A),  # 40 x $50 = 2,000.00; 40 x 0.70 = 28.00
    ("99426", 10, 1, "0.5", B),  # 5 x $67 = 335.00; 5 x 1.00 = 5.00
    ("G0558", 20, 1, "1", A),  # 20 x $117 = 2,340.00; 20 x 1.67 = 33.40
    ("99454", 30, 1, "0.9", B),  # 27 x $52 = 1,404.00; no work RVU
    ("99457", 30, 1, "0.9", B),  # 27 x $51 = 1,377.00; 27 x 0.61 = 16.47
    ("99458", 10, 2, "1", B),  # 20 x $41 = 820.00; 20 x 0.61 = 12.20
    ("99496", 3, 1, "1", A),  # 3 x $298 = 894.00; 3 x 3.79 = 11.37
    ("99484", 12, 1, "0.75", ""),  # 9 x $57 = 513.00; 9 x 0.93 = 8.37 (no practitioner yet)
]
MONTHLY, ANNUAL = "14963.00", "179556.00"  # the sum of the lines above, and 12 times it
BY_PROGRAM = {"APCM": "2340.00", "BHI": "513.00", "CCM": "7280.00", "PCM": "335.00", "RPM": "3601.00", "TCM": "894.00"}
RVUS = {A: ("152.77", "1833.24"), B: ("33.67", "404.04"), "(unassigned)": ("8.37", "100.44")}


def as_json() -> str:
    """Engagement as a JSON number written as in the table (0.8, 1), never through a float's digits."""
    lines = [f'{{"code": "{c}", "patients": {n}, "units": {u}, "engagement": {e}, "practitioner": "{p}"}}'
             for c, n, u, e, p in PANEL]  # fmt: skip
    return '{"lines": [' + ", ".join(lines) + "]}"


def as_csv() -> str:
    return "code,patients,units,engagement,practitioner\n" + "\n".join(",".join(map(str, row)) for row in PANEL)


def test_mixed_panel_matches_hand_computed_totals() -> None:
    """Revenue by program and in total, and work RVUs per practitioner, equal the hand sums."""
    got = forecast(panel_from_json(as_json()), DEFAULT_FEES)
    assert (got.total.monthly, got.total.annual, got.total.monthly_rvus) == (MONTHLY, ANNUAL, "194.81")
    assert {t.name: t.monthly for t in got.programs} == BY_PROGRAM
    assert {t.name: t.annual for t in got.programs}["CCM"] == "87360.00"
    assert {t.name: (t.monthly_rvus, t.annual_rvus) for t in got.practitioners} == RVUS
    line = next(x for x in got.lines if x.code == "99458")
    assert (line.units, line.monthly, line.annual, line.monthly_rvus) == (2, "820.00", "9840.00", "12.20")
    assert any("12 such months" in a for a in got.assumptions) and DEFAULT_FEES.name in got.assumptions[0]


def test_csv_panel_gives_the_same_forecast() -> None:
    """The CSV form of the panel reads to the same lines and totals."""
    assert forecast(panel_from_csv(as_csv()), DEFAULT_FEES) == forecast(panel_from_json(as_json()), DEFAULT_FEES)


@pytest.mark.parametrize(
    "text, says",
    [
        ('[{"code": "99490", "patients": 5, "engagement": 1.5}]', "engagement must be from 0 to 1"),
        ('[{"code": "99490", "patients": -1}]', "$[0].patients"),
        ('[{"code": "99490", "patient": 5}]', "unknown field"),
        ("code,patients,tier\n99490,5,1\n", "the header needs code and patients"),
        ("code,patients\n99490,five\n", "panel line 2: patients: expected a whole number"),
    ],
)
def test_bad_panels_are_named(text: str, says: str) -> None:
    """A panel that cannot be read says which row and field, never with a traceback."""
    with pytest.raises(PanelError) as e:
        panel_from_json(text) if text.startswith("[") else panel_from_csv(text)
    assert says in str(e.value)


def test_unknown_code_or_wrong_program_is_refused() -> None:
    """A code outside the catalog, or typed under another program, is a PanelError."""
    with pytest.raises(PanelError, match="not a care-management code"):
        forecast(panel_from_json('[{"code": "99213", "patients": 1}]'), DEFAULT_FEES)
    with pytest.raises(PanelError, match="is a CCM code, not PCM"):
        forecast(panel_from_json('[{"code": "99490", "patients": 1, "program": "PCM"}]'), DEFAULT_FEES)


@pytest.fixture
def on_record(store_url: str, open_at: Callable[[str], Ledger]) -> Ledger:
    """P1 one condition (eligible: PCM 99426 $67, RPM 99454+99457 $103); P3 enrolled in CCM
    with 45 minutes (billable 99490 + 99439, $116); P7 enrolled with 99490 claimed ($66).
    P3 and P7 also carry F33.1 and E11.9/I50.9: each eligible for CoCM 99492 ($160) and RPM."""
    ledger = open_at(store_url)
    Book(ledger).add(patient("P1"), condition("E11.9", "P1"), enrolled("P3"), minutes(45, "P3"),
                     enrolled("P7"), minutes(20, "P7", day=3), claim("C1", "P7"))  # fmt: skip
    return ledger


def test_panel_on_record_counts_billable_claimed_and_eligible(on_record: Ledger) -> None:
    """Billable and claimed at engagement 1; eligible best offers at the engagement given."""
    lines, basis = record_panel(on_record.month_views_of(["P1", "P3", "P7"], "2026-03"), DEFAULT_FEES, Decimal("0.5"))
    got = forecast(lines, DEFAULT_FEES, [basis])
    # 66 + 50 billable, 66 claimed; eligible 0.5 x (67 + 103 + 2 x (160 + 103)) = 348.00
    assert (got.total.monthly, got.total.annual) == ("530.00", "6360.00")
    assert {t.name: t.monthly_rvus for t in got.practitioners}[NPI] == "2.70"  # 1.00 + 0.70 + 1.00
    assert {(x.source, x.code): x.patients for x in got.lines}[("eligible", "99457")] == 3
    assert "engagement 0.5" in got.assumptions[-1]


def test_cli_forecast_from_panel_file_and_from_record(tmp_path: Path, on_record: Ledger, store_url: str) -> None:
    """`carelane forecast --panel FILE` and `--month`: figures, assumptions, 80 columns."""
    panel = tmp_path / "panel.csv"
    panel.write_text(as_csv())
    out = CliRunner().invoke(main, ["forecast", "--panel", str(panel), "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["total"]["monthly"] == MONTHLY
    table = CliRunner().invoke(main, ["forecast", "--panel", str(panel)])
    assert "Assumptions:" in table.output and "179556.00" in table.output
    assert max(len(line) for line in table.output.splitlines()) <= 80
    args = ["--db", store_url, "forecast", "--month", "2026-03", "--engagement", "0.5", "--format", "json"]
    record = CliRunner().invoke(main, args)
    assert record.exit_code == 0, record.output
    assert json.loads(record.output)["total"]["monthly"] == "530.00"


def test_cli_forecast_errors_are_plain(tmp_path: Path) -> None:
    """Neither or both of --month and --panel is a usage error; a bad panel names its line."""
    assert CliRunner().invoke(main, ["forecast"]).exit_code == 2
    bad = tmp_path / "bad.csv"
    bad.write_text("code,patients\n99490,lots\n")
    out = CliRunner().invoke(main, ["forecast", "--panel", str(bad)])
    assert out.exit_code == 1 and "panel line 2: patients" in out.output and "Traceback" not in out.output
