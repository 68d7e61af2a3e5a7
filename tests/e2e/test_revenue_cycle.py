"""The revenue cycle end to end: claims -> 837P -> the clearinghouse's 999 and 277CA -> the
payer's 835 with a paid, a partial, a denied, a reversed-then-repaid and an underpaid claim
-> `carelane receive`. The worklist's statuses, `report` and `denials` show exactly that;
the same files received again change nothing. The answers come from a stand-in
clearinghouse (adapters.x12_fake), each file validated with pyx12 before it is used."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from adapters import x12
from adapters.x12_fake import ack_277ca, ack_999, payer_claim_number
from adapters.x12_fake_835 import remit_835
from adapters.x12_in import segments
from domain import facts as f
from tests.e2e.test_cli import carelane, write
from tests.factories import claim, demographics, enrolled, minutes, practice

ENC = msgspec.json.Encoder()
PLAN = {"C1": "paid", "C2": "partial", "C3": "denied-B20", "C4": "paid", "C6": "underpaid"}
PATIENTS = ["P1", "P2", "P3", "P4", "P5", "P6"]


def record(tmp_path: Path, url: str, lines: list[f.Fact], name: str) -> None:
    result = carelane("ingest", str(write(tmp_path / name, [ENC.encode(x) for x in lines])), db=url)
    assert result.returncode == 0, result.stdout + result.stderr


def export(tmp_path: Path, url: str, name: str) -> str:
    out = tmp_path / name
    result = carelane("export-837", "--month", "2026-03", "--out", str(out), "--production", db=url)
    assert result.returncode == 0, result.stderr
    return out.read_text() if out.exists() else ""


def answer_files(tmp_path: Path, text_837: str) -> list[str]:
    """The 999 (accepted), the 277CA (C5 rejected) and the 835 for the batch, each valid."""
    files = {"b1.999": ack_999(text_837), "b1.277": ack_277ca(text_837, rejected={"C5": "21"}),
             "b1.835": remit_835(text_837, PLAN, skip={"C5"})}  # fmt: skip
    for name, body in files.items():
        assert x12.validate(body) == [], name
        (tmp_path / name).write_text(body)
    return [str(tmp_path / name) for name in files]


def statuses(url: str) -> dict[str, str]:
    rows = msgspec.json.decode(carelane("worklist", "--month", "2026-03", "--format", "json", db=url).stdout)
    return {c["claim_id"]: c["status"] for r in rows for c in r["claimed"]}


def ledger_end(url: str) -> int:
    return len(carelane("events", db=url).stdout.splitlines())


def setup(tmp_path: Path, url: str) -> str:
    lines: list[f.Fact] = [practice()]
    for n, pid in enumerate(PATIENTS, start=1):
        codes = ("99490", "99439") if pid in ("P1", "P2") else ("99490",)
        lines += [*enrolled(pid), demographics(pid), *minutes(45, pid, staff=f"RN-{pid}"),
                  claim(f"C{n}", pid, codes=codes)]  # fmt: skip
    record(tmp_path, url, lines, "facts.ndjson")
    return export(tmp_path, url, "b1.837")


def test_the_loop_from_claims_to_payments_and_denials(store_url: str, tmp_path: Path) -> None:
    text_837 = setup(tmp_path, store_url)
    assert statuses(store_url) == dict.fromkeys(["C1", "C2", "C3", "C4", "C5", "C6"], "exported")
    files = answer_files(tmp_path, text_837)
    received = carelane("receive", *files, db=store_url)
    assert received.returncode == 0, received.stderr
    assert "999" in received.stdout and "batch B000000001 accepted" in received.stdout
    assert statuses(store_url) == {"C1": "paid", "C2": "partial", "C3": "denied", "C4": "paid", "C5": "rejected",
                                   "C6": "paid"}  # fmt: skip
    # A later 835 reverses C4's payment and pays it again (a correction).
    (tmp_path / "b1-2.835").write_text(remit_835(text_837, {"C4": "reversed-repaid"}, skip={"C1", "C2", "C3", "C5",
                                                 "C6"}, trace="EFT0002", control=900004))  # fmt: skip
    corrected = carelane("receive", str(tmp_path / "b1-2.835"), db=store_url)
    assert corrected.returncode == 0 and "2 claim answers recorded" in corrected.stdout, corrected.stderr
    assert statuses(store_url)["C4"] == "paid"
    report = msgspec.json.decode(carelane("report", "--month", "2026-03", "--format", "json", db=store_url).stdout)
    paid = sum(Decimal(r["paid_amount"]) for r in report)
    remitted = sum(Decimal(s.get(4)) for s in segments((tmp_path / "b1.835").read_text()) if s.id == "CLP")
    assert paid == remitted  # C4's payment was taken back and paid again: the same total
    assert sum(Decimal(r["underpaid_amount"]) for r in report) > 0
    rows = msgspec.json.decode(carelane("denials", "--month", "2026-03", "--format", "json", db=store_url).stdout)
    found = {r["claim_id"]: r for r in rows}
    assert set(found) == {"C2", "C3", "C6"}
    assert found["C2"]["status"] == "partial" and [a["code"] for a in found["C2"]["adjustments"]][-1] == "97"
    assert found["C3"]["status"] == "denied" and "another provider" in found["C3"]["adjustments"][0]["says"]
    assert found["C3"]["next_step"].startswith("another practice billed")
    assert Decimal(found["C6"]["underpaid"]) > 0 and found["C6"]["status"] == "paid"
    every = msgspec.json.decode(carelane("denials", "--format", "json", db=store_url).stdout)  # no --month: all
    assert every == rows
    table = carelane("denials", "--month", "2026-03", db=store_url).stdout
    assert "B20" in table and max(len(line) for line in table.splitlines()) <= 80
    before = ledger_end(store_url)
    again = carelane("receive", *files, db=store_url)
    assert again.returncode == 0 and again.stdout.count("was received before; nothing recorded") == 3
    assert ledger_end(store_url) == before
    # The claim the clearinghouse rejected goes out again, as an original, alone.
    second = export(tmp_path, store_url, "b2.837")
    assert [(s.get(1), s.get(5)) for s in segments(second) if s.id == "CLM"] == [("C5", "11:B:1")]


def test_a_void_of_a_paid_claim_goes_out_as_8_and_the_payers_reversal_completes_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    """After the 835 paid C1, its void goes out as frequency 8 carrying the payer's claim
    number from that 835; the payer's 835 for the void reverses the payment and C1 is voided."""
    text_837 = setup(tmp_path, sqlite_url)
    assert carelane("receive", *answer_files(tmp_path, text_837), db=sqlite_url).returncode == 0
    record(tmp_path, sqlite_url, [f.ClaimVoided(claim_id="C1", reason="billed under the wrong NPI", by="B")], "v.nd")
    assert statuses(sqlite_url)["C1"] == "paid"  # a request to the payer, for now
    voids = export(tmp_path, sqlite_url, "b2.837")
    clm = [(s.get(1), s.get(5)) for s in segments(voids) if s.id == "CLM"]
    assert ("C1", "11:B:8") in clm
    assert ("F8", payer_claim_number("C1")) in [(s.get(1), s.get(2)) for s in segments(voids) if s.id == "REF"]
    (tmp_path / "b2.835").write_text(remit_835(voids, {}, skip={c for c, _ in clm if c != "C1"}, trace="EFT0002"))
    assert carelane("receive", str(tmp_path / "b2.835"), db=sqlite_url).returncode == 0
    assert statuses(sqlite_url)["C1"] == "voided"


def test_a_rejected_batch_goes_out_again_and_unknown_claims_are_named(sqlite_url: str, tmp_path: Path) -> None:
    """A 999 rejecting the file rejects every claim in it; the next export sends them all
    again. An 835 naming a claim the ledger does not know lists it and records nothing for it."""
    text_837 = setup(tmp_path, sqlite_url)
    (tmp_path / "r.999").write_text(ack_999(text_837, accepted=False))
    got = carelane("receive", str(tmp_path / "r.999"), db=sqlite_url)
    assert got.returncode == 0 and "REJECTED" in got.stdout
    assert set(statuses(sqlite_url).values()) == {"rejected"}
    again = export(tmp_path, sqlite_url, "b2.837")
    assert len([s for s in segments(again) if s.id == "CLM"]) == 6
    stranger = remit_835(again.replace("CLM*C6*", "CLM*C-NOT-OURS*"), {}, trace="EFT0009")
    (tmp_path / "s.835").write_text(stranger)
    got = carelane("receive", str(tmp_path / "s.835"), db=sqlite_url)
    assert got.returncode == 3 and "not on file: C-NOT-OURS" in got.stdout and "not kept as received" in got.stderr


def test_files_that_are_not_answers_are_refused_clearly(sqlite_url: str, tmp_path: Path) -> None:
    """A file that is not X12, one that fails its guide, and an 837 (not an answer): each is
    named with why, nothing is recorded, and the exit code is 2."""
    text_837 = setup(tmp_path, sqlite_url)
    (tmp_path / "notes.txt").write_text("hello\n")
    (tmp_path / "bad.835").write_text(remit_835(text_837, {}).replace("CLP*C1*1*", "CLP*C1*1X*"))
    got = carelane("receive", str(tmp_path / "notes.txt"), str(tmp_path / "bad.835"), str(tmp_path / "b1.837"),
                   db=sqlite_url)  # fmt: skip
    assert got.returncode == 2 and "Traceback" not in got.stderr
    lines: list[Any] = got.stderr.splitlines()
    assert any("notes.txt: not an X12 file" in x for x in lines)
    assert any("bad.835: the file fails X12 validation" in x for x in lines)
    assert any("b1.837: not a 999, 277CA or 835 file" in x for x in lines)
    assert set(statuses(sqlite_url).values()) == {"exported"}
