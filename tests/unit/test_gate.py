"""The claim gate's leaks, closed (rules.md G-06, G-08, G-13, G-14, G-15, G-16, G-18): whole
claims, whole verdicts, open periods, support withdrawn after a claim, the claim lifecycle and
death. Each test names its rule ids and asserts reason codes, not message text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from adapters import x12
from adapters.audit_html import render
from domain import facts as f
from domain.ledger import Ledger
from domain.policy import Policy
from domain.reasons import Refused
from projections.audit import packet
from tests.conftest import Clock, memory
from tests.factories import EST, NPI, Book, claim, enrolled, minutes, time_entry

P = f.Program


@pytest.fixture
def book(memory_ledger: Ledger) -> Book:
    b = Book(memory_ledger)
    b.add(enrolled("P1"))
    return b


def lines(*items: tuple[str, int]) -> list[f.ClaimLine]:
    return [f.ClaimLine(code, units) for code, units in items]


def refusal(book: Book, fact: f.Fact) -> Refused:
    try:
        book.ledger.record(fact)
    except Refused as e:
        return e
    raise AssertionError(f"{type(fact).__name__} was accepted")


def complex_month(book: Book) -> None:
    """What 99487 needs beside its minutes: moderate MDM and a plan revised in the month."""
    book.add(
        f.MedicalDecisionMaking(
            patient_id="P1", month="2026-03", level=f.MdmLevel.MODERATE, by="DR", decided_on=date(2026, 3, 3)
        ),
        f.CarePlanRevised(patient_id="P1", plan_id="CP-P1-CCM", revised_on=date(2026, 3, 3), by="DR", substantial=True),
    )


# Whole claims (G-06, G-08)


def test_g06_an_add_on_split_over_lines_is_judged_as_one(book: Book) -> None:
    """G-06, G-05: with 45 minutes, [99490, 99439, 99439] is 99439 x2 and refused
    UNDER_THRESHOLD with the units the record supports; at 60 minutes the same lines pass."""
    book.add(minutes(45))
    split = refusal(book, claim("C1", lines=lines(("99490", 1), ("99439", 1), ("99439", 1))))
    assert split.codes == ["UNDER_THRESHOLD"]
    (why,) = split.reasons
    assert "supports 1" in why.message and (why.have, why.need, why.unit) == (45, 60, "minutes")
    book.add(minutes(15, day=9))
    book.add(claim("C1", lines=lines(("99490", 1), ("99439", 1), ("99439", 1))))


def test_g06_twenty_one_unit_99489_lines_are_refused(book: Book) -> None:
    """G-06, P-CCM-6: 90 minutes with 99487 supports one 99489; 99487 plus twenty one-unit
    99489 lines is refused, and nothing reaches the 837P."""
    book.add(minutes(90))
    complex_month(book)
    assert book.billable() == {"99487": 1, "99489": 1}
    attempt = claim("C1", lines=[f.ClaimLine("99487"), *(f.ClaimLine("99489") for _ in range(20))])
    assert refusal(book, attempt).codes == ["UNDER_THRESHOLD"]
    assert x12.claims_for(book.ledger, ["P1"], "2026-03") == []
    book.add(claim("C2", lines=lines(("99487", 1), ("99489", 1))))


def test_g08_a_split_spread_over_two_claims_is_refused(book: Book) -> None:
    """G-08, G-06: 99439 sent in a second claim after [99490, 99439] is DUPLICATE_CLAIM and
    UNDER_THRESHOLD (two units over both claims; the record supports one)."""
    book.add(minutes(45))
    book.add(claim("C1", codes=("99490", "99439")))
    second = refusal(book, claim("C2", codes=("99439",)))
    assert second.codes == ["UNDER_THRESHOLD", "DUPLICATE_CLAIM"]
    assert "earlier claims" in second.reasons[0].message and "supports 1" in second.reasons[0].message


def test_g08_an_uncapped_add_on_spread_over_claims(book: Book) -> None:
    """G-08, G-06: 99489 has no cap, yet 120 minutes support two units: one now and two more
    in a second claim is DUPLICATE_CLAIM and UNDER_THRESHOLD."""
    book.add(minutes(120))
    complex_month(book)
    book.add(claim("C1", lines=lines(("99487", 1), ("99489", 1))))
    assert refusal(book, claim("C2", lines=lines(("99489", 2)))).codes == ["UNDER_THRESHOLD", "DUPLICATE_CLAIM"]


# Whole verdicts (G-14)


def test_g14_prerequisites_and_thresholds_are_judged_each_on_its_own(memory_ledger: Ledger) -> None:
    """G-14, G-09, G-05: no consent and too few minutes gives CONSENT_MISSING and
    UNDER_THRESHOLD; a duplicate sent after consent was revoked carries DUPLICATE_CLAIM too."""
    book = Book(memory_ledger)
    book.add([x for x in enrolled("P1") if not isinstance(x, f.ConsentRecorded)], minutes(15))
    assert book.refused(claim("C1")) == ["CONSENT_MISSING", "UNDER_THRESHOLD"]
    book.add(enrolled("P1")[5], minutes(10, day=9))
    book.add(claim("C1"))
    book.add(f.ConsentRevoked(patient_id="P1", program=P.CCM, revoked_on=date(2026, 2, 2)))
    assert book.refused(claim("C2")) == ["CONSENT_REVOKED", "DUPLICATE_CLAIM"]


def test_g14_an_add_on_past_its_cap_on_a_later_claim_is_a_duplicate_and_over_its_cap(book: Book) -> None:
    """G-14, G-06, G-08: with 80 minutes 99439 x2 is claimed; one more 99439 on a second
    claim is both DUPLICATE_CLAIM and ADDON_CAP_EXCEEDED (a query by either finds it); a
    base code sent again is DUPLICATE_CLAIM alone."""
    book.add(minutes(80))
    book.add(claim("C1", lines=lines(("99490", 1), ("99439", 2))))
    assert refusal(book, claim("C2", lines=lines(("99439", 1)))).codes == ["DUPLICATE_CLAIM", "ADDON_CAP_EXCEEDED"]
    assert refusal(book, claim("C3", lines=lines(("99490", 1)))).codes == ["DUPLICATE_CLAIM"]


def test_g14_a_tcm_or_setup_claim_sent_again_is_a_duplicate_too(memory_ledger: Ledger) -> None:
    """G-14, G-08, P-TCM-1, P-RPM-2: the same TCM code for the same discharge, or the same
    setup for the same episode, is DUPLICATE_CLAIM as well as TCM_ALREADY_BILLED or
    SETUP_ALREADY_BILLED; a TCM for another discharge within 30 days is only the latter."""
    from tests.unit.test_rules_programs import on, tcm_facts

    book = Book(memory_ledger)
    book.add(enrolled("P1")[:1], tcm_facts(date(2026, 3, 2), 5, did="A"), tcm_facts(date(2026, 3, 20), 5, did="B"))
    book.add(on(date(2026, 3, 7), "99496"))
    assert book.refused(on(date(2026, 3, 7), "99496", cid="C2")) == ["DUPLICATE_CLAIM", "TCM_ALREADY_BILLED"]
    assert book.refused(on(date(2026, 3, 25), "99496", cid="C3")) == ["TCM_ALREADY_BILLED"]


# Open periods and the future (G-15, G-13)


def test_g15_a_claim_for_the_month_in_progress_is_refused(clock: Clock) -> None:
    """G-15: in March, a March 99490 is PERIOD_OPEN; on 31 March it is accepted; a TCM claim
    (its date of service is the visit) need not wait; a switch admits monthly codes early."""
    clock.now = datetime(2026, 3, 20, 12, tzinfo=EST)
    book = Book(memory(clock))
    book.add(enrolled("P1"), minutes(25))
    assert book.refused(claim("C1")) == ["PERIOD_OPEN"]
    clock.now = datetime(2026, 3, 31, 9, tzinfo=EST)
    book.add(claim("C1"))
    early = Book(memory(clock, policy=Policy(bill_when_threshold_met=True)))
    clock.now = datetime(2026, 3, 20, 12, tzinfo=EST)
    early.add(enrolled("P1"), minutes(25))
    early.add(claim("C1"))


def test_g15_a_device_period_waits_for_its_30th_day(memory_ledger: Ledger, clock: Clock) -> None:
    """G-15, P-RPM-1: a device code for a period not yet ended is PERIOD_OPEN; setup (a day's
    code) is not."""
    from tests.unit.test_rules_programs import device, on

    clock.now = datetime(2026, 3, 25, 12, tzinfo=EST)
    book = Book(memory_ledger)
    book.add(enrolled("P1", P.RPM))
    device(book, days=20)
    assert book.refused(on(date(2026, 3, 24), "99454")) == ["PERIOD_OPEN"]
    book.add(on(date(2026, 3, 1), "99453", cid="C2"))
    clock.now = datetime(2026, 3, 30, 12, tzinfo=EST)
    book.add(on(date(2026, 3, 30), "99454"))


def test_g13_a_time_entry_that_ends_after_it_is_recorded(book: Book, clock: Clock) -> None:
    """G-13: an entry started a minute ago and running 600 minutes is FUTURE_DATED."""
    started = clock.now - timedelta(minutes=1)
    assert book.refused(time_entry("E-LONG", at=started, minutes=600)) == ["FUTURE_DATED"]
    book.add(time_entry("E-DONE", at=clock.now - timedelta(minutes=30), minutes=20))


# Support withdrawn (G-16)


def test_g16_a_paid_claim_left_unsupported_is_an_overpayment(book: Book, clock: Clock) -> None:
    """G-16: when the claim was paid, the worklist and the audit packet show the amount and
    the date 60 days after the ledger identified it."""
    book.add(minutes(45, chunk=15))
    clock.now += timedelta(hours=1)
    book.add(claim("C1", codes=("99490", "99439")))
    book.add(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("92.80")))
    clock.now = datetime(2026, 5, 1, 12, tzinfo=UTC)
    book.add(f.TimeEntryVoided(entry_id="T-P1-CCM-2026-03-RN-1-2-1", patient_id="P1", reason="never happened", by="RN"))
    (held,) = book.row().claimed
    assert (held.status, held.overpayment, held.repay_by) == ("unsupported", "92.80", "2026-06-30")
    (evidence,) = packet(book.ledger, "P1", "2026-03", "2026-03").sections[0].claims
    assert evidence.unsupported is not None and evidence.unsupported["repay_by"] == "2026-06-30"
    assert evidence.unsupported["potential_overpayment"] == "92.80"
    page = " ".join(render(packet(book.ledger, "P1", "2026-03", "2026-03")).split())  # what an auditor reads
    assert "Support withdrawn" in page and "TimeEntryVoided T-P1-CCM-2026-03-RN-1-2-1" in page
    assert "Potential overpayment 92.80, to be reported and returned by 2026-06-30" in page
    assert "Recorded verdict: 2026 rules; units allowed 99490 x1, 99439 x1" in page and "log position" in page


def test_g16_support_that_still_holds_leaves_the_claim_alone(book: Book) -> None:
    """G-16: a void that leaves enough minutes (25 - 5 = 20) does not touch the claim."""
    book.add(minutes(20, chunk=20), time_entry("E-5", at=datetime(2026, 3, 9, 9, tzinfo=EST), minutes=5))
    book.add(claim("C1"))
    book.add(f.TimeEntryVoided(entry_id="E-5", patient_id="P1", reason="duplicate", by="RN"))
    assert [c.status for c in book.row().claimed] == ["accepted"]


def test_g16_a_condition_resolved_back_in_time_withdraws_support(book: Book) -> None:
    """G-16, P-CCM-1: conditions resolved before the claimed month, recorded after the claim:
    while two qualify the claim stands; with one left it is CONDITIONS_INSUFFICIENT."""
    book.add(minutes(25), claim("C1"))
    for code in ("I50.9", "F33.1"):
        book.add(f.ConditionResolved(patient_id="P1", condition_id=code, resolved_on=date(2026, 2, 10)))
    assert book.row().claimed[0].status == "accepted"
    book.add(f.ConditionResolved(patient_id="P1", condition_id="G89.4", resolved_on=date(2026, 2, 10)))
    (held,) = book.row().claimed
    assert held.status == "unsupported" and held.missing and held.missing[0].startswith("CONDITIONS_INSUFFICIENT")


# Death (G-18)


def test_g18_no_service_after_death_and_no_month_after_it(book: Book, clock: Clock) -> None:
    """G-18: minutes after the death do not count; a month that begins after it is
    PATIENT_DECEASED; a death recorded after a claim that it undoes makes it unsupported."""
    book.add(minutes(15, day=2), minutes(10, day=20, staff="RN-2"))
    book.add(claim("C1"))
    book.add(f.PatientDied(patient_id="P1", died_on=date(2026, 3, 10)))
    assert book.row().claimed[0].status == "unsupported"
    assert book.blocked()["99490"] == "UNDER_THRESHOLD"
    clock.now = datetime(2026, 5, 10, 12, tzinfo=UTC)
    book.add(minutes(25, month="2026-04", day=2, staff="RN-3"))
    assert "PATIENT_DECEASED" in book.refused(claim("C2", service_month="2026-04"))


def test_g18_ptcm1_no_tcm_when_the_patient_died_in_the_period(memory_ledger: Ledger) -> None:
    """G-18, P-TCM-1: a death within the discharge day and the next 29 is PATIENT_DECEASED."""
    book = Book(memory_ledger)
    book.add(enrolled("P1"))
    book.add(
        f.Discharged(patient_id="P1", discharge_id="D1", discharged_on=date(2026, 3, 2), from_setting="inpatient",
                     to_setting="home"),
        f.TransitionContactMade(patient_id="P1", discharge_id="D1", contacted_on=date(2026, 3, 3),
                                method=f.ContactMethod.PHONE, by="RN"),
        f.FaceToFaceVisitRecorded(patient_id="P1", visit_id="FV1", visit_on=date(2026, 3, 9), provider_npi=NPI,
                                  in_person=True, discharge_id="D1"),
        f.MedicalDecisionMaking(patient_id="P1", discharge_id="D1", level=f.MdmLevel.HIGH, by="DR",
                                decided_on=date(2026, 3, 9)),
        f.PatientDied(patient_id="P1", died_on=date(2026, 3, 31)),
    )  # fmt: skip
    tcm = claim("C1", codes=("99496",), service_month=None, service_on=date(2026, 3, 9))
    assert book.refused(tcm) == ["PATIENT_DECEASED"]


# The claim lifecycle


def test_a_paid_claims_void_waits_for_the_payer(book: Book) -> None:
    """G-08: a void of a paid claim is recorded as a request; its codes stay claimed
    (DUPLICATE_CLAIM) until the payer's reversal frees them."""
    book.add(minutes(25), claim("C1"))
    book.add(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("52.80")))
    book.add(f.ClaimVoided(claim_id="C1", reason="wrong NPI", by="B"))
    assert book.refused(claim("C2")) == ["DUPLICATE_CLAIM"]
    assert book.refused(f.ClaimVoided(claim_id="C1", reason="again", by="B")) == ["ALREADY_VOIDED"]
    book.add(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.REVERSED, paid_amount=Decimal("0")))
    assert [c.status for c in book.row().claimed] == ["voided"]
    book.add(claim("C2"))


def test_payer_answers_that_cannot_stand_are_refused(book: Book) -> None:
    """An adjudication of an unknown or voided claim is refused; a second answer that
    contradicts a payment is ADJUDICATION_CONFLICT; a denial may be reprocessed as paid."""
    book.add(minutes(25), claim("C1"))
    paid = f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("52.80"))
    assert book.refused(msgspec.structs.replace(paid, claim_id="NOPE")) == ["UNKNOWN_CLAIM"]
    book.add(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.DENIED, reason_codes=["CO-16"]))
    book.add(paid)
    assert book.refused(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.DENIED)) == ["ADJUDICATION_CONFLICT"]
    assert book.refused(msgspec.structs.replace(paid, paid_amount=Decimal("60"))) == ["ADJUDICATION_CONFLICT"]
    book.add(msgspec.structs.replace(paid, payer_claim_number="PCN-1"))  # the same answer again, with its number
    book.add(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.REVERSED))
    again = f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.REVERSED, paid_on=date(2026, 4, 9))
    assert book.refused(again) == ["ADJUDICATION_CONFLICT"]  # nothing is paid to reverse


def test_a_reversal_takes_the_payment_back_and_keeps_the_claim(book: Book) -> None:
    """An 835 reversal (CLP02 22) undoes the payment, but the claim still stands: its codes
    stay claimed (DUPLICATE_CLAIM) and the corrected payment that follows is recorded. Only a
    void, by the biller, frees the codes."""
    book.add(minutes(25), claim("C1"))
    paid = f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("52.80"))
    book.add(paid, f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.REVERSED))
    assert [c.status for c in book.row().claimed] == ["reversed"]
    assert book.refused(claim("C2")) == ["DUPLICATE_CLAIM"]
    book.add(msgspec.structs.replace(paid, paid_amount=Decimal("51.74"), paid_on=date(2026, 4, 10)))
    assert [c.status for c in book.row().claimed] == ["paid"]
    book.add(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.REVERSED, paid_on=date(2026, 4, 12)))
    book.add(f.ClaimVoided(claim_id="C1", reason="billed in error", by="B"))  # not paid now: void at once
    assert [c.status for c in book.row().claimed] == ["voided"]
    book.add(claim("C2"))


@pytest.mark.parametrize("amount", ["-5", "NaN", "Infinity", "1e12"])
def test_unbounded_amounts_are_invalid(amount: str) -> None:
    """Negative, NaN, infinite and absurd amounts never reach the ledger (an invalid line)."""
    from adapters.ingest import Invalid, decode_line

    line = f'{{"type":"ClaimAdjudicated","claim_id":"C1","outcome":"paid","paid_amount":"{amount}"}}'
    with pytest.raises(Invalid, match=r"\$\.paid_amount: expected a finite amount from 0"):
        decode_line(line, 3)


def test_prpm1_manual_readings_are_not_device_days(memory_ledger: Ledger, tmp_path: Path) -> None:
    """P-RPM-1: data keyed by hand (`manual`) does not count as a device day."""
    from tests.unit.test_rules_programs import device

    book = Book(memory_ledger)
    book.add(enrolled("P1", P.RPM))
    device(book, days=15)
    book.add(f.DataTransmitted(patient_id="P1", device_id="D1", transmitted_on=date(2026, 3, 20), manual=True))
    assert book.billable() == {"99445": 1, "99453": 1}


def test_prpm1_a_payer_that_counts_manual_readings_is_a_policy(clock: Clock) -> None:
    """The same record under `manual_readings_count`: the keyed-in day makes 16 days."""
    from tests.unit.test_rules_programs import device

    book = Book(memory(clock, policy=Policy(manual_readings_count=True)))
    book.add(enrolled("P1", P.RPM))
    device(book, days=15)
    book.add(f.DataTransmitted(patient_id="P1", device_id="D1", transmitted_on=date(2026, 3, 20), manual=True))
    assert book.billable() == {"99454": 1, "99453": 1}


def test_g16_time_recorded_after_a_claim_never_props_it_up(book: Book, clock: Clock) -> None:
    """G-16, G-17: a claim stands on the time entries it was accepted on. After a void leaves
    it short, time logged later does not restore it (the overpayment stays identified); and
    a void that leaves it standing only on time logged after it makes it unsupported."""
    book.add(minutes(22, chunk=11))  # two entries of 11 minutes
    clock.now += timedelta(hours=1)
    book.add(claim("C1"), f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("52.80")))
    clock.now += timedelta(hours=1)
    book.add(f.TimeEntryVoided(entry_id="T-P1-CCM-2026-03-RN-1-2-1", patient_id="P1", reason="never happened", by="RN"))
    assert book.row().claimed[0].status == "unsupported"
    book.add(time_entry("E-LATER", at=datetime(2026, 3, 30, 9, tzinfo=EST), minutes=10))  # 21 minutes on record now
    (held,) = book.row().claimed
    assert (held.status, held.overpayment) == ("unsupported", "52.80")
    book.add(enrolled("P2"), minutes(22, "P2", chunk=11, staff="RN-2"), claim("C2", pid="P2"))
    book.add(time_entry("E-P2-LATER", "P2", at=datetime(2026, 3, 30, 14, tzinfo=EST), minutes=15))
    book.add(f.TimeEntryVoided(entry_id="T-P2-CCM-2026-03-RN-2-2-1", patient_id="P2", reason="wrong patient", by="RN"))
    assert book.row("P2").claimed[0].status == "unsupported"  # 11 of what it was accepted on; 26 on record


def test_g16_more_support_never_makes_a_claim_unsupported(memory_ledger: Ledger) -> None:
    """G-16: 99470 claimed at 15 minutes; a late entry brings 25. The claim is under-coded,
    not unsupported: it stays accepted and in the 837P."""
    from tests.unit.test_rules_programs import device

    book = Book(memory_ledger)
    book.add(enrolled("P1", P.RPM))
    device(book, days=16)
    book.add(minutes(15, program=P.RPM, interactive=True), claim("C1", codes=("99470",)))
    book.add(minutes(10, program=P.RPM, day=20, staff="RN-4"))
    assert [c.status for c in book.row().claimed] == ["accepted"]
    assert [c.claim.submitted.claim_id for c in x12.claims_for(book.ledger, ["P1"], "2026-03")] == ["C1"]


def test_g16_g18_a_death_before_a_dated_claim_withdraws_it(memory_ledger: Ledger) -> None:
    """G-16, G-18: a 99454 dated 30 March, then a death recorded for 25 March: the claim the
    gate would now refuse PATIENT_DECEASED becomes unsupported."""
    from tests.unit.test_rules_programs import device, on

    book = Book(memory_ledger)
    book.add(enrolled("P1", P.RPM))
    device(book, days=20)
    book.add(on(date(2026, 3, 30), "99454"))
    book.add(f.PatientDied(patient_id="P1", died_on=date(2026, 3, 25)))
    (held,) = book.row().claimed
    assert held.status == "unsupported" and held.missing and any("PATIENT_DECEASED" in m for m in held.missing)


def test_g16_a_payment_after_the_withdrawal_starts_the_60_days(book: Book, clock: Clock) -> None:
    """G-16: support withdrawn on 15 April, the payment recorded on 1 August: the overpayment
    is identified when the payment arrives, so it is due by 30 September, not in June."""
    book.add(minutes(45, chunk=15))
    clock.now += timedelta(hours=1)
    book.add(claim("C1", codes=("99490", "99439")))
    book.add(f.TimeEntryVoided(entry_id="T-P1-CCM-2026-03-RN-1-2-1", patient_id="P1", reason="never happened", by="RN"))
    clock.now = datetime(2026, 8, 1, 12, tzinfo=UTC)
    book.add(f.ClaimAdjudicated(claim_id="C1", outcome=f.ClaimOutcome.PAID, paid_amount=Decimal("92.80")))
    (held,) = book.row().claimed
    assert (held.status, held.repay_by) == ("unsupported", "2026-09-30")
