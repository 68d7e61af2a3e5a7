"""G-07 and L-01 across practices (rules.md G-07, last sentence): where one ledger serves
several practices of a billing company, a patient is matched across them by Medicare id
(MBI), and a patient-month billed in a one-practitioner program, or in the CCM/PCM/APCM lane,
by one practice is refused to every other.

Each practice keeps its own store, so the check needs one shared index: which practice holds
which (MBI, slot, month). The domain says what a claim would hold and what a hold elsewhere
means; the index itself (adapters.claim_index) reserves a slot for one practice at a time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import NamedTuple, Protocol

import msgspec

from domain import facts
from domain.catalog import LANE, ONE_PRACTITIONER, lookup
from domain.decisions.claims import claim_month
from domain.decisions.work import Work
from domain.keys import patient_key
from domain.patient import Patient
from domain.patient_month import PatientMonth
from domain.policy import Policy
from domain.reasons import Because, Reason, Refused
from domain.rules.assess import Blocked, WorklistRow

LANE_SLOT = "CCM|PCM|APCM"  # L-01: the lane is one slot when it holds whichever practitioner bills


class Slot(NamedTuple):
    """What a claim holds across practices: a patient (by MBI), a program's slot, a month."""

    medicare_id: str
    slot: str
    program: str
    month: str


class Held(NamedTuple):
    """A slot another practice holds: who, and for which program."""

    practice_id: str
    slot: str
    program: str
    month: str
    medicare_id: str = ""  # the slot's patient, as matched (in memory only; the index keeps a hash)


class Reservation(NamedTuple):
    """A reservation's answer: the holds of other practices (nothing reserved then), or the
    attempt that reserved, to abandon if its claim is not saved."""

    held: list[Held]
    attempt: str | None


class ClaimsElsewhere(Protocol):
    """The shared index of the slots each practice's live claims hold (adapters.claim_index)."""

    practice_id: str

    def peek(self, slots: Sequence[Slot]) -> list[Held]:
        """The slots among these that another practice holds (nothing is reserved)."""
        ...

    def reserve(self, claim_id: str, slots: Sequence[Slot]) -> Reservation:
        """Reserve every slot for this practice's claim, or none: the holds of other
        practices when any slot is taken."""
        ...

    def release(self, claim_ids: Sequence[str]) -> None:
        """These claims of this practice no longer hold their slots (voided)."""
        ...

    def abandon(self, attempt: str) -> None:
        """One reservation's holds, whose claim it did not save."""
        ...

    def close(self) -> None:
        """Its connections, with the ledger's."""
        ...


def slots(w: Work, fact: facts.ClaimSubmitted) -> list[Slot]:
    """The slots the claim would hold. None for a patient without a Medicare id (nothing to
    match on) or an unknown one."""
    patient = w.get(patient_key(fact.patient_id), Patient)
    if patient is None or not patient.medicare_id:
        return []
    month = claim_month(fact, w.ctx, w.at)
    return slots_of(patient.medicare_id, [line.code for line in fact.lines], month, w.ctx.policy)


def slots_of(medicare_id: str, codes: Iterable[str], month: str, policy: Policy) -> list[Slot]:
    """One slot per one-practitioner program among the codes (G-07), and the CCM/PCM/APCM
    lane as one more when the policy holds it across practitioners (L-01). The program's own
    slot is always there, so practices with different lane policies still meet on G-07."""
    out: dict[str, Slot] = {}
    for code in codes:
        spec = lookup(code)  # a code's program is the same in every rule year
        program = None if spec is None else spec.program
        if program is None or program not in ONE_PRACTITIONER:
            continue
        slots = [program.value, *([LANE_SLOT] if program in LANE and policy.lane_across_practitioners else [])]
        for slot in slots:
            out.setdefault(slot, Slot(_mbi(medicare_id), slot, program.value, month))
    return list(out.values())


def withheld(row: WorklistRow, medicare_id: str | None, held: Sequence[Held], policy: Policy) -> WorklistRow:
    """The worklist row with the codes another practice's claims hold moved from billable
    to blocked (PROVIDER_CONFLICT), so a biller is not offered a claim the gate would refuse."""
    blocked = _conflicts(medicare_id, [b.code for b in row.billable], row.month, held, policy)
    if not blocked:
        return row
    taken = {b.code for b in blocked}
    keep = [line for line in row.billable if line.code not in taken]
    total = sum((Decimal(b.amount) for b in keep), Decimal(0))
    return msgspec.structs.replace(row, billable=keep, blocked=[*row.blocked, *blocked], estimated_total=f"{total:.2f}")


def conflicts(
    claims: ClaimsElsewhere | None, wanted: Sequence[tuple[str | None, Sequence[str], str]], policy: Policy
) -> list[list[Blocked]]:
    """For each (Medicare id, codes, month): PROVIDER_CONFLICT for every code that another
    practice's claim holds, in one look at the index (pace: a count toward a threshold is
    no use where the month is billed elsewhere)."""
    if claims is None:
        return [[] for _ in wanted]
    slots = [s for mbi, codes, month in wanted if mbi for s in slots_of(mbi, codes, month, policy)]
    held = claims.peek(slots) if slots else []
    return [_conflicts(mbi, codes, month, held, policy) for mbi, codes, month in wanted]


def _conflicts(
    medicare_id: str | None, codes: Sequence[str], month: str, held: Sequence[Held], policy: Policy
) -> list[Blocked]:
    if not medicare_id or not held:
        return []
    mbi = _mbi(medicare_id)
    taken = {(h.slot, h.month): h for h in held if h.medicare_id == mbi}
    out = []
    for code in codes:
        hit = next((taken[(s.slot, s.month)] for s in slots_of(medicare_id, [code], month, policy)
                    if (s.slot, s.month) in taken), None)  # fmt: skip
        if hit is not None:
            detail = f"{hit.program} this month is already billed by practice {hit.practice_id}"
            out.append(Blocked(code, Reason.PROVIDER_CONFLICT.value, detail))
    return out


def withhold(
    claims: ClaimsElsewhere | None, rows: Sequence[tuple[WorklistRow, str | None]], policy: Policy
) -> list[WorklistRow]:
    """Rows (each with its patient's Medicare id) with what other practices already claimed
    moved from billable to blocked, in one look at the index; unchanged for one practice.
    Every read that counts billable work (worklist, report, forecast) goes through here, so
    none offers what the gate would refuse."""
    if claims is None:
        return [row for row, _ in rows]
    wanted = [s for row, mbi in rows if mbi for s in slots_of(mbi, [b.code for b in row.billable], row.month, policy)]
    held = claims.peek(wanted) if wanted else []
    return [withheld(row, mbi, held, policy) for row, mbi in rows]


def reasons(mine: Sequence[Slot], held: Sequence[Held]) -> list[Because]:
    """G-07 for every hold elsewhere, and L-01 where the other practice's program in the lane
    differs from this claim's."""
    programs = {s.slot: s.program for s in mine}
    out: dict[Because, None] = {}  # a program's slot and the lane's, held together, say it once
    for h in held:
        message = f"{h.program} for this patient in {h.month} is already billed by practice {h.practice_id}"
        out[Because(Reason.PROVIDER_CONFLICT, message)] = None
        if h.slot == LANE_SLOT and programs.get(h.slot, h.program) != h.program:
            message = f"{programs[h.slot]} cannot join {h.program}, billed by practice {h.practice_id}, in one month"
            out[Because(Reason.LANE_CONFLICT, message)] = None
    return list(out)


def _mbi(medicare_id: str) -> str:
    """MBIs compare without case, spaces or dashes (they are printed with dashes)."""
    return "".join(ch for ch in medicare_id.upper() if ch.isalnum())


def hold(port: ClaimsElsewhere, w: Work, fact: facts.ClaimSubmitted) -> str | None:
    """Reserve the claim's slots across practices, or refuse it naming who holds them. The
    attempt that reserved (to abandon if the claim is then not saved), or None when the
    claim holds nothing across practices."""
    mine = slots(w, fact)
    if not mine:
        return None
    reserved = port.reserve(fact.claim_id, mine)
    if reserved.held:
        raise Refused(*reasons(mine, reserved.held))
    return reserved.attempt


# A claim's answers that can free its slots: a void, or a payer's answer completing one.
FREES = (facts.ClaimVoided, facts.ClaimAdjudicated)


def refused_too(port: ClaimsElsewhere, w: Work, fact: facts.Fact, refusal: Refused) -> Refused:
    """A claim refused here is also told of the holds elsewhere (G-14: every reason)."""
    if not isinstance(fact, facts.ClaimSubmitted):
        return refusal
    mine = slots(w, fact)
    extra = [r for r in reasons(mine, port.peek(mine) if mine else []) if r not in refusal.reasons]
    return Refused(*refusal.reasons, *extra) if extra else refusal


def freed(aggregates: Iterable[object]) -> list[str]:
    """The claims among these patient-months that no longer stand (voided)."""
    return [
        claim_id
        for agg in aggregates
        if isinstance(agg, PatientMonth)
        for claim_id, claim in agg.claims.items()
        if not claim.live
    ]


def stands(w: Work, claim_id: str) -> bool:
    """Whether this practice's claim is on file and live (a hold whose claim is not, because
    a process stopped between reserving and saving, is released by reconciling)."""
    ident = w.identity_of(facts.ClaimSubmitted, claim_id)
    pm = None if ident is None else w.get(ident.home_id, PatientMonth)
    claim = None if pm is None else pm.claims.get(claim_id)
    return claim is not None and claim.live


def slots_on_file(w: Work, claim_id: str) -> list[Slot]:
    """The slots a claim on file holds while it stands (a store's claims entering the index
    when its practice joins a catalog)."""
    ident = w.identity_of(facts.ClaimSubmitted, claim_id)
    pm = None if ident is None else w.get(ident.home_id, PatientMonth)
    claim = None if pm is None else pm.claims.get(claim_id)
    patient = None if pm is None else w.get(patient_key(pm.patient_id), Patient)
    if pm is None or claim is None or not claim.live or patient is None or not patient.medicare_id:
        return []
    return slots_of(patient.medicare_id, claim.codes, pm.month, w.ctx.policy)
