"""`carelane receive`: X12 files from a clearinghouse or payer recorded against the claims
they answer. A 999 answers an export batch; a 277CA acknowledges or rejects each claim; an
835 becomes one ClaimAdjudicated fact per claim payment, recorded through the same gate as
any fact. A file is recorded once (by its sha256); a claim id the ledger does not know is
reported, never matched by guesswork."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

from adapters import remits
from adapters.feeds.items import fact_item
from adapters.x12_in import Interchange, Unreadable, read
from domain import facts
from domain.decisions.clearing import acknowledge, answer_file, keep_receipt
from domain.exports import Receipt, receipt_key
from domain.ledger import Ledger, Recorded
from domain.reasons import Reason, Refused

# CLP02: processed as primary (1), and forwarded to another payer (19). Secondary and tertiary
# answers (2, 3, 20, 21) are a Medigap or other payer's: not Medicare's answer to the claim.
PAYMENT = frozenset({"1", "19"})
SOURCE_LIMIT = 200


@dataclass
class Received:
    name: str
    kind: str = ""
    control: str = ""
    already: bool = False  # the same file was received before: nothing recorded
    recorded: int = 0  # claim answers that changed a claim
    unchanged: int = 0  # answers on file already
    unknown: list[str] = field(default_factory=list)  # claim ids (or a batch) the ledger does not know
    refused: list[str] = field(default_factory=list)  # answers the ledger would not record, with why
    answered: list[str] = field(default_factory=list)  # the claim ids the file answered
    batch: str | None = None  # the batch a 999 answered (its first, when it answers several)
    accepted: bool | None = None  # the 999's verdict (on that batch)
    groups: list[tuple[str | None, bool]] = field(default_factory=list)  # each batch a 999 answered, and how


def receive(ledger: Ledger, text: str, name: str) -> Received:
    """Record what one file says; raises Unreadable for a file that is not one of the three."""
    sha256 = hashlib.sha256(text.encode()).hexdigest()
    kept = ledger.load(receipt_key(sha256))
    if isinstance(kept, Receipt):
        return Received(name, kept.kind, kept.control, already=True)
    ic = read(text)
    out = Received(name, ic.kind, ic.control)
    {"999": _file_answer, "277CA": _claim_answers, "835": _payments}[ic.kind](ledger, ic, out)
    if out.refused or out.unknown:
        return out  # not kept as received: the same file, sent again once fixed, is answered again
    answered = list(dict.fromkeys(out.answered))
    ledger.run(partial(keep_receipt, kind=ic.kind, sha256=sha256, control=ic.control, claims=answered, unknown=[]))
    return out


def _file_answer(ledger: Ledger, ic: Interchange, out: Received) -> None:
    for answer in remits.file_answers(ic):
        batch, changed = ledger.run(partial(answer_file, group_control=answer.group_control,
                                            accepted=answer.accepted, errors=answer.errors))  # fmt: skip
        out.groups.append((batch, answer.accepted))
        out.recorded += changed
        if batch is None:
            out.unknown.append(f"batch with group control number {answer.group_control}")
    out.batch, out.accepted = out.groups[0] if out.groups else (None, None)


def _claim_answers(ledger: Ledger, ic: Interchange, out: Received) -> None:
    for answer in remits.claim_answers(ic):
        if answer.accepted is None:
            out.unchanged += 1
            continue
        result = ledger.run(partial(acknowledge, claim_id=answer.claim_id, batch_id=answer.batch,
                                    accepted=answer.accepted, codes=answer.codes, source="277CA"))  # fmt: skip
        _count(out, answer.claim_id, result)


def _payments(ledger: Ledger, ic: Interchange, out: Received) -> None:
    claims = remits.rejoined(remits.remittance(ic))
    # A claim's reversal is applied before its corrected payment, wherever the file puts it.
    first = {c.claim_id: i for i, c in reversed(list(enumerate(claims)))}
    failed: set[str] = set()
    for claim in sorted(claims, key=lambda c: (first[c.claim_id], c.status != "22")):
        if claim.claim_id in failed:  # a claim's answers stand or fall together: none after a refusal
            out.refused.append(f"{claim.claim_id}: not recorded, an earlier answer for it in this file was refused")
            continue
        failed.add(claim.claim_id)  # until it is recorded
        if claim.status not in PAYMENT | {"4", "22"}:
            out.refused.append(f"{claim.claim_id}: CLP02 status {claim.status} is not Medicare's payment, denial "
                               "or reversal (a secondary payer's answer is not recorded)")  # fmt: skip
            continue
        try:
            fact = adjudication(claim)
        except Unreadable as e:
            out.refused.append(str(e))
            continue
        answer = ledger.outcome(fact)
        if isinstance(answer, Recorded):
            failed.discard(claim.claim_id)
            _count(out, claim.claim_id, "unchanged" if answer.duplicate else "recorded")
        elif isinstance(answer, Refused) and Reason.UNKNOWN_CLAIM in answer.codes:
            _count(out, claim.claim_id, "unknown")
        else:
            out.refused.append(f"{claim.claim_id}: {answer}")


def _count(out: Received, claim_id: str, result: str) -> None:
    out.answered.append(claim_id)
    if result == "unknown":
        out.unknown.append(claim_id)
    elif result == "recorded":
        out.recorded += 1
    else:
        out.unchanged += 1


def adjudication(claim: remits.RemitClaim) -> facts.ClaimAdjudicated:
    """The contract's fact for one CLP loop, checked as any ClaimAdjudicated line is. A
    reversal's amounts are negative in the 835 and kept as sizes; any other claim's are
    never negative. Claim-level adjustments and remarks are kept in reason_codes."""
    reversal = claim.status == "22"
    amounts = [claim.paid] + [x for line in claim.lines for x in (line.charged, line.paid)]
    if any((x > 0) if reversal else (x < 0) for x in amounts):
        raise Unreadable(f"{claim.claim_id[:20]}: amounts of the wrong sign for CLP02 {claim.status}")
    lines = [{"code": x.code, "units": x.units, "charged": abs(x.charged), "paid": abs(x.paid),
              "adjustments": [{"group": g, "reason": r, "amount": a} for g, r, a in x.adjustments],
              "remarks": x.remarks} for x in claim.lines]  # fmt: skip
    reasons = [f"{g}-{r}" for g, r, _ in claim.adjustments + [a for x in claim.lines for a in x.adjustments]]
    fact: dict[str, Any] = {
        "type": "ClaimAdjudicated", "claim_id": claim.claim_id, "outcome": outcome(claim),
        "paid_amount": abs(claim.paid), "reason_codes": list(dict.fromkeys(reasons + claim.remarks)) or None,
        "payer_claim_number": claim.payer_claim_number or None, "paid_on": claim.paid_on,
        "lines": lines or None,
        "source": f"835 {claim.trace}"[:SOURCE_LIMIT],
    }  # fmt: skip
    item = fact_item(claim.claim_id[:20], fact)
    if item.fact is None or not isinstance(item.fact, facts.ClaimAdjudicated):
        raise Unreadable(f"{item.where}: {item.error}")
    return item.fact


def outcome(claim: remits.RemitClaim) -> str:
    """CLP02 22 is a reversal and 4 a denial. A processed claim that allowed nothing (paid
    nothing and left nothing to the patient, on every line, or at claim level when it has no
    lines) is denied too; with some lines denied it is partial; else paid. An amount the
    patient owes (PR: deductible, coinsurance) was allowed: a line that went wholly to the
    Part B deductible is paid 0, not denied."""
    if claim.status == "22":
        return facts.ClaimOutcome.REVERSED.value
    if claim.status == "4":
        return facts.ClaimOutcome.DENIED.value
    denied = [x for x in claim.lines if x.paid == 0 and _nothing_allowed(x.adjustments)]
    unpaid = claim.paid == Decimal(0)
    if unpaid and (len(denied) == len(claim.lines) if claim.lines else _nothing_allowed(claim.adjustments)):
        return facts.ClaimOutcome.DENIED.value
    return (facts.ClaimOutcome.PARTIAL if denied else facts.ClaimOutcome.PAID).value


# CARCs of the patient's cost sharing on an allowed amount: deductible, coinsurance, copay,
# blood deductible. Another PR reason (50, 96, 204 under an ABN) is a denial the patient owes.
COST_SHARING = frozenset({"1", "2", "3", "66"})


def _nothing_allowed(adjustments: list[tuple[str, str, Decimal]]) -> bool:
    """Adjusted away entirely by the payer: nothing allowed went to the patient's cost sharing."""
    shared = any(g == "PR" and code in COST_SHARING and amount > 0 for g, code, amount in adjustments)
    return any(not (g == "PR" and code in COST_SHARING) for g, code, _ in adjustments) and not shared
