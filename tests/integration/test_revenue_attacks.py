"""What an attack run found in the revenue cycle, each kept closed: answers about old
batches, claim ids that differ in case, payments lost with a file kept as received, wrong
signs and amounts, claim-level denials, rejected voids, odd separators, resends of changed
batches, accented names, two practices, control numbers, and a void waiting on a rejection."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from adapters import exporting
from adapters.receiving import Received, receive
from adapters.x12_fake import ack_277ca, ack_999
from adapters.x12_fake_835 import remit_835
from adapters.x12_in import segments
from domain import facts as f
from domain.catalog import DEFAULT_FEES
from domain.ledger import Ledger
from domain.reasons import Reason, Refused
from tests.conftest import Clock, memory
from tests.factories import EST, NPI, OTHER_NPI, claim, demographics, enrolled, minutes, practice

AT = datetime(2026, 4, 10, 9, 0, tzinfo=EST)  # when the answers are dated: before the ledger's clock


def ready(ledger: Ledger, ids: dict[str, str], **people: f.Fact) -> None:
    ledger.record(practice())
    for pid, claim_id in ids.items():
        for fact in [*enrolled(pid), people.get(pid) or demographics(pid), *minutes(25, pid, staff=f"RN-{pid}"),
                     claim(claim_id, pid)]:  # fmt: skip
            ledger.record(fact)


def export(ledger: Ledger, **kw: object) -> str:
    done = exporting.export(ledger, ["P1", "P2", "P3"], "2026-03", DEFAULT_FEES, now=AT, production=True,
                            **kw)  # type: ignore[arg-type]  # fmt: skip
    return "" if done is None else done.text


def status(ledger: Ledger, pid: str, claim_id: str) -> str:
    view = ledger.month_view(pid, "2026-03")
    assert view is not None and view.current is not None
    return view.current.claims[claim_id].status


def clms(text: str) -> list[tuple[str, str]]:
    return [(s.get(1), s.get(5)) for s in segments(text) if s.id == "CLM"]


def resealed(body: list[str]) -> str:
    """An edited file's segments as a file again, its SE segment count made right."""
    st = next(i for i, s in enumerate(body) if s.startswith("ST*"))
    se = next(i for i, s in enumerate(body) if s.startswith("SE*"))
    body = [*body[:se], f"SE*{se - st + 1}*{body[se].split('*')[2]}", *body[se + 1 :]]
    return "~\n".join(body)


@pytest.fixture
def ledger() -> Ledger:
    return memory(Clock())


def test_answers_about_an_earlier_batch_change_nothing(ledger: Ledger) -> None:
    """A 999 rejecting a batch after its 277CA accepted the claims, or a re-delivered 277CA of
    an earlier batch, must not send a claim out again."""
    ready(ledger, {"P1": "C1", "P2": "C2"})
    first = export(ledger)
    receive(ledger, ack_277ca(first, now=AT), "a.277")
    late = receive(ledger, ack_999(first, accepted=False, now=AT), "late.999")
    assert late.recorded == 0 and status(ledger, "P1", "C1") == "acknowledged" and export(ledger) == ""
    rejected = receive(ledger, ack_277ca(first, rejected={"C1": "21"}, now=AT, control=900012), "b.277")
    assert rejected.recorded == 1 and status(ledger, "P1", "C1") == "rejected"
    second = export(ledger)
    assert clms(second) == [("C1", "11:B:1")]
    receive(ledger, ack_277ca(second, now=AT, control=900013), "c.277")
    stale = receive(ledger, ack_277ca(first, rejected={"C1": "21"}, now=AT, control=900014), "d.277")
    assert stale.recorded == 0 and status(ledger, "P1", "C1") == "acknowledged" and export(ledger) == ""


def test_claim_ids_differing_in_case_stay_apart(ledger: Ledger) -> None:
    ready(ledger, {"P1": "c-dup", "P2": "C-DUP"})
    text = export(ledger)
    assert sorted(clms(text)) == [("C-DUP", "11:B:1"), ("c-dup", "11:B:1")]
    receive(ledger, remit_835(text, {"c-dup": "denied-97"}, now=AT), "a.835")
    assert (status(ledger, "P1", "c-dup"), status(ledger, "P2", "C-DUP")) == ("denied", "paid")


def test_an_835_with_a_refused_payment_is_not_kept_and_can_be_sent_again(ledger: Ledger) -> None:
    """The refused answer is named; the file is answered again when sent again; nothing paid is lost."""
    ready(ledger, {"P1": "C1", "P2": "C2"})
    text = export(ledger)
    ledger.record(f.ClaimVoided(claim_id="C2", reason="keyed twice", by="B"))  # with the payer: a request
    remit = remit_835(text, {"C2": "reversed-repaid"}, now=AT)  # a reversal of a payment the ledger never had
    got = receive(ledger, remit, "a.835")
    assert got.refused and "C2" in got.refused[0] and status(ledger, "P1", "C1") == "paid"
    again = receive(ledger, remit, "a.835")
    assert not again.already and again.unchanged >= 1


def test_a_reversal_before_its_payment_in_the_file_is_applied_first(ledger: Ledger) -> None:
    ready(ledger, {"P1": "C1"})
    text = export(ledger)
    receive(ledger, remit_835(text, now=AT), "a.835")
    swapped = remit_835(text, {"C1": "reversed-repaid"}, now=AT, control=900009, trace="EFT0002")
    body = swapped.split("~\n")
    clp = [i for i, s in enumerate(body) if s.startswith("CLP*")]
    reordered = body[: clp[0]] + body[clp[1] : body.index(next(s for s in body if s.startswith("SE*")))] + body[
        clp[0] : clp[1]] + body[body.index(next(s for s in body if s.startswith("SE*"))):]  # fmt: skip
    got = receive(ledger, "~\n".join(reordered), "b.835")
    assert not got.refused and got.recorded == 2 and status(ledger, "P1", "C1") == "paid"


@pytest.mark.parametrize(("old", "new"), [("CLP*C1*1*66*51.74", "CLP*C1*1*66*-51.74"),
                                          ("CLP*C1*1*66*51.74", "CLP*C1*1*66*60000000")])  # fmt: skip
def test_835_amounts_of_the_wrong_sign_or_size_are_refused(ledger: Ledger, old: str, new: str) -> None:
    ready(ledger, {"P1": "C1"})
    remit = remit_835(export(ledger), now=AT)
    assert old in remit
    got = receive(ledger, remit.replace(old, new), "x.835")
    assert got.refused and status(ledger, "P1", "C1") == "exported"


def test_a_partial_reversal_is_refused(ledger: Ledger) -> None:
    ready(ledger, {"P1": "C1"})
    ledger.record(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("500")))
    part = f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.REVERSED, paid_amount=Decimal("10"))
    refused = ledger.outcome(part)
    assert isinstance(refused, Refused) and refused.codes == [Reason.ADJUDICATION_CONFLICT]
    assert status(ledger, "P1", "C1") == "paid"


def test_a_claim_level_denial_is_denied_and_explained(ledger: Ledger) -> None:
    from projections.denials import denials

    ready(ledger, {"P1": "C1"})
    text = export(ledger)
    remit = remit_835(text, now=AT)
    lines = remit.split("~\n")
    clp = next(i for i, s in enumerate(lines) if s.startswith("CLP*"))
    end = next(i for i, s in enumerate(lines) if s.startswith("SE*"))
    denial = lines[clp].split("*")
    denial[4], denial[5] = "0", "0"
    patient = next(s for s in lines[clp + 1 : end] if s.startswith("NM1*QC"))
    body = [*lines[:clp], "*".join(denial), "CAS*CO*50*66", patient, "MOA***MA130", *lines[end:]]
    body = [s.replace("BPR*I*51.74*C*ACH", "BPR*H*0*C*NON") if s.startswith("BPR") else s for s in body]
    got: Received = receive(ledger, resealed(body), "d.835")
    assert not got.refused, got.refused
    assert status(ledger, "P1", "C1") == "denied"
    (row,) = denials(ledger, ["P1"], "2026-03")
    assert [a.code for a in row.adjustments] == ["50"] and [r.code for r in row.remarks] == ["MA130"]


def test_a_rejected_void_goes_out_again(ledger: Ledger) -> None:
    ready(ledger, {"P1": "C1"})
    receive(ledger, remit_835(export(ledger), now=AT), "a.835")
    ledger.record(f.ClaimVoided(claim_id="C1", reason="wrong NPI", by="B"))
    voids = export(ledger)
    assert clms(voids) == [("C1", "11:B:8")]
    receive(ledger, ack_999(voids, accepted=False, now=AT, control=900020), "v.999")
    assert clms(export(ledger)) == [("C1", "11:B:8")]


def test_a_component_separator_other_than_colon_reads(ledger: Ledger) -> None:
    ready(ledger, {"P1": "C1", "P2": "C2"})
    text = export(ledger)
    isa, rest = ack_277ca(text, rejected={"C2": "21"}, now=AT).split("~\n", 1)
    answer = isa[:-1] + ">~\n" + rest.replace(":", ">")
    assert receive(ledger, answer, "gt.277").recorded == 2 and status(ledger, "P2", "C2") == "rejected"


def test_a_batch_whose_claims_changed_is_not_sent_again(ledger: Ledger) -> None:
    ready(ledger, {"P1": "C1", "P2": "C2"})
    export(ledger)
    assert exporting.batch(ledger, "B000000001").batch_id == "B000000001"
    ledger.record(f.ClaimVoided(claim_id="C1", reason="duplicate", by="B"))
    with pytest.raises(exporting.ExportRefused, match="claim C1"):
        exporting.batch(ledger, "B000000001")


def test_accented_names_are_folded_and_findings_never_show_values(ledger: Ledger) -> None:
    ready(ledger, {"P1": "C1"}, P1=demographics("P1", last_name="Muñoz-Peña", first_name="José",
                                                 address="12 Calle Ñandú"))  # fmt: skip
    text = export(ledger)
    assert "NM1*IL*1*MUNOZ-PENA*JOSE" in text and "N3*12 CALLE NANDU" in text
    from adapters.export_checks import without_values

    finding = 'line 16: Data element "Subscriber Address Line" (N301) contains an invalid character(12 Calle)'
    assert "Calle" not in without_values(finding, text)


def test_two_practices_export_their_own_claims(ledger: Ledger) -> None:
    ready(ledger, {"P1": "C1"})
    ledger.record(practice(practitioners=[f.Practitioner(npi=NPI, last_name="Osler")]))
    ledger.record(practice(practice_id="PR-2", billing_npi="1999999026", practitioners=[
        f.Practitioner(npi=OTHER_NPI, last_name="Jenner")], submitter_id="SUBM02"))  # fmt: skip
    for fact in [*enrolled("P2", npi=OTHER_NPI), demographics("P2"), *minutes(25, "P2", staff="RN-P2"),
                 claim("C2", "P2", billing_provider_npi=OTHER_NPI)]:  # fmt: skip
        ledger.record(fact)
    assert clms(export(ledger, practice_id="PR-1")) == [("C1", "11:B:1")]
    assert clms(export(ledger, practice_id="PR-2")) == [("C2", "11:B:1")]


def test_control_numbers_are_never_reused_and_wrap(ledger: Ledger) -> None:
    ready(ledger, {"P1": "C1"})
    assert "*999999999*0*P*" in export(ledger, control=999_999_999)
    ready(ledger, {"P2": "C2"})
    with pytest.raises(exporting.ExportRefused, match="999999999 was used"):
        export(ledger, control=999_999_999)
    assert "*000000001*0*P*" in export(ledger)  # after the last number, the first free one


def test_a_void_waiting_on_a_claim_the_clearinghouse_rejected_completes(ledger: Ledger) -> None:
    ready(ledger, {"P1": "C1"})
    text = export(ledger)
    ledger.record(f.ClaimVoided(claim_id="C1", reason="wrong patient", by="B"))
    assert status(ledger, "P1", "C1") == "exported"  # with the payer: the void waits
    receive(ledger, ack_277ca(text, rejected={"C1": "21"}, now=AT), "r.277")
    assert status(ledger, "P1", "C1") == "voided"
    ledger.record(claim("C1b", "P1"))  # its codes are free again


def test_a_batch_the_clearinghouse_acknowledged_claim_by_claim_is_not_sent_again(ledger: Ledger) -> None:
    """No 999 came, but the 277CA acknowledged the claims: sent again, they would go twice."""
    ready(ledger, {"P1": "C1"})
    text = export(ledger)
    assert exporting.batch(ledger, "B000000001").batch_id == "B000000001"  # nothing answered yet
    receive(ledger, ack_277ca(text, now=AT), "a.277")
    with pytest.raises(exporting.ExportRefused, match="claim C1: acknowledged since this batch"):
        exporting.batch(ledger, "B000000001")


def test_a_line_the_deductible_took_is_paid_nothing_not_denied() -> None:
    """An 835 line that paid 0 because the allowed amount went to the Part B deductible
    (CO-45 write-off, PR-1 patient share) was allowed: the claim is paid (0), not denied. A
    line adjusted away entirely (CO-50) is denied; one of each is partial."""
    from adapters.receiving import outcome
    from adapters.remits import RemitClaim, RemitLine

    def line(*adjustments: tuple[str, str, str]) -> RemitLine:
        return RemitLine("99490", 1, Decimal("66"), Decimal("0"), [(g, c, Decimal(a)) for g, c, a in adjustments])

    deductible = line(("CO", "45", "5.17"), ("PR", "1", "60.83"))
    not_needed = line(("CO", "50", "66"))

    def answer(*lines: RemitLine) -> str:
        return outcome(RemitClaim("C1", "1", Decimal("66") * len(lines), Decimal("0"), "ICN", lines=list(lines)))

    assert answer(deductible) == "paid"
    assert answer(not_needed) == "denied"
    assert answer(deductible, not_needed) == "partial"
    under_an_abn = line(("CO", "45", "5.17"), ("PR", "50", "60.83"))  # a denial the patient owes
    assert answer(under_an_abn) == "denied"
    assert outcome(RemitClaim("C1", "1", Decimal("66"), Decimal("0"), "ICN", [("PR", "1", Decimal("66"))])) == "paid"


def test_a_monthly_claim_for_the_month_of_death_is_dated_by_the_death(ledger: Ledger) -> None:
    """G-18: a patient who died on 20 March, after March's minutes: the March claim stands,
    and its lines are dated 20 March, not the month's last day (a MAC denies a service dated
    after the date of death)."""
    ready(ledger, {"P1": "C1"})
    ledger.record(f.PatientDied(patient_id="P1", died_on=datetime(2026, 3, 20).date()))
    text = export(ledger)
    assert [s.get(3) for s in segments(text) if s.id == "DTP" and s.get(1) == "472"] == ["20260320"]


@pytest.mark.parametrize("box", ["PO BOX 555", "P.O. Box 12", "Post Office Box 9", "Lockbox 77"])
def test_a_post_office_box_is_no_billing_address(box: str) -> None:
    """005010X222A1, 2010AA N3: the billing provider's address is where it practises; a box
    belongs in the pay-to loop. The export names the field instead of sending a file the
    front end rejects; a street with "Box" in its name is not a box."""
    ledger = memory(Clock())
    ledger.record(practice(address=box))
    for fact in [*enrolled("P1"), demographics("P1"), *minutes(25, "P1"), claim("C1", "P1")]:
        ledger.record(fact)
    with pytest.raises(exporting.ExportRefused, match="not a post office box"):
        export(ledger)
    street = memory(Clock())
    street.record(practice(address="12 Boxwood Lane"))
    for fact in [*enrolled("P1"), demographics("P1"), *minutes(25, "P1"), claim("C1", "P1")]:
        street.record(fact)
    assert "N3*12 BOXWOOD LANE" in export(street).upper()


def test_a_remark_code_newer_than_pyx12s_list_is_read(ledger: Ledger) -> None:
    """pyx12's remark codes stop at N734; Medicare sends N807 (MIPS adjustments) and others
    added since. A current 835 is read, not refused as failing X12 validation; an unknown
    place of service, a list that does not grow so, still fails it."""
    ready(ledger, {"P1": "C1"})
    lines = remit_835(export(ledger), now=AT).split("~\n")
    patient = next(i for i, s in enumerate(lines) if s.startswith("NM1*QC"))
    body = [*lines[: patient + 1], "MOA***N807", *lines[patient + 1 :]]
    got: Received = receive(ledger, resealed(body), "n807.835")
    assert not got.refused, got.refused
    assert status(ledger, "P1", "C1") == "paid"


def test_a_277ca_quoting_a_clearinghouses_own_batch_number_is_applied(ledger: Ledger) -> None:
    """A clearinghouse that batched the claims again quotes its own batch number in 2200B
    TRN02: that is none of ours, so the answer is the claim's as it stands (a rejection
    must reach the claim, or it is never sent again); one of our earlier batches stays stale."""
    ready(ledger, {"P1": "C1", "P2": "C2"})
    first = export(ledger)
    ours = next(s.get(3) for s in segments(first) if s.id == "BHT")
    theirs = ack_277ca(first, rejected={"C1": "21"}, now=AT).replace(f"TRN*2*{ours}", "TRN*2*CH9988776")
    assert "CH9988776" in theirs
    got = receive(ledger, theirs, "rebatched.277")
    assert got.recorded == 2
    assert (status(ledger, "P1", "C1"), status(ledger, "P2", "C2")) == ("rejected", "acknowledged")
    second = export(ledger)  # C1 again, and acknowledged this time
    receive(ledger, ack_277ca(second, now=AT, control=900020), "b.277")
    assert status(ledger, "P1", "C1") == "acknowledged"
    again = theirs.replace("*000900002*", "*000900031*").replace("*000900002~", "*000900031~")
    late = receive(ledger, again, "redelivered.277")  # the first rejection, delivered again
    assert not late.already and late.recorded == 0
    assert status(ledger, "P1", "C1") == "acknowledged" and export(ledger) == ""


def test_a_999_answering_two_batches_answers_both(ledger: Ledger) -> None:
    """X231A1: one transaction set answers one functional group, and an interchange may hold
    several. Batch 1 accepted and batch 2 rejected in one file: batch 2's claim goes out again."""
    ready(ledger, {"P1": "C1"})
    first = export(ledger)
    for fact in [*enrolled("P2"), demographics("P2"), *minutes(25, "P2", staff="RN-P2"), claim("C2", "P2")]:
        ledger.record(fact)
    second = export(ledger)
    sets = []
    for text, ok in ((first, True), (second, False)):
        lines = ack_999(text, accepted=ok, now=AT).split("~\n")
        sets.append(lines[next(i for i, s in enumerate(lines) if s.startswith("ST*")) :][:-3])  # ST .. SE
    head = ack_999(first, accepted=True, now=AT).split("~\n")[:2]  # ISA, GS
    sets[1][0] = sets[1][0].replace("ST*999*0001", "ST*999*0002")
    sets[1][-1] = sets[1][-1].replace("*0001", "*0002")
    both = "~\n".join([*head, *sets[0], *sets[1], "GE*2*900001", "IEA*1*000900001"]) + "~\n"
    got = receive(ledger, both, "two.999")
    assert [ok for _, ok in got.groups] == [True, False] and got.recorded == 1
    assert status(ledger, "P1", "C1") == "exported" and status(ledger, "P2", "C2") == "rejected"
    assert clms(export(ledger)) == [("C2", "11:B:1")]


def test_each_payment_in_an_835_keeps_its_own_trace() -> None:
    """An interchange holding two 835 transaction sets (two checks or EFTs): each claim's
    answer names its own set's trace, not the first set's."""
    ledger = memory(Clock())
    ready(ledger, {"P1": "C1", "P2": "C2"})
    text = export(ledger)
    sets = []
    for trace, pid in (("EFT0001", "C2"), ("CHK0002", "C1")):
        lines = remit_835(text, now=AT, trace=trace, skip=[pid]).split("~\n")
        sets.append(lines[next(i for i, s in enumerate(lines) if s.startswith("ST*")) :][:-3])
    head = remit_835(text, now=AT).split("~\n")[:2]
    sets[1][0] = sets[1][0].replace("ST*835*0001", "ST*835*0002")
    sets[1][-1] = sets[1][-1].replace("*0001", "*0002")
    both = "~\n".join([*head, *sets[0], *sets[1], "GE*2*900003", f"IEA*1*{head[0].split('*')[13]}"]) + "~\n"
    got = receive(ledger, both, "two.835")
    assert not got.refused and got.recorded == 2, got
    sources = {}
    for pid, cid in (("P1", "C1"), ("P2", "C2")):
        view = ledger.month_view(pid, "2026-03")
        assert view is not None and view.current is not None
        sources[cid] = view.current.claims[cid].adjudications[-1].source
    assert sources == {"C1": "835 EFT0001", "C2": "835 CHK0002"}


def _split(text: str, reversal: bool = False) -> str:
    """The fake's 835 for C1 (99490 and 99439) as Medicare's split answer: one CLP loop per
    line, each with its own payer claim number (or the reversal of each)."""
    lines = text.split("~\n")
    clp = next(i for i, s in enumerate(lines) if s.startswith("CLP*"))
    second = next(i for i, s in enumerate(lines) if s.startswith("SVC*HC:99439"))
    end = next(i for i, s in enumerate(lines) if s.startswith("SE*"))
    heads = ["CLP*C1*1*66*51.74*13.2*MB*PCNC1A*11*1", "CLP*C1*1*50*39.2*10*MB*PCNC1B*11*1"]
    if reversal:
        heads = ["CLP*C1*22*-66*-51.74*-13.2*MB*PCNC1A*11*1", "CLP*C1*22*-50*-39.2*-10*MB*PCNC1B*11*1"]
    part1 = [heads[0], lines[clp + 1], "MOA***MA15", *lines[clp + 2 : second]]
    part2 = [heads[1], lines[clp + 1], "MOA***MA15", *lines[second:end]]
    body = [*lines[:clp], *part1, "LX*2", *part2, *lines[end:]]
    return resealed(body)


def test_a_claim_the_payer_split_is_paid_the_sum_of_its_parts() -> None:
    """MA15: Medicare may split a claim into two CLP loops, each with its own payer claim
    number and lines. Both parts are the one claim's answer: paid 90.94 in all, not 51.74
    with the second part refused as a conflicting answer; voided, the reversals of both
    parts reverse the whole, and the void completes."""
    ledger = memory(Clock())
    ledger.record(practice())
    for fact in [*enrolled("P1"), demographics("P1"), *minutes(45, "P1", staff="RN-P1"),
                 claim("C1", "P1", codes=("99490", "99439"))]:  # fmt: skip
        ledger.record(fact)
    got = receive(ledger, _split(remit_835(export(ledger), now=AT)), "split.835")
    assert not got.refused and got.recorded == 1, got
    view = ledger.month_view("P1", "2026-03")
    assert view is not None and view.current is not None
    paid = view.current.claims["C1"]
    assert paid.status == "paid" and paid.adjudications[-1].paid_amount == Decimal("90.94")
    assert [x.code for x in paid.adjudications[-1].lines or []] == ["99490", "99439"]
    ledger.record(f.ClaimVoided(claim_id="C1", reason="billed in error", by="BILLER-1"))
    reversal = _split(remit_835(export(ledger), now=AT, control=900010, trace="EFT0009"), reversal=True)
    got = receive(ledger, reversal, "reversal.835")
    assert not got.refused, got
    assert status(ledger, "P1", "C1") == "voided"


def test_the_principal_diagnosis_is_the_one_the_claims_program_stands_on() -> None:
    """A BHI claim's principal diagnosis (HI ABK) is the behavioral condition, a CCM claim's
    one that places the patient at significant risk."""
    ledger = memory(Clock())
    ledger.record(practice())
    scale = f.RatingScaleAdministered(patient_id="P2", scale="PHQ-9", score=Decimal("12"),
                                      administered_on=datetime(2026, 3, 4).date(), by="RN-1")  # fmt: skip
    bhi = [*minutes(25, "P2", program=f.Program.BHI, staff="RN-P2"), claim("C2", "P2", codes=("99484",))]
    for fact in [*enrolled("P1"), demographics("P1"), *minutes(25, "P1", staff="RN-P1"), claim("C1", "P1"),
                 *enrolled("P2", f.Program.BHI), demographics("P2"), scale, *bhi]:  # fmt: skip
        ledger.record(fact)
    text = exporting.export(ledger, ["P1", "P2"], "2026-03", DEFAULT_FEES, now=AT, production=True)
    assert text is not None
    principal = {s.get(1): "" for s in segments(text.text) if s.id == "CLM"}
    found = [s for s in segments(text.text) if s.id in ("CLM", "HI")]
    for clm, hi in zip(found[::2], found[1::2], strict=True):
        principal[clm.get(1)] = hi.part(1, 2)
    assert principal["C2"] == "F331" and principal["C1"] in ("E119", "I509")
