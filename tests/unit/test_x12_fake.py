"""The stand-in clearinghouse and payer (adapters.x12_fake, adapters.x12_fake_835): every file
it makes passes pyx12, answers the 837's claims, and every 835 balances."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from adapters import x12
from adapters.x12_fake import ack_277ca, ack_999, claims_in
from adapters.x12_fake_835 import PLANS, remit_835

NOW = datetime(2026, 4, 5, 10, 30, tzinfo=UTC)
CLAIMS = [  # CLM01, patient (last, first, member id), lines (code, charge)
    ("C1", ("TESTPERSON", "PATP1", "1EG4TE5MK72"), [("99490", "66"), ("99439", "50")]),
    ("C2", ("DOE", "JANE", "2EG4TE5MK73"), [("99490", "66")]),
    ("C3", ("ROE", "RICHARD", "3EG4TE5MK74"), [("99491", "84.49")]),
]


def _subscriber(hl: int, claim_id: str, patient: tuple[str, str, str], lines: list[tuple[str, str]]) -> list[str]:
    """One 2000B loop as adapters.x837 writes it."""
    last, first, member = patient
    total = sum((Decimal(charge) for _, charge in lines), Decimal(0))
    out = [
        f"HL*{hl}*1*22*0", "SBR*P*18*******MB", f"NM1*IL*1*{last}*{first}****MI*{member}", "N3*1 ELM ST",
        "N4*PEORIA*IL*61602", "DMG*D8*19480517*F", "NM1*PR*2*MEDICARE PART B*****PI*MACJ6",
        f"CLM*{claim_id}*{total}***11:B:1*Y*A*Y*Y", "HI*ABK:E119*ABF:I509", "NM1*82*1*OSLER*WILLA****XX*1234567893",
    ]  # fmt: skip
    for n, (code, charge) in enumerate(lines, start=1):
        out += [f"LX*{n}", f"SV1*HC:{code}*{charge}*UN*1***1:2", "DTP*472*D8*20260331"]
    return out


def text_837() -> str:
    body = [
        "ST*837*0001*005010X222A1", "BHT*0019*00*B000000007*20260402*0900*CH",
        "NM1*41*2*TEST FAMILY MEDICINE*****46*SUBM01", "PER*IC*BILLING OFFICE*TE*2175550100",
        "NM1*40*2*RECV01*****46*RECV01", "HL*1**20*1", "NM1*85*2*TEST FAMILY MEDICINE*****XX*1326000019",
        "N3*100 TEST STREET", "N4*SPRINGFIELD*IL*627010001", "REF*EI*123456789",
    ]  # fmt: skip
    for hl, (claim_id, patient, lines) in enumerate(CLAIMS, start=2):
        body += _subscriber(hl, claim_id, patient, lines)
    segments = [
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{'SUBM01':<15}*ZZ*{'RECV01':<15}*260402*0900*^*00501*000000007*0*T*:",
        "GS*HC*SUBM01*RECV01*20260402*0900*7*X*005010X222A1", *body, f"SE*{len(body) + 1}*0001", "GE*1*7",
        "IEA*1*000000007",
    ]  # fmt: skip
    return "~\n".join(segments) + "~\n"


def segments(text: str) -> list[list[str]]:
    return [s.split("*") for s in text.split("~\n") if s]


def first(text: str, seg_id: str) -> list[str]:
    return next(s for s in segments(text) if s[0] == seg_id)


def test_the_fixture_is_a_valid_837_and_its_claims_are_read() -> None:
    assert x12.validate(text_837()) == []
    claims = claims_in(text_837())
    assert [(c.claim_id, c.charge, c.place, c.frequency) for c in claims] == [
        ("C1", Decimal(116), "11", "1"), ("C2", Decimal(66), "11", "1"), ("C3", Decimal("84.49"), "11", "1"),
    ]  # fmt: skip
    assert [(x.code, x.charge, x.units, x.date) for x in claims[0].lines] == [
        ("99490", Decimal(66), "1", "20260331"), ("99439", Decimal(50), "1", "20260331"),
    ]  # fmt: skip
    assert (claims[1].last_name, claims[1].first_name, claims[1].member_id) == ("DOE", "JANE", "2EG4TE5MK73")
    assert {c.billing_npi for c in claims} == {"1326000019"}


@pytest.mark.parametrize("accepted", [True, False])
def test_a_999_answers_the_group_and_passes_pyx12(accepted: bool) -> None:
    ack = ack_999(text_837(), accepted=accepted, control=41, now=NOW)
    assert x12.validate(ack) == []
    isa = first(ack, "ISA")
    assert (isa[6].strip(), isa[8].strip(), isa[13], isa[15]) == ("RECV01", "SUBM01", "000000041", "T")
    assert first(ack, "AK1") == ["AK1", "HC", "7", "005010X222A1"]
    assert first(ack, "AK2") == ["AK2", "837", "0001", "005010X222A1"]
    assert first(ack, "AK9") == (["AK9", "A", "1", "1", "1"] if accepted else ["AK9", "R", "1", "1", "0"])
    assert first(ack, "IK5")[1] == ("A" if accepted else "R")


def test_a_277ca_gives_each_claim_its_status_and_passes_pyx12() -> None:
    ack = ack_277ca(text_837(), rejected={"C3": "21"}, now=NOW)
    assert x12.validate(ack) == []
    assert first(ack, "GS")[8] == "005010X214"
    statuses, claim_id = {}, None
    for s in segments(ack):
        if s[0] == "TRN" and s[1] == "2" and s[2].startswith("C"):
            claim_id = s[2]
        elif s[0] == "STC" and claim_id is not None:
            statuses[claim_id] = (s[1], s[4])
    assert statuses == {"C1": ("A1:20", "116"), "C2": ("A1:20", "66"), "C3": ("A7:21", "84.49")}
    assert x12.validate(ack_277ca(text_837())) == []  # all accepted, at the time of day


@dataclass
class Paid:
    clp: list[str]
    lines: list[tuple[list[str], list[Decimal]]] = field(default_factory=list)  # SVC, its CAS amounts


def payments(remit: str) -> list[Paid]:
    out: list[Paid] = []
    for s in segments(remit):
        if s[0] == "CLP":
            out.append(Paid(s))
        elif s[0] == "SVC":
            out[-1].lines.append((s, []))
        elif s[0] == "CAS":
            out[-1].lines[-1][1].extend(Decimal(a) for a in s[3::3] if a)  # reason, amount, quantity triples
    return out


def assert_balanced(remit: str) -> None:
    claims = payments(remit)
    assert Decimal(first(remit, "BPR")[2]) == sum((Decimal(c.clp[4]) for c in claims), Decimal(0))
    for c in claims:
        assert Decimal(c.clp[3]) == sum((Decimal(svc[2]) for svc, _ in c.lines), Decimal(0))
        assert Decimal(c.clp[4]) == sum((Decimal(svc[3]) for svc, _ in c.lines), Decimal(0))
        for svc, adjustments in c.lines:
            assert Decimal(svc[2]) - Decimal(svc[3]) == sum(adjustments, Decimal(0)), svc


@pytest.mark.parametrize("plan", PLANS)
def test_every_plan_makes_an_835_that_passes_pyx12_and_balances(plan: str) -> None:
    remit = remit_835(text_837(), dict.fromkeys(("C1", "C2", "C3"), plan), now=NOW)
    assert x12.validate(remit) == []
    assert_balanced(remit)
    assert first(remit, "ISA")[15] == "T"


def test_a_paid_line_is_80_percent_less_sequestration_and_the_patient_owes_20() -> None:
    remit = remit_835(text_837(), now=NOW)
    c1 = payments(remit)[0]
    assert c1.clp[1:10] == ["C1", "1", "116", "90.94", "23.2", "MB", "PCNC1", "11", "1"]
    assert c1.lines[0][0][1:4] == ["HC:99490", "66", "51.74"]
    assert "CAS*CO*253*1.06~\nCAS*PR*2*13.2~\nAMT*B6*66~" in remit
    assert first(remit, "BPR")[1:5] == ["I", "208.92", "C", "ACH"]  # 90.94 + 51.74 + 66.24
    assert first(remit, "TRN") == ["TRN", "1", "EFT0001", "1999999999"]


def test_partial_and_denials() -> None:
    remit = remit_835(text_837(), {"C1": "partial", "C2": "denied-97", "C3": "denied-B20"}, now=NOW)
    assert x12.validate(remit) == []
    assert_balanced(remit)
    c1, c2, c3 = payments(remit)
    assert (c1.clp[2], c1.clp[4], c2.clp[2], c2.clp[4], c3.clp[2]) == ("1", "51.74", "4", "0", "4")
    assert "SVC*HC:99439*50*0**1~\nDTM*472*20260331~\nCAS*CO*97*50~\nLQ*HE*M15~" in remit
    assert "CAS*CO*B20*84.49~" in remit


def test_nothing_paid_is_a_notice_without_payment() -> None:
    remit = remit_835(text_837(), dict.fromkeys(("C1", "C2", "C3"), "denied-97"), now=NOW)
    assert first(remit, "BPR")[1:5] == ["H", "0", "C", "NON"]
    assert x12.validate(remit) == []


def test_a_reversal_negates_the_payment_before_paying_again_under_the_same_number() -> None:
    remit = remit_835(text_837(), {"C2": "reversed-repaid"}, now=NOW)
    reversal, repaid = (c for c in payments(remit) if c.clp[1] == "C2")
    assert reversal.clp[1:8] == ["C2", "22", "-66", "-51.74", "-13.2", "MB", "PCNC2"]
    assert repaid.clp[1:8] == ["C2", "1", "66", "51.74", "13.2", "MB", "PCNC2"]
    assert reversal.lines[0][1] == [Decimal("-1.06"), Decimal("-13.2")]


def test_underpaid_is_ten_percent_less_as_a_fee_schedule_cut() -> None:
    remit = remit_835(text_837(), {"C3": "underpaid"}, now=NOW)
    c3 = payments(remit)[2]
    assert c3.lines[0][0][1:4] == ["HC:99491", "84.49", "59.62"]
    assert "CAS*CO*253*1.35**45*6.62~\nCAS*PR*2*16.9~\nAMT*B6*77.87~" in remit


def test_a_plan_or_rejection_for_a_claim_not_in_the_837_is_an_error() -> None:
    with pytest.raises(ValueError, match="C9"):
        remit_835(text_837(), {"C9": "paid"})
    with pytest.raises(ValueError, match="no plan"):
        remit_835(text_837(), {"C1": "lost"})
    with pytest.raises(ValueError, match="C9"):
        ack_277ca(text_837(), rejected={"C9": "21"})
