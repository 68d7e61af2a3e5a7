"""What a 999, 277CA or 835 says, read from its segments (adapters.x12_in) into plain
answers: the file accepted or rejected, each claim acknowledged or rejected, each claim's
payment with its adjustments, remarks and trace."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from adapters.x12_in import Interchange, Seg, amount, day

ACCEPTED_277 = frozenset({"A0", "A1", "A2", "A5"})  # acknowledged: forwarded, received, accepted
REJECTED_277 = frozenset({"A3", "A4", "A6", "A7", "A8"})  # returned, not found, rejected
# Claim-level remark codes: outpatient (MOA03-07) and inpatient (MIA05, MIA20-24) adjudication.
REMARKS = {"MOA": (3, 4, 5, 6, 7), "MIA": (5, 20, 21, 22, 23, 24)}


@dataclass(frozen=True)
class FileAnswer:
    """A 999: the functional group (one 837 batch) accepted or rejected."""

    group_control: int
    accepted: bool
    errors: list[str]


@dataclass(frozen=True)
class ClaimAnswer:
    """A 277CA claim status: acknowledged or rejected, with the STC status codes."""

    claim_id: str
    accepted: bool | None  # None: a category this ledger does not act on (pending, say)
    codes: list[str]
    batch: str | None  # the 837's BHT03 the 277CA quotes (2200B TRN02): our batch id


@dataclass
class RemitLine:
    code: str
    units: int
    charged: Decimal
    paid: Decimal
    adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)  # group, CARC, amount
    remarks: list[str] = field(default_factory=list)


@dataclass
class RemitClaim:
    claim_id: str
    status: str  # CLP02
    charged: Decimal
    paid: Decimal
    payer_claim_number: str
    adjustments: list[tuple[str, str, Decimal]] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)
    lines: list[RemitLine] = field(default_factory=list)
    trace: str = ""  # its transaction set's TRN02 (the check or EFT number)
    paid_on: date | None = None  # its transaction set's production date, else the file's


def file_answers(ic: Interchange) -> list[FileAnswer]:
    """A 999's answers, one per transaction set (each answers one functional group, X231A1):
    an interchange may hold several."""
    sets: list[list[Seg]] = []
    for s in ic.segments:
        if s.id == "ST":
            sets.append([])
        if sets:
            sets[-1].append(s)
    return [_file_answer(part) for part in sets if any(s.id == "AK1" for s in part)]


def _file_answer(part: list[Seg]) -> FileAnswer:
    ak1 = next(s for s in part if s.id == "AK1")
    ak9 = next(s for s in part if s.id == "AK9")
    errors = [f"{s.id} {'/'.join(v for v in s.values if v)}" for s in part if s.id in ("IK3", "IK4", "IK5")]
    return FileAnswer(int(ak1.get(2)), ak9.get(1) in ("A", "E"), [e for e in errors if not e.startswith("IK5 A")])


def claim_answers(ic: Interchange) -> list[ClaimAnswer]:
    """Claim-level statuses (loop 2200D): the claim id is the TRN's trace, the CLM01 we sent;
    the batch is the receiver level's trace (2200B), the BHT03 we sent."""
    out: list[ClaimAnswer] = []
    current: str | None = None
    batch: str | None = None
    codes: list[str] = []
    for s in ic.segments:
        if "/2200B/" in s.loop and s.id == "TRN":
            batch = s.get(2) or None
        if "/2200D/" not in s.loop:
            continue
        if s.id == "TRN":
            _close_claim(out, current, codes, batch)
            current, codes = s.get(2), []
        elif s.id == "STC":
            codes += [c for c in (s.get(1), s.get(10), s.get(11)) if c]
    _close_claim(out, current, codes, batch)
    return out


def _close_claim(out: list[ClaimAnswer], claim_id: str | None, codes: list[str], batch: str | None) -> None:
    if claim_id is None:
        return
    categories = {c.split(":")[0] for c in codes}
    verdict = False if categories & REJECTED_277 else True if categories & ACCEPTED_277 else None
    out.append(ClaimAnswer(claim_id, verdict, codes, batch))


def remittance(ic: Interchange) -> list[RemitClaim]:
    """The claims an 835 pays, each with its own transaction set's trace and date (an
    interchange may hold several payments)."""
    gs = next(s for s in ic.segments if s.id == "GS")
    out: list[RemitClaim] = []
    trace, paid_on = "", day(gs.get(4))
    for s in ic.segments:
        if s.id == "ST":
            trace, paid_on = "", day(gs.get(4))
        elif s.id == "TRN" and not trace:
            trace = s.get(2)
        elif s.id == "DTM" and s.get(1) == "405":
            # When the payer decided (the production date, else the file's creation date), not
            # when the money moves (BPR16, an EFT's effective date, often days ahead: the ledger
            # refuses facts dated in the future).
            paid_on = day(s.get(2))
        elif s.id == "CLP":
            out.append(RemitClaim(s.get(1), s.get(2), amount(s.get(3)), amount(s.get(4)), s.get(7),
                                  trace=trace, paid_on=paid_on))  # fmt: skip
        elif s.id == "SVC" and out:
            units = int(amount(s.get(5) or "1")) or 1
            out[-1].lines.append(RemitLine(s.part(1, 2), units, amount(s.get(2)), amount(s.get(3))))
        elif s.id in ("CAS", "LQ") and out:
            _attach(out[-1], s)
        elif s.id in REMARKS and out:
            out[-1].remarks += [s.get(i) for i in REMARKS[s.id] if s.get(i)]
    return out


def rejoined(claims: list[RemitClaim]) -> list[RemitClaim]:
    """The payer's answers with a claim it split (MA15: one CLP loop per part, each with its
    own payer claim number) joined again as one answer: the claim was paid the parts' sum,
    and the reversals of its parts reverse that sum. A reversal and its corrected payment
    stay two answers."""
    parts: dict[tuple[str, bool], list[RemitClaim]] = {}
    for c in claims:
        parts.setdefault((c.claim_id, c.status == "22"), []).append(c)
    split = {k: v for k, v in parts.items() if len({c.payer_claim_number for c in v}) == len(v) > 1}
    out: list[RemitClaim] = []
    for c in claims:
        key = (c.claim_id, c.status == "22")
        if key not in split:
            out.append(c)
        elif c is split[key][0]:
            out.append(_joined(split[key]))
    return out


def _joined(parts: list[RemitClaim]) -> RemitClaim:
    paid = [p for p in parts if p.status != "4"]  # a denied part is a line the claim was not paid
    return replace(
        parts[0],
        status=(paid or parts)[0].status,
        charged=sum((p.charged for p in parts), Decimal(0)),
        paid=sum((p.paid for p in parts), Decimal(0)),
        adjustments=[a for p in parts for a in p.adjustments],
        remarks=list(dict.fromkeys(r for p in parts for r in p.remarks)),
        lines=[line for p in parts for line in p.lines],
    )


def _attach(claim: RemitClaim, s: Seg) -> None:
    """CAS and LQ belong to the service line when in loop 2110, else to the claim."""
    line = claim.lines[-1] if "/2110/" in s.loop and claim.lines else None
    if s.id == "LQ":
        (line.remarks if line else claim.remarks).append(s.get(2))
        return
    group = s.get(1)
    for i in range(2, 19, 3):  # up to six reason, amount, quantity triples
        if s.get(i):
            (line.adjustments if line else claim.adjustments).append((group, s.get(i), amount(s.get(i + 1))))
