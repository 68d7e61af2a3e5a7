"""`carelane self-audit`: the checks a federal auditor runs (OIG A-07-19-05122; the 2026 CCM
audit of P-CCM-1) over every claim on record in a range of months: those the ledger gated
and historical ones billed before it or by another system (read by adapters.historical and
held in memory for the run, never recorded). Each finding names the claim, the rule, the
money at stake and the date by which an overpayment must be reported and returned: 60 days
from its identification (today), or G-16's own date for a claim the ledger found unsupported.

The claim-set checks are projections.audit_checks'; here are the ones that read the
patient's record (conditions, consent, initiating visit, minutes) and the assembly."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import msgspec

from domain.catalog import DEFAULT_FEES, FeeSchedule, Kind, lookup
from domain.decisions.patient_facts import MBI, mbi
from domain.facts import Program
from domain.identity import Identity
from domain.keys import identity_key, patient_key
from domain.ledger import Ledger
from domain.month import Month
from domain.patient import Patient
from domain.reasons import Reason
from domain.rules import eligibility
from domain.rules.codes import allowance
from domain.rules.gate import merged as units_per_code
from domain.rules.view import MonthView
from domain.state import REPAY_DAYS, Claim
from domain.timing import local_day
from projections import audit_checks as checks
from projections.audit_checks import AtIssue, AuditClaim, Issue, money as _money, priced

LEDGER = "ledger"
# Codes whose program's prerequisites are judged (as domain.rules.codes.allowance does).
PREREQUISITES = frozenset({Kind.TIME, Kind.DEVICE, Kind.SETUP, Kind.APCM, Kind.APCM_ADDON})
QUALIFYING_RULES = {Program.CCM: "P-CCM-1", Program.PCM: "P-PCM-1", Program.BHI: "P-BHI-1", Program.CPM: "P-CPM-1"}
VISIT_RULES = {Program.CCM: "P-CCM-2", Program.APCM: "P-APCM-1"}


class HistoricalClaim(msgspec.Struct, frozen=True, kw_only=True):
    """A claim billed outside the ledger: the patient by id or by Medicare id."""

    claim_id: str
    source: str  # the file it was read from
    billing_provider_npi: str
    lines: tuple[tuple[str, int], ...]
    service_month: str
    service_on: date | None = None
    patient_id: str | None = None
    medicare_id: str | None = None
    charged: Decimal | None = None
    paid: Decimal | None = None


class Finding(msgspec.Struct, frozen=True):
    rule: str  # rules.md id
    reason: str  # interface.md reason code
    claim_id: str
    source: str
    patient_id: str
    month: str
    codes: list[AtIssue]
    amount: str
    detail: str
    related: list[str]  # the other claims involved, as "ID (source)"
    identified_on: str
    report_by: str  # report and return an overpayment by this date


class NotJudged(msgspec.Struct, frozen=True):
    claim_id: str
    source: str
    patient_id: str
    month: str
    checks: list[str]
    why: str


class SelfAudit(msgspec.Struct, frozen=True):
    first_month: str
    last_month: str
    identified_on: str
    fee_schedule: str
    claims: int
    historical: int
    findings: list[Finding]
    amount: str  # each claim's code counted once, however many findings name it
    not_judged: list[NotJudged]
    already_on_ledger: list[str]  # historical claims that are the ledger's own (same id and patient)


@dataclass
class Gathered:
    claims: list[AuditClaim] = field(default_factory=list)
    views: dict[tuple[str, str], MonthView] = field(default_factory=dict)
    already: list[str] = field(default_factory=list)


def run(
    ledger: Ledger, first: str, last: str, patients: Callable[[str], Sequence[str]],
    historical: Sequence[HistoricalClaim] = (), fees: FeeSchedule = DEFAULT_FEES, today: date | None = None,
) -> SelfAudit:  # fmt: skip
    """The self-audit of the months `first` to `last`; `patients(month)` names the patients
    with activity in a month."""
    today = today or local_day(ledger.clock(), ledger.policy)
    months = Month(first).through(last)
    got = gather(ledger, months, patients, [h for h in historical if h.service_month in months])
    issues, unjudged = _record_issues(got)
    issues += checks.duplicates(got.claims) + checks.overlaps(got.claims, checks.overlap_pairs(ledger.policy))
    issues += checks.addons(got.claims, checks.index(issues))
    # Stable: a claim's findings keep the checks' order, an overpaid base before its add-ons.
    found = sorted(checks.merged(issues), key=lambda i: (i.claim.month, i.claim.patient_id, i.claim.order))
    findings = [_finding(i, fees, today) for i in found]
    stake: dict[tuple[str, str, str], Decimal] = {}
    for issue, finding in zip(found, findings, strict=True):
        for at in finding.codes:
            key = (*issue.claim.key, at.code)
            stake[key] = max(stake.get(key, Decimal(0)), Decimal(at.amount))
    return SelfAudit(first, last, today.isoformat(), fees.name, len(got.claims),
                     sum(c.source != LEDGER for c in got.claims), findings, _money(sum(stake.values(), Decimal(0))),
                     unjudged, got.already)  # fmt: skip


def gather(ledger: Ledger, months: list[str], patients: Callable[[str], Sequence[str]],
           historical: Sequence[HistoricalClaim]) -> Gathered:  # fmt: skip
    """The ledger's live claims of the months (unsupported ones included; a voided claim
    frees its codes, G-08) and the historical ones, with the record views they need."""
    got = Gathered()
    for month in months:
        for view in ledger.month_views_of(list(patients(month)), month):
            got.views[(view.patient.patient_id, month)] = view
            claims = view.current.claims.values() if view.current is not None else ()
            for claim in claims:
                if claim.live:
                    got.claims.append(_from_ledger(claim, view.month, len(historical) + len(got.claims)))
    ours = {(c.patient_id, claim_number(c.claim_id)) for c in got.claims}
    resolved = _resolve(ledger, historical)
    latest: dict[tuple[str, str, str], AuditClaim] = {}
    for order, (h, (patient_id, _)) in enumerate(zip(historical, resolved, strict=True)):
        if (patient_id, claim_number(h.claim_id)) in ours:
            got.already.append(f"{h.claim_id} ({h.source})")
            continue
        # The same claim id for the same patient and month is one claim read twice (a resend
        # or a replacement): the last one read stands.
        latest[(patient_id, h.service_month, h.claim_id)] = _from_history(h, patient_id, order)
    got.claims[:0] = sorted(latest.values(), key=lambda c: c.order)
    known = {patient_id for patient_id, is_known in resolved if is_known}
    wanted = [(c.patient_id, c.month) for c in got.claims if c.patient_id in known]
    missing = [pm for pm in dict.fromkeys(wanted) if pm not in got.views]
    got.views |= {pm: view for pm, view in ledger.month_views(missing).items() if view is not None}
    return got


def claim_number(claim_id: str) -> str:
    """A claim id as an 837's CLM01 carries it (adapters.x837.claim_number), so that a
    historical file the ledger itself exported matches the ledger's claims."""
    return re.sub(r"[^A-Za-z0-9-]", "", claim_id)[:20]


def _resolve(ledger: Ledger, historical: Sequence[HistoricalClaim]) -> list[tuple[str, bool]]:
    """Each claim's patient and whether the ledger holds their record: the patient id given,
    else the patient the Medicare id is bound to, else the Medicare id itself as the key."""
    cache: dict[str, tuple[str, bool]] = {}
    out = []
    for h in historical:
        key = f"id:{h.patient_id}" if h.patient_id else f"mbi:{mbi(h.medicare_id) or ''}"
        if key not in cache:
            cache[key] = _patient_of(ledger, h)
        out.append(cache[key])
    return out


def _patient_of(ledger: Ledger, h: HistoricalClaim) -> tuple[str, bool]:
    if h.patient_id:
        return h.patient_id, ledger.load(patient_key(h.patient_id)) is not None
    number = mbi(h.medicare_id) or ""
    bound = ledger.load(identity_key(MBI, number))
    home = ledger.load(bound.home_id) if isinstance(bound, Identity) else None
    return (home.patient_id, True) if isinstance(home, Patient) else (number, False)


def _from_ledger(claim: Claim, month: str, order: int) -> AuditClaim:
    s = claim.submitted
    last = claim.adjudications[-1] if claim.adjudications else None
    by_code: dict[str, Decimal] = {}
    for line in (last.lines or []) if last is not None and claim.paid else []:
        if line.paid is not None:
            by_code[line.code] = by_code.get(line.code, Decimal(0)) + line.paid
    reasons = tuple(r.message for r in claim.withdrawn.reasons) if claim.withdrawn is not None else ()
    return AuditClaim(s.claim_id, LEDGER, s.patient_id, month, s.billing_provider_npi,
                      tuple(units_per_code(s).items()), order, s.service_on, claim.status,
                      None if last is None else claim.paid_amount, tuple(by_code.items()), claim.repay_by,
                      reasons)  # fmt: skip


def _from_history(h: HistoricalClaim, patient_id: str, order: int) -> AuditClaim:
    units: dict[str, int] = {}
    for code, n in h.lines:
        units[code] = units.get(code, 0) + n
    return AuditClaim(h.claim_id, h.source, patient_id, h.service_month, h.billing_provider_npi,
                      tuple(units.items()), order, h.service_on, paid=h.paid)  # fmt: skip


def _record_issues(got: Gathered) -> tuple[list[Issue], list[NotJudged]]:
    """G-16 for claims the ledger found unsupported (their record was judged when support
    was withdrawn); the record checks for the rest, where the ledger holds the record."""
    issues: list[Issue] = []
    unjudged: list[NotJudged] = []
    for claim in got.claims:
        if claim.status == "unsupported":
            detail = "support withdrawn after it was accepted: " + "; ".join(claim.withdrawn)
            issues.append(Issue("G-16", Reason.SUPPORT_WITHDRAWN, claim, claim.lines, detail))
            continue
        view = got.views.get((claim.patient_id, claim.month))
        timed = view is not None and (claim.source == LEDGER or _timed(claim, view))
        skipped = _checks_of(claim, record=view is None, minutes=not timed)
        if skipped:
            why = "the ledger holds no record of this patient" if view is None else "no minutes on record that month"
            unjudged.append(NotJudged(claim.claim_id, claim.source, claim.patient_id, claim.month, skipped, why))
        if view is not None:
            issues += prerequisites(claim, view) + (minutes_short(claim, view) if timed else [])
    return issues, unjudged


def _programs(claim: AuditClaim) -> dict[Program, tuple[tuple[str, int], ...]]:
    out: dict[Program, tuple[tuple[str, int], ...]] = {}
    for code, units in claim.lines:
        spec = lookup(code)
        if spec is not None and spec.program is not None and spec.kind in PREREQUISITES:
            out[spec.program] = (*out.get(spec.program, ()), (code, units))
    return out


def _timed(claim: AuditClaim, view: MonthView) -> bool:
    return any(view.entries(p) for p in _programs(claim))


def _checks_of(claim: AuditClaim, *, record: bool, minutes: bool) -> list[str]:
    out: list[str] = []
    for program in _programs(claim) if record else ():
        rules = [QUALIFYING_RULES.get(program), "G-09", VISIT_RULES.get(program)]
        out += [f"{rule} {program}" for rule in rules if rule is not None]
    timed = any((spec := lookup(code)) is not None and spec.kind is Kind.TIME for code, _ in claim.lines)
    return out + (["G-05 minutes"] if minutes and timed else [])


def prerequisites(claim: AuditClaim, view: MonthView) -> list[Issue]:
    """P-CCM-1 (and each program's qualifying conditions), G-09 consent, P-CCM-2 initiating
    visit, judged on the record as it stands for the claim's month."""
    on = claim.service_on or view.last
    out = []
    for program, lines in _programs(claim).items():
        judged = [(QUALIFYING_RULES.get(program), eligibility.conditions(view, program)),
                  ("G-09", eligibility.consent(view, program, on)),
                  (VISIT_RULES.get(program), eligibility.initiating_visit(view, program, claim.npi))]  # fmt: skip
        out += [Issue(rule, r.code, claim, lines, r.message) for rule, reasons in judged if rule for r in reasons]
    return out


def minutes_short(claim: AuditClaim, view: MonthView) -> list[Issue]:
    """G-05 (P-CCM-5 for the performer): units beyond what the minutes on record support."""
    out = []
    rules = view.rules_on(claim.service_on or view.first)
    for code, units in claim.lines:
        spec = rules.spec(code)
        if spec is None or spec.kind is not Kind.TIME:
            continue
        a = allowance(spec, view, claim.npi, claim.service_on)
        if a.past_band is not None or units <= a.supported:
            continue  # past a band is under-coded, not over
        short = next((r for r in a.reasons if r.code in (Reason.UNDER_THRESHOLD, Reason.WRONG_PERFORMER)), None)
        short = short or a.next_unit
        performer = short is not None and short.code is Reason.WRONG_PERFORMER
        rule, reason = ("P-CCM-5", Reason.WRONG_PERFORMER) if performer else ("G-05", Reason.UNDER_THRESHOLD)
        why = f" ({short.message})" if short is not None else ""
        detail = f"{code} x{units}: the minutes on record support {a.supported}{why}"
        out.append(Issue(rule, reason, claim, ((code, units - a.supported),), detail))
    return out


def _finding(issue: Issue, fees: FeeSchedule, today: date) -> Finding:
    claim = issue.claim
    codes = [priced(claim, code, units, fees) for code, units in issue.codes]
    due = claim.repay_by if issue.rule == "G-16" and claim.repay_by is not None else today + timedelta(REPAY_DAYS)
    return Finding(issue.rule, issue.reason.value, claim.claim_id, claim.source, claim.patient_id, claim.month, codes,
                   _money(sum((Decimal(c.amount) for c in codes), Decimal(0))), issue.detail,
                   [f"{c.claim_id} ({c.source})" for c in issue.related], today.isoformat(),
                   due.isoformat())  # fmt: skip
