"""`carelane export-837`: an X12 005010X222A1 837P of the accepted, unpaid claims of a month,
checked by a real X12 validator (pyx12) with zero errors."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import msgspec

from adapters import x12
from adapters.synthetic import last_full_month, months_ending
from domain import facts as f
from tests.e2e.test_cli import carelane, write
from tests.factories import claim, enrolled, minutes

ENC = msgspec.json.Encoder()


def segments(text: str, tag: str) -> list[str]:
    return [s.strip() for s in text.split("~") if s.strip().startswith(tag + "*")]


def test_export_has_accepted_unpaid_claims_and_passes_pyx12(sqlite_url: str, tmp_path: Path) -> None:
    """Paid and voided claims are left out; names come from the demographics CSV; pyx12 finds
    no error in the file."""
    lines = [*enrolled("P1"), *minutes(45), *enrolled("P2"), *minutes(25, "P2", staff="RN-2"),
             *enrolled("P3"), *minutes(25, "P3", staff="RN-3"),
             claim("C1", "P1", codes=("99490", "99439")), claim("C2", "P2"), claim("C3", "P3"),
             f.ClaimAdjudicated(claim_id="C2", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("52.80")),
             f.ClaimVoided(claim_id="C3", reason="duplicate of paper claim", by="B")]  # fmt: skip
    assert (
        carelane("ingest", str(write(tmp_path / "f.ndjson", [ENC.encode(x) for x in lines])), db=sqlite_url).returncode
        == 0
    )
    people = tmp_path / "patients.csv"
    people.write_text(
        "patient_id,last_name,first_name,sex,address,city,state,zip\nP1,Smith,Jane,F,1 Elm St,Peoria,IL,61602\n"
    )
    out = tmp_path / "claims.837"
    result = carelane("export-837", "--month", "2026-03", "--out", str(out), "--patients", str(people),
                      "--control", "42", db=sqlite_url)  # fmt: skip
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert x12.validate(text) == []
    assert [s.split("*")[1] for s in segments(text, "CLM")] == ["C1"]
    assert segments(text, "CLM")[0].split("*")[2] == "116"
    assert "NM1*IL*1*SMITH*JANE****MI*1EG4TE5MK72" in text and "DMG*D8*19480517*F" in text
    assert [s.split("*")[1] for s in segments(text, "SV1")] == ["HC:99490", "HC:99439"]
    assert segments(text, "HI")[0].startswith("HI*ABK:")
    assert re.search(r"ISA\*.*\*000000042\*0\*P\*:", text)
    broken = x12.validate(text.replace("DMG*D8*19480517", "DMG*D8*19481317"))
    assert broken and "DMG02" in broken[0]


def test_export_of_the_demo_practice_passes_pyx12(tmp_path: Path) -> None:
    """The demo's claims, exported, are a valid 837P with zero pyx12 errors."""
    assert carelane("demo", "--patients", "15", db="", cwd=tmp_path).returncode == 0
    month = months_ending(last_full_month(__import__("datetime").date.today()), 2)[0]
    out = tmp_path / "demo.837"
    result = carelane("export-837", "--month", month, "--out", str(out), db="sqlite:///carelane-demo.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert len(segments(text, "CLM")) >= 10 and x12.validate(text) == []


def test_export_problems_are_clear(sqlite_url: str, tmp_path: Path) -> None:
    """A month with nothing to send writes nothing; a bad profile is named."""
    result = carelane("export-837", "--month", "2026-03", "--out", str(tmp_path / "x.837"), db=sqlite_url)
    assert result.returncode == 0 and "nothing written" in result.stdout and not (tmp_path / "x.837").exists()
    profile = tmp_path / "profile.json"
    profile.write_text('{"billing_zip": 627}')
    result = carelane("export-837", "--month", "2026-03", "--out", str(tmp_path / "x.837"), "--profile", str(profile),
                      db=sqlite_url)  # fmt: skip
    assert result.returncode == 1 and "profile.json" in result.stderr and "billing_zip" in result.stderr
