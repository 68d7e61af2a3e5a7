"""`carelane export-837`: a clearinghouse-ready 005010X222A1 837P built from what the ledger
holds (the practice, each patient's demographics), refused with every missing field named
when that is incomplete, validated with pyx12, and recorded as a batch sent once."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import msgspec

from adapters import x12
from adapters.synthetic import last_full_month, months_ending
from adapters.x12_in import Seg, segments
from domain import facts as f
from tests.e2e.test_cli import carelane, write
from tests.factories import GROUP_NPI, NPI, OTHER_NPI, claim, demographics, enrolled, minutes, patient, practice

ENC = msgspec.json.Encoder()


def ingest(tmp_path: Path, url: str, lines: list[f.Fact], name: str = "f.ndjson") -> None:
    result = carelane("ingest", str(write(tmp_path / name, [ENC.encode(x) for x in lines])), db=url)
    assert result.returncode == 0, result.stdout + result.stderr


def segs(text: str, seg_id: str, loop: str = "") -> list[Seg]:
    return (
        [s for s in segments(text) if s.id == seg_id and f"/{loop}/" in s.loop + "/"]
        if loop
        else [s for s in segments(text) if s.id == seg_id]
    )


def claims_of_three(tmp_path: Path, url: str) -> None:
    ingest(tmp_path, url, [
        *enrolled("P1"), *minutes(45), *enrolled("P2", npi=OTHER_NPI), *minutes(25, "P2", staff="RN-2"),
        claim("C1", "P1", codes=("99490", "99439")), claim("C2", "P2", billing_provider_npi=OTHER_NPI),
    ])  # fmt: skip


def test_an_incomplete_practice_or_patient_is_refused_naming_every_field(sqlite_url: str, tmp_path: Path) -> None:
    """No practice: said so. Then each missing field, of the practice and of each patient,
    is named in one message; nothing is written and nothing is recorded as sent."""
    claims_of_three(tmp_path, sqlite_url)
    out = tmp_path / "x.837"
    first = carelane("export-837", "--month", "2026-03", "--out", str(out), db=sqlite_url)
    assert first.returncode == 1 and "no practice is registered" in first.stderr and not out.exists()
    bare = patient("P3", birth_date=None, medicare_id=None)
    ingest(tmp_path, sqlite_url, [practice(contact_phone=None, zip="62701", practitioners=[]), demographics("P1"),
                                  bare, *enrolled("P3")[1:], *minutes(25, "P3", staff="RN-3"), claim("C3", "P3")],
           "more.ndjson")  # fmt: skip
    second = carelane("export-837", "--month", "2026-03", "--out", str(out), db=sqlite_url)
    assert second.returncode == 1 and not out.exists()
    for named in ("practice PR-1: contact_phone", "practice PR-1: zip", f"no name for rendering NPI {NPI}",
                  f"no name for rendering NPI {OTHER_NPI}", "patient P2: last_name, first_name, sex",
                  "patient P3: birth_date, medicare_id, last_name"):  # fmt: skip
        assert named in second.stderr, named
    assert "patient P1" not in second.stderr and "Traceback" not in second.stderr
    assert second.stderr.count("patient P2:") == 1  # once, though two of its claims may be due
    assert all(len(line) <= 80 for line in second.stderr.splitlines()), second.stderr
    wrong = ENC.encode(practice(billing_npi="1326000018"))  # the check digit is wrong
    typo = ENC.encode(practice()).replace(b'"contact_phone"', b'"contact_phon"')
    answer = carelane("ingest", str(write(tmp_path / "typo.ndjson", [wrong, typo])), "--report",
                      str(tmp_path / "r.ndjson"), db=sqlite_url)  # fmt: skip
    report = [msgspec.json.decode(x) for x in (tmp_path / "r.ndjson").read_bytes().splitlines()]
    assert answer.returncode == 2 and [r["status"] for r in report] == ["invalid", "invalid"]
    assert "$.billing_npi: expected an NPI whose check digit is right" in report[0]["error"]
    assert "contact_phon" in report[1]["error"]


def test_a_complete_export_has_2310b_subscriber_address_and_demographics(sqlite_url: str, tmp_path: Path) -> None:
    """Billing provider is the group NPI; the individual is the rendering provider (2310B),
    omitted where they are the same; the subscriber has N3/N4 and DMG from the ledger; ISA15
    is T; pyx12 finds no error. Tests parse the file back with pyx12's reader."""
    claims_of_three(tmp_path, sqlite_url)
    ingest(tmp_path, sqlite_url, [practice(), demographics("P1"), demographics("P2", sex=f.Sex.MALE)], "who.ndjson")
    out = tmp_path / "claims.837"
    result = carelane("export-837", "--month", "2026-03", "--out", str(out), db=sqlite_url)
    assert result.returncode == 0, result.stderr
    assert "Batch B000000001: 2 claims" in result.stdout
    text = out.read_text()
    assert x12.validate(text) == []
    isa = segs(text, "ISA")[0]
    assert isa.get(15) == "T" and isa.get(13) == "000000001"
    assert [s.get(9) for s in segs(text, "NM1", "2010AA")] == [GROUP_NPI]
    assert [(s.get(3), s.get(9)) for s in segs(text, "NM1", "2310B")] == [("OSLER", NPI), ("JENNER", OTHER_NPI)]
    assert [s.get(1) for s in segs(text, "N3", "2010BA")] == ["1 ELM ST", "1 ELM ST"]
    assert [(s.get(1), s.get(3)) for s in segs(text, "N4", "2010BA")] == [("PEORIA", "61602")] * 2
    assert [(s.get(2), s.get(3)) for s in segs(text, "DMG", "2010BA")] == [("19480517", "F"), ("19480517", "M")]
    assert [(s.get(1), s.get(2), s.get(5)) for s in segs(text, "CLM")] == [
        ("C1", "116", "11:B:1"),
        ("C2", "66", "11:B:1"),
    ]
    assert segs(text, "REF", "2300") == []
    ingest(tmp_path, sqlite_url, [practice(billing_npi=NPI, practitioners=[])], "solo.ndjson")  # a solo practice
    ingest(tmp_path, sqlite_url, [*minutes(30, "P1", month="2026-04"), claim("C9", "P1", service_month="2026-04")],
           "april.ndjson")  # fmt: skip
    solo = carelane("export-837", "--month", "2026-04", "--out", str(tmp_path / "solo.837"), "--production",
                    db=sqlite_url)  # fmt: skip
    assert solo.returncode == 0, solo.stderr
    solo_text = (tmp_path / "solo.837").read_text()
    assert segs(solo_text, "NM1", "2310B") == [] and segs(solo_text, "ISA")[0].get(15) == "P"


def test_a_claim_is_exported_once_and_a_batch_can_be_sent_again(sqlite_url: str, tmp_path: Path) -> None:
    """The second export has nothing to send; --resend writes the batch byte for byte; the
    worklist shows the claims `exported`; control numbers go up."""
    claims_of_three(tmp_path, sqlite_url)
    ingest(tmp_path, sqlite_url, [practice(), demographics("P1"), demographics("P2")], "who.ndjson")
    first, again = tmp_path / "a.837", tmp_path / "b.837"
    assert (
        carelane("export-837", "--month", "2026-03", "--out", str(first), "--production", db=sqlite_url).returncode == 0
    )
    nothing = carelane("export-837", "--month", "2026-03", "--out", str(again), "--production", db=sqlite_url)
    assert nothing.returncode == 0 and "nothing written" in nothing.stdout and not again.exists()
    resent = carelane("export-837", "--resend", "B000000001", "--out", str(again), db=sqlite_url)
    assert resent.returncode == 0 and again.read_bytes() == first.read_bytes()
    unknown = carelane("export-837", "--resend", "B999", "--out", str(again), db=sqlite_url)
    assert unknown.returncode == 1 and "no export batch B999" in unknown.stderr
    rows = msgspec.json.decode(carelane("worklist", "--month", "2026-03", "--format", "json", db=sqlite_url).stdout)
    assert sorted(c["status"] for r in rows for c in r["claimed"]) == ["exported", "exported"]


def test_a_void_of_a_paid_claim_goes_out_as_frequency_8_with_the_payers_number(sqlite_url: str, tmp_path: Path) -> None:
    """The void waits for the payer (the codes stay claimed); the next export carries it as
    CLM05-3 8 with REF*F8, once; the payer's reversal completes it."""
    claims_of_three(tmp_path, sqlite_url)
    ingest(tmp_path, sqlite_url, [practice(), demographics("P1"), demographics("P2")], "who.ndjson")
    assert (
        carelane(
            "export-837", "--month", "2026-03", "--out", str(tmp_path / "a.837"), "--production", db=sqlite_url
        ).returncode
        == 0
    )
    paid = f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("90.94"),
                              payer_claim_number="26012345678", paid_on=date(2026, 4, 10))  # fmt: skip
    ingest(tmp_path, sqlite_url, [paid, f.ClaimVoided(claim_id="C1", reason="wrong practitioner", by="B")], "v.ndjson")
    out = tmp_path / "void.837"
    result = carelane("export-837", "--month", "2026-03", "--out", str(out), "--production", db=sqlite_url)
    assert result.returncode == 0 and "0 claims and 1 voids" in result.stdout, result.stdout + result.stderr
    text = out.read_text()
    assert x12.validate(text) == []
    assert [(s.get(1), s.get(5)) for s in segs(text, "CLM")] == [("C1", "11:B:8")]
    assert [(s.get(1), s.get(2)) for s in segs(text, "REF", "2300")] == [("F8", "26012345678")]
    again = carelane(
        "export-837", "--month", "2026-03", "--out", str(tmp_path / "x.837"), "--production", db=sqlite_url
    )
    assert "nothing written" in again.stdout
    reversal = f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.REVERSED, paid_amount=Decimal("90.94"),
                                  payer_claim_number="26012345678", paid_on=date(2026, 4, 20))  # fmt: skip
    ingest(tmp_path, sqlite_url, [reversal], "r.ndjson")
    rows = msgspec.json.decode(carelane("worklist", "--month", "2026-03", "--format", "json", db=sqlite_url).stdout)
    assert {c["claim_id"]: c["status"] for r in rows for c in r["claimed"]} == {"C1": "voided", "C2": "exported"}


def test_export_of_the_demo_practice_passes_pyx12(tmp_path: Path) -> None:
    """The demo registers its own fictional practice and patients; its claims export with
    zero pyx12 errors, as a test file."""
    assert carelane("demo", "--patients", "15", db="", cwd=tmp_path).returncode == 0
    month = months_ending(last_full_month(date.today()), 2)[0]
    out = tmp_path / "demo.837"
    result = carelane("export-837", "--month", month, "--out", str(out), db="sqlite:///carelane-demo.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = out.read_text()
    assert len(segs(text, "CLM")) >= 10 and x12.validate(text) == [] and segs(text, "ISA")[0].get(15) == "T"
    assert "FICTIONAL" in text


def test_nothing_due_writes_nothing(sqlite_url: str, tmp_path: Path) -> None:
    result = carelane("export-837", "--month", "2026-03", "--out", str(tmp_path / "x.837"), db=sqlite_url)
    assert result.returncode == 1 and "no practice is registered" in result.stderr
    ingest(tmp_path, sqlite_url, [practice()])
    result = carelane("export-837", "--month", "2026-03", "--out", str(tmp_path / "x.837"), db=sqlite_url)
    assert result.returncode == 0 and "nothing written" in result.stdout and not (tmp_path / "x.837").exists()


def test_a_test_file_leaves_its_claims_due_and_nothing_is_recorded_without_a_file(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A test export (ISA15 T, the default) is recorded but its claims stay due: the
    production export that follows carries them. An --out that cannot be written records no
    batch. A batch the clearinghouse accepted is not sent again."""
    claims_of_three(tmp_path, sqlite_url)
    ingest(tmp_path, sqlite_url, [practice(), demographics("P1"), demographics("P2")], "who.ndjson")
    test = carelane("export-837", "--month", "2026-03", "--out", str(tmp_path / "t.837"), db=sqlite_url)
    assert test.returncode == 0 and "claims stay due" in test.stdout
    lost = carelane("export-837", "--month", "2026-03", "--out", str(tmp_path / "no" / "x.837"), "--production",
                    db=sqlite_url)  # fmt: skip
    assert lost.returncode == 1 and "cannot be written" in lost.stderr and "Traceback" not in lost.stderr
    real = carelane("export-837", "--month", "2026-03", "--out", str(tmp_path / "p.837"), "--production", db=sqlite_url)
    assert real.returncode == 0 and "2 claims" in real.stdout
    text = (tmp_path / "p.837").read_text()
    assert segs(text, "ISA")[0].get(15) == "P" and segs(text, "ISA")[0].get(13) == "000000002"
    from adapters.x12_fake import ack_999

    (tmp_path / "p.999").write_text(ack_999(text))
    assert carelane("receive", str(tmp_path / "p.999"), db=sqlite_url).returncode == 0
    again = carelane("export-837", "--resend", "B000000002", "--out", str(tmp_path / "r.837"), db=sqlite_url)
    assert again.returncode == 1 and "accepted batch B000000002" in again.stderr
