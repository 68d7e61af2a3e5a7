"""Rules over a set of codes in one period: duplicates, lanes, tiers, conflicts, add-ons,
caps and one billing practitioner (G-06, G-07, G-08, L-01..L-09, P-APCM-1, P-RPM-2, P-TCM-1).

`conflicts(new, existing, policy)` judges lines about to be claimed against the lines
already claimed; the claim gate refuses with its reasons, and the worklist uses it to pick
the best compliant set. Which codes exclude which is data (domain.catalog.EXCLUSIONS).
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from domain import facts
from domain.catalog import EXCLUSIONS, LANE, ONE_PRACTITIONER, TIERED, CodeSpec, Kind
from domain.claim_records import DevicePeriod, TcmWindow
from domain.month import month_bounds
from domain.policy import Policy
from domain.reasons import Because, Reason
from domain.rulebook import RuleSet
from domain.state import Line

P = facts.Program
SCOPED = frozenset({Kind.DEVICE, Kind.SETUP, Kind.TCM, Kind.ASSESSMENT})  # periods other than the month


def conflicts(new: list[Line], existing: list[Line], policy: Policy, rules: RuleSet | None = None) -> list[Because]:
    """Every reason the `new` lines cannot join the `existing` ones (both of one patient).
    Tiers, add-on bases and caps are read from `rules`, the rule set of the new lines' date
    of service, so a new rule year changes them as data (a code's program and kind never
    change, and are read from the catalog)."""
    reasons: list[Because] = []
    for rule in (_duplicates, _scoped_once, _lanes, _exclusions, _device_codes, _practitioner):
        reasons += rule(new, existing, policy)
    for dated in (_tiers, addons, _caps):
        reasons += dated(new, existing, policy, rules)
    return reasons


def _dated(line: Line, rules: RuleSet | None) -> CodeSpec:
    """The line's code as its rule year has it (the catalog's latest entry without one)."""
    return (rules.spec(line.code) if rules is not None else None) or line.spec


def window(line: Line) -> tuple[date, date] | None:
    """The days a line's period covers when it is a range of days: a 30-day device period
    (G-01, from its first day) or a TCM window (the discharge day and the next 29)."""
    scope = line.scope
    if isinstance(scope, DevicePeriod):
        return scope.start, scope.start + timedelta(days=29)
    if isinstance(scope, TcmWindow):
        return scope.discharged_on, scope.discharged_on + timedelta(days=29)
    return None


def same_period(a: Line, b: Line) -> bool:
    """Month-scoped lines share the claim's month; day-range periods of one kind (device
    periods, TCM windows) overlap, whichever day of them a claim is dated; other scoped
    lines share their scope."""
    if a.scope is None or b.scope is None:
        return a.scope is None and b.scope is None and a.month == b.month
    wa, wb = window(a), window(b)
    if wa is not None and wb is not None and type(a.scope) is type(b.scope):
        return wa[0] <= wb[1] and wb[0] <= wa[1]
    return a.scope == b.scope


def coincide(a: Line, b: Line) -> bool:
    """For exclusions (L-04 .. L-09): the same calendar month, or for a device period the
    days it covers against the other line's period or month."""
    wa, wb = window(a), window(b)
    if not isinstance(a.scope, DevicePeriod) and not isinstance(b.scope, DevicePeriod):
        return a.month == b.month
    ra, rb = wa or _month_range(a.month), wb or _month_range(b.month)
    return ra[0] <= rb[1] and rb[0] <= ra[1]


def _month_range(month: str) -> tuple[date, date]:
    return month_bounds(month)


def _duplicates(new: list[Line], existing: list[Line], policy: Policy) -> list[Because]:
    """G-08: a code already claimed for the same patient and period: for setup and TCM, the
    same episode or discharge (a TCM window or episode overlapping another is P-RPM-2's and
    P-TCM-1's to refuse)."""
    out = []
    for line in new:
        for old in existing:
            if old.code != line.code:
                continue
            if old.scope == line.scope if line.spec.kind in (Kind.SETUP, Kind.TCM) else same_period(line, old):
                out.append(Because(Reason.DUPLICATE_CLAIM, f"{line.code} already claimed on claim {old.claim_id}"))
                break
    return out


def _scoped_once(new: list[Line], existing: list[Line], policy: Policy) -> list[Because]:
    """P-RPM-2 setup once per episode (SETUP_ALREADY_BILLED: an episode runs from the
    program's first setup, so once per program); P-TCM-1 one TCM per 30 days, on this claim
    or another (TCM_ALREADY_BILLED)."""
    out = []
    for line in new:
        kind = line.spec.kind
        if kind not in (Kind.SETUP, Kind.TCM):
            continue
        pool = existing + [o for o in new if o is not line]
        others = [o for o in pool if o.spec.kind is kind and o.spec.program is line.spec.program]
        clash = next((o for o in others if kind is Kind.SETUP or same_period(line, o)), None)
        if clash is not None and kind is Kind.SETUP:
            out.append(
                Because(
                    Reason.SETUP_ALREADY_BILLED,
                    f"{line.code}: setup already billed for this episode on claim {clash.claim_id}",
                )
            )
        elif clash is not None:
            out.append(
                Because(
                    Reason.TCM_ALREADY_BILLED,
                    f"{line.code}: TCM already billed within 30 days on claim {clash.claim_id}",
                )
            )
    return out  # fmt: skip


def _lanes(new: list[Line], existing: list[Line], policy: Policy) -> list[Because]:
    """L-01: CCM, PCM and APCM are one lane in a patient-month."""
    out = []
    pool = [x for x in existing + new if x.spec.program in LANE and x.spec.kind is not Kind.ASSESSMENT]
    for line in new:
        if line not in pool:
            continue
        for other in (o for o in pool if o.month == line.month):
            same_npi = other.npi == line.npi
            if other.spec.program is not line.spec.program and (policy.lane_across_practitioners or same_npi):
                out.append(
                    Because(
                        Reason.LANE_CONFLICT,
                        f"{line.code} ({line.spec.program}) cannot join {other.code} "
                        f"({other.spec.program}) in one month",
                    )
                )
                break
    return out  # fmt: skip


def _tiers(new: list[Line], existing: list[Line], policy: Policy, rules: RuleSet | None = None) -> list[Because]:
    """L-02, L-03, P-APCM-1: tiers of one program exclude each other in a month."""
    out = []
    pool = [x for x in existing + new if x.spec.program in TIERED and _dated(x, rules).tier]
    for line in new:
        if line not in pool:
            continue
        mates = [o for o in pool if o.month == line.month and o.spec.program is line.spec.program]
        other = next((o for o in mates if _dated(o, rules).tier != _dated(line, rules).tier), None)
        if other is not None:
            out.append(Because(Reason.TIER_CONFLICT, f"{line.code} and {other.code} are different tiers"))
        elif _dated(line, rules).alone_in_tier and (other := next((o for o in mates if o.code != line.code), None)):
            out.append(
                Because(Reason.TIER_CONFLICT, f"{line.code} and {other.code}: one {line.spec.program} code a month")
            )
    return out


def _exclusions(new: list[Line], existing: list[Line], policy: Policy) -> list[Because]:
    """L-04 .. L-09: codes that exclude each other in the same month (see EXCLUSIONS)."""
    out = []
    pool = existing + new
    for line in new:
        for row in EXCLUSIONS:
            if row.switch is not None and not getattr(policy, row.switch):
                continue
            rule_id, left, right, reason = row.rule, row.codes, row.excludes, row.reason
            for mine, theirs in ((left, right), (right, left)):
                if line.code in mine:
                    other = next((o for o in pool if o.code in theirs and coincide(line, o)), None)
                    if other is not None:
                        out.append(Because(reason, f"{line.code} is not billed with {other.code} ({rule_id})"))
    return out


def _device_codes(new: list[Line], existing: list[Line], policy: Policy) -> list[Because]:
    """P-RPM-1, P-RTM-1: one device code per 30-day period however many devices (pairs that
    an L-07 row excludes are that row's to name)."""
    out = []
    for line in new:
        if line.spec.kind is not Kind.DEVICE:
            continue
        for other in existing + [o for o in new if o is not line]:
            if (
                other.spec.kind is Kind.DEVICE
                and other.code != line.code
                and other.spec.program is line.spec.program
                and same_period(line, other)
                and not _excluded_pair(line.code, other.code)
            ):
                out.append(
                    Because(
                        Reason.CODE_CONFLICT,
                        f"{line.code}: {other.code} is already the device code "
                        f"for this 30-day period (one device code per period)",
                    )
                )
                break
    return out  # fmt: skip


def _excluded_pair(a: str, b: str) -> bool:
    return any((a in x.codes and b in x.excludes) or (b in x.codes and a in x.excludes) for x in EXCLUSIONS)


def addons(new: list[Line], existing: list[Line], policy: Policy, rules: RuleSet | None = None) -> list[Because]:
    """G-06: an add-on needs its base in the same period; L-05: APCM add-ons need the base
    billed by the same practitioner."""
    out = []
    pool = existing + new
    for line in new:
        bases = _dated(line, rules).base
        if not bases:
            continue
        same_npi = line.spec.kind is Kind.APCM_ADDON
        if not any(o.code in bases and o.month == line.month and (not same_npi or o.npi == line.npi) for o in pool):
            who = " by the same practitioner" if same_npi else ""
            out.append(
                Because(
                    Reason.ADDON_WITHOUT_BASE,
                    f"{line.code} needs {' or '.join(bases)}{who} in the same month",
                )
            )
    return out  # fmt: skip


def _caps(new: list[Line], existing: list[Line], policy: Policy, rules: RuleSet | None = None) -> list[Because]:
    """G-06: never beyond a code's cap for the period, on this claim and earlier ones. A base
    code claimed again is G-08's alone (DUPLICATE_CLAIM); an add-on past its cap is both."""
    out = []
    for line in new:
        spec = _dated(line, rules)
        cap = policy.cap(line.code, spec.cap)
        again = any(o.code == line.code and same_period(o, line) for o in existing)
        if cap is None or (again and not spec.base):
            continue
        total = sum(o.units for o in existing + new if o.code == line.code and same_period(o, line))
        if total > cap:
            out.append(Because(Reason.ADDON_CAP_EXCEEDED, f"{line.code}: {total} units; at most {cap} per period"))
    return out


def _practitioner(new: list[Line], existing: list[Line], policy: Policy) -> list[Because]:
    """G-07: one billing practitioner per patient per period for CCM, PCM, APCM, RPM, RTM, TCM."""
    out = []
    for line in new:
        program = line.spec.program
        if program not in ONE_PRACTITIONER:
            continue
        other = next((o for o in existing if o.spec.program is program and o.npi != line.npi
                      and (o.month == line.month or same_period(o, line))), None)  # fmt: skip
        if other is not None:
            out.append(
                Because(
                    Reason.PROVIDER_CONFLICT,
                    f"{line.code}: {program} is already billed by {other.npi} (claim {other.claim_id})",
                )
            )
    return out  # fmt: skip


def units_by_code(lines: list[Line]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for line in lines:
        counts[line.code] += line.units
    return counts
