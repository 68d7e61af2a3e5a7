"""The self-audit's checks over claims alone, whatever their source (the ledger, or historical
claims billed before it): the same code twice in one period (G-08), care-management services
that overlap in one month (L-01, L-02, L-03, P-APCM-1 and the catalog's EXCLUSIONS rows), and
add-ons whose base is missing or is itself an overpayment (G-06). Which codes collide is read
from domain.catalog, never listed here. The checks that read a patient's record are
projections.self_audit's.

Of two claims in conflict, the one billed later is at issue (the gate would have refused it):
historical claims count as billed first, in the order they were read, then the ledger's."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import combinations

import msgspec

from domain.catalog import CATALOG, EXCLUSIONS, LANE, FeeSchedule, Kind, lookup
from domain.facts import Program
from domain.policy import Policy
from domain.reasons import Reason

# Codes billed once per episode or per 30 days have rules of their own (P-RPM-2, P-TCM-1).
NOT_PER_PERIOD = frozenset({Kind.SETUP, Kind.TCM})
# The rules.md row of each program's tiers excluding each other in a month.
TIER_RULES = {Program.CCM: "L-02", Program.PCM: "L-03", Program.APCM: "P-APCM-1"}


@dataclass(frozen=True)
class AuditClaim:
    """A claim as the self-audit judges it: one patient, one month, units per code."""

    claim_id: str
    source: str  # "ledger", or the file a historical claim was read from
    patient_id: str
    month: str
    npi: str
    lines: tuple[tuple[str, int], ...]  # code and units, one entry per code
    order: int  # billing order (see the module's note)
    service_on: date | None = None
    status: str = "historical"
    paid: Decimal | None = None  # what the payer paid for the claim, when known
    paid_by_code: tuple[tuple[str, Decimal], ...] = ()  # per code, when the remittance said
    repay_by: date | None = None  # G-16, from the ledger
    withdrawn: tuple[str, ...] = ()  # G-16: why support was withdrawn

    @property
    def key(self) -> tuple[str, str]:
        return self.source, self.claim_id


class AtIssue(msgspec.Struct, frozen=True):
    code: str
    units: int
    amount: str
    basis: str  # "paid", "paid, shared by fee" or "fee schedule"


@dataclass(frozen=True)
class Issue:
    """One claim found at issue under one rule: the codes (and units) at stake, and why."""

    rule: str  # its rules.md id
    reason: Reason
    claim: AuditClaim
    codes: tuple[tuple[str, int], ...]
    detail: str
    related: tuple[AuditClaim, ...] = ()


@dataclass(frozen=True)
class Pair:
    """Two sets of codes not billed for one patient in one month, and the rule that says so."""

    rule: str
    reason: Reason
    left: frozenset[str]
    right: frozenset[str]
    same_npi: bool = False  # only when one practitioner bills both

    def clash(self, a: str, b: str) -> bool:
        return (a in self.left and b in self.right) or (a in self.right and b in self.left)


def overlap_pairs(policy: Policy) -> list[Pair]:
    """Every pair of code sets the catalog says exclude each other in a month."""
    by_program: dict[Program, list[str]] = defaultdict(list)
    for spec in CATALOG.values():
        if spec.program is not None and spec.kind is not Kind.ASSESSMENT:
            by_program[spec.program].append(spec.code)
    lanes = sorted(LANE)  # L-01 (policy: across practitioners, or only for the same one)
    pairs = [Pair("L-01", Reason.LANE_CONFLICT, frozenset(by_program[a]), frozenset(by_program[b]),
                  not policy.lane_across_practitioners) for a, b in combinations(lanes, 2)]  # fmt: skip
    for program, rule in TIER_RULES.items():
        tiers: dict[str, set[str]] = defaultdict(set)
        for code in by_program[program]:
            tier, alone = CATALOG[code].tier, CATALOG[code].alone_in_tier
            if tier is not None:
                tiers[f"{tier}:{code}" if alone else tier].add(code)  # P-APCM-1: one code of its tier a month
        sets = [frozenset(codes) for codes in tiers.values()]
        pairs += [Pair(rule, Reason.TIER_CONFLICT, a, b) for a, b in combinations(sets, 2)]
    pairs += [Pair(row.rule, row.reason, row.codes, row.excludes) for row in EXCLUSIONS
              if row.switch is None or getattr(policy, row.switch)]  # fmt: skip
    return pairs


def by_patient_month(claims: Iterable[AuditClaim]) -> dict[tuple[str, str], list[AuditClaim]]:
    groups: dict[tuple[str, str], list[AuditClaim]] = defaultdict(list)
    for claim in sorted(claims, key=lambda c: c.order):
        groups[(claim.patient_id, claim.month)].append(claim)
    return groups


def duplicates(claims: Iterable[AuditClaim]) -> list[Issue]:
    """G-08: a code billed again for the same patient and period (the month; per 30 days or
    per episode codes excepted)."""
    out = []
    for group in by_patient_month(claims).values():
        first: dict[str, AuditClaim] = {}
        for claim in group:
            for code, units in claim.lines:
                spec = lookup(code)
                if spec is None or spec.kind in NOT_PER_PERIOD:
                    continue
                if code not in first:
                    first[code] = claim
                    continue
                earlier = first[code]
                out.append(Issue("G-08", Reason.DUPLICATE_CLAIM, claim, ((code, units),),
                                 f"{code} already billed for {claim.month} on claim {earlier.claim_id}"
                                 f" ({earlier.source})", (earlier,)))  # fmt: skip
    return out


def overlaps(claims: Iterable[AuditClaim], pairs: list[Pair]) -> list[Issue]:
    """L-01 .. L-09: a code billed beside one it excludes in the same month; the later is at issue."""
    out = []
    for group in by_patient_month(claims).values():
        lines = [(claim, code, units) for claim in group for code, units in claim.lines]
        for i, (early, a, _) in enumerate(lines):
            for late, b, units in lines[i + 1 :]:
                pair = next((p for p in pairs if p.clash(a, b) and not (p.same_npi and early.npi != late.npi)), None)
                if pair is not None:
                    where = "on the same claim" if early is late else f"on claim {early.claim_id} ({early.source})"
                    detail = f"{b} is not billed in the same month as {a}, billed {where}"
                    out.append(Issue(pair.rule, pair.reason, late, ((b, units),), detail, (early,)))
    return out


def addons(claims: Iterable[AuditClaim], at_issue: Mapping[tuple[str, str, str], Issue]) -> list[Issue]:
    """G-06: an add-on with no base in its month, or whose base is itself at issue (an
    overpaid base carries its add-ons with it). The base on the add-on's own claim is its
    base; without one there, any base billed that month."""
    out = []
    for group in by_patient_month(claims).values():
        for claim in group:
            for code, units in claim.lines:
                spec = lookup(code)
                if spec is None or not spec.base or (*claim.key, code) in at_issue:
                    continue
                found = _bases(claim, group, spec.base, same_npi=spec.kind is Kind.APCM_ADDON)
                if not found:
                    detail = f"{code} needs {' or '.join(spec.base)} in the same month; none was billed"
                    out.append(Issue("G-06", Reason.ADDON_WITHOUT_BASE, claim, ((code, units),), detail))
                    continue
                why = [at_issue.get((*base.key, base_code)) for base, base_code in found]
                if all(w is not None for w in why):
                    out.append(_on_overpaid_base(claim, code, units, found[0], [w for w in why if w is not None]))
    return out


def _bases(claim: AuditClaim, group: list[AuditClaim], bases: tuple[str, ...],
           same_npi: bool) -> list[tuple[AuditClaim, str]]:  # fmt: skip
    own = [(claim, code) for code, _ in claim.lines if code in bases]
    if own:
        return own
    return [(other, code) for other in group for code, _ in other.lines
            if code in bases and (not same_npi or other.npi == claim.npi)]  # fmt: skip


def _on_overpaid_base(claim: AuditClaim, code: str, units: int, base: tuple[AuditClaim, str],
                      why: list[Issue]) -> Issue:  # fmt: skip
    first = why[0]
    where = "this claim" if base[0] is claim else f"claim {base[0].claim_id}"
    detail = (f"{code} rides on {base[1]} of {where}, itself an overpayment "
              f"({first.rule} {first.reason.value}: {first.detail})")  # fmt: skip
    related = tuple(dict.fromkeys(c for w in why for c in (w.claim, *w.related) if c is not claim))
    return Issue("G-06", Reason.ADDON_WITHOUT_BASE, claim, ((code, units),), detail, related)


def merged(issues: Iterable[Issue]) -> list[Issue]:
    """One issue per claim and rule: its codes, details and related claims together."""
    groups: dict[tuple[str, str, str, Reason], list[Issue]] = defaultdict(list)
    for issue in issues:
        groups[(*issue.claim.key, issue.rule, issue.reason)].append(issue)
    out = []
    for (_, _, rule, reason), found in groups.items():
        claim = found[0].claim
        codes: dict[str, int] = {}
        for issue in found:
            for code, units in issue.codes:
                codes[code] = max(codes.get(code, 0), units)
        related = tuple(dict.fromkeys(c for i in found for c in i.related if c.key != claim.key))
        detail = "; ".join(dict.fromkeys(i.detail for i in found))
        out.append(Issue(rule, reason, claim, tuple(codes.items()), detail, related))
    return out


def index(issues: Iterable[Issue]) -> dict[tuple[str, str, str], Issue]:
    """Each (source, claim id, code) at issue, with the first issue that put it there."""
    out: dict[tuple[str, str, str], Issue] = {}
    for issue in issues:
        for code, _ in issue.codes:
            out.setdefault((*issue.claim.key, code), issue)
    return out


def priced(claim: AuditClaim, code: str, units: int, fees: FeeSchedule) -> AtIssue:
    """The paid amount when known (the remittance's line, or the claim's payment shared by
    fee between its codes), else the fee schedule's amount."""
    billed = dict(claim.lines).get(code, units) or units
    paid_lines = dict(claim.paid_by_code)
    if code in paid_lines:
        return AtIssue(code, units, money(paid_lines[code] * units / billed), "paid")
    if claim.paid is not None:
        whole = sum((fees.fee(c) * n for c, n in claim.lines), Decimal(0))
        if len(claim.lines) == 1:
            return AtIssue(code, units, money(claim.paid * units / billed), "paid")
        share = fees.fee(code) * units / whole if whole else Decimal(0)
        return AtIssue(code, units, money(claim.paid * share), "paid, shared by fee")
    return AtIssue(code, units, money(fees.fee(code) * units), "fee schedule")


def money(amount: Decimal) -> str:
    return f"{amount.quantize(Decimal('0.01'))}"
