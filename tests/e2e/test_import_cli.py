"""`carelane import` from the command line: each feed's sample files in docs/samples record
with every item answered and named; a bad row exits 2 naming row and column; the same file
again records nothing new; a template prints."""

from __future__ import annotations

from pathlib import Path

import msgspec

from tests.e2e.test_cli import carelane

SAMPLES = Path(__file__).parent.parent.parent / "docs" / "samples"
CSV_ORDER = ("patients", "conditions", "consents", "visits", "care-plans", "time", "devices", "device-readings",
             "discharges", "claims")  # fmt: skip


def test_the_csv_samples_import_and_a_bad_row_is_named(sqlite_url: str, tmp_path: Path) -> None:
    for kind in CSV_ORDER:
        result = carelane("import", "--format", "csv", "--kind", kind, str(SAMPLES / "csv" / f"{kind}.csv"),
                          db=sqlite_url)  # fmt: skip
        assert result.returncode == 0, (kind, result.stdout, result.stderr)
    again = carelane("import", "--format", "csv", "--kind", "time", str(SAMPLES / "csv" / "time.csv"), db=sqlite_url)
    assert again.returncode == 0 and "already recorded" in again.stdout and "(7 already recorded)" in again.stdout
    bad = tmp_path / "time.csv"
    bad.write_text("entry_id,patient_id,program,staff_id,staff_role,activity,started_at,minutes\n"
                   "T-NEW,P-1001,CCM,RN-77,clinical_staff,call,2026-03-20 10:00,-5\n")  # fmt: skip
    result = carelane("import", "--format", "csv", "--kind", "time", str(bad), "--report", str(tmp_path / "r.nd"),
                      db=sqlite_url)  # fmt: skip
    answers = [msgspec.json.decode(x) for x in (tmp_path / "r.nd").read_bytes().splitlines()]
    assert result.returncode == 2 and answers[0]["item"] == "row 2" and "column minutes" in answers[0]["error"]
    assert "Traceback" not in result.stderr
    piped = carelane("import", "--format", "csv", "--kind", "time", str(bad), "--report", "-", db=sqlite_url)
    assert [msgspec.json.decode(x)["item"] for x in piped.stdout.splitlines()] == ["row 2"]
    assert "1 item: 0 accepted" in piped.stderr
    template = carelane("import", "--template", "consents", db=sqlite_url)
    assert template.returncode == 0 and template.stdout.startswith("patient_id,")


def test_the_fhir_and_hl7_samples_import(sqlite_url: str) -> None:
    fhir = carelane("import", "--format", "fhir", str(SAMPLES / "fhir" / "ccm-bundle.json"), db=sqlite_url)
    assert fhir.returncode == 0 and "0 invalid" in fhir.stdout, fhir.stderr
    hl7 = carelane("import", "--format", "hl7", *sorted(str(p) for p in (SAMPLES / "hl7").glob("*.hl7")),
                   db=sqlite_url)  # fmt: skip
    assert "Traceback" not in hl7.stderr and hl7.returncode in (0, 3), hl7.stdout + hl7.stderr
    wrong = carelane("import", "--format", "fhir", str(SAMPLES / "csv" / "time.csv"), db=sqlite_url)
    assert wrong.returncode == 2 and "nothing recorded" in wrong.stderr
