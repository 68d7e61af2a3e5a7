"""Renewals coming due for a patient: what will stop a program being billed on a known date
unless someone acts first, each with that date and what to do.

- Initiating visit (P-CCM-2, P-APCM-1): a visit initiates a program only for a first month
  within the rule year's look-back (CCM 12 months, APCM 3 years: the rulebook's data) after
  it. Once a program has had its first month, that judgement is settled; before it, the
  last first month the latest visit still initiates is the date to start by.
- Consent (G-09): a revocation takes effect at the end of its calendar month; a consent that
  does not record cost-sharing and the one-practitioner rule as explained bills nothing.
- QMB (P-APCM-1): codes needing QMB status on every day of a month stop the month before a
  change to "not QMB" takes effect.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import msgspec

from domain import facts
from domain.catalog import Need
from domain.month import month_bounds, month_of_day, shift_month
from domain.reasons import Reason
from domain.rules import eligibility
from domain.rules.assess import billing_npi
from domain.rules.codes import qmb_on
from domain.rules.view import MonthView

P = facts.Program
VISIT_RULE = {P.CCM: "P-CCM-2", P.APCM: "P-APCM-1"}  # where each program's look-back is written


class Renewal(msgspec.Struct):
    patient_id: str
    kind: str  # "initiating_visit", "consent_revoked", "consent_incomplete" or "qmb_ending"
    program: str | None
    rule: str
    due_on: str
    days_until: int  # from as_of; negative when overdue
    status: str  # "due" or "overdue"
    detail: str
    action: str


def renewals(view: MonthView, as_of: date, through: date) -> list[Renewal]:
    """The patient's renewals due on or before `through`."""
    found = [*_visits(view), *_consents(view), *_qmb(view)]
    out = []
    for kind, program, rule, due, detail, action in found:
        if due <= through:
            days = (due - as_of).days
            status = "overdue" if days < 0 else "due"
            out.append(Renewal(view.patient.patient_id, kind, program, rule, due.isoformat(), days, status, detail,
                               action))  # fmt: skip
    return out


Found = tuple[str, str | None, str, date, str, str]


def _visits(view: MonthView) -> Iterator[Found]:
    """P-CCM-2, P-APCM-1: for a program not yet past its first month, the last day of the
    last first month the latest initiating visit still initiates."""
    npi = billing_npi(view)
    for program, lookback in view.rules.year.visit_lookback_months.items():
        first = view.patient.first_service(program)
        if first is not None and first < view.month:
            continue  # the first month is behind us: its visit was judged then, for good
        if first is None and eligibility.consent_in_force(view, program, view.last) is None:
            continue  # no service and no consent: the patient is not starting this program
        visits = [
            v.visit_on for v in view.patient.initiating_visits.values()
            if (npi is None or v.provider_npi == npi) and (first is None or v.visit_on <= view.last)
        ]  # fmt: skip
        if not visits:
            continue  # INITIATING_VISIT_MISSING: the worklist says so; nothing to renew
        latest = max(visits)
        last_first = shift_month(month_of_day(latest), lookback)
        due = month_bounds(last_first)[1]
        if first == view.month and due >= view.last:
            continue  # this month is the first, and the visit initiates it
        who = f" by {npi}" if npi else ""
        rule = VISIT_RULE.get(program, VISIT_RULE[P.CCM])
        detail = f"last initiating visit{who} {latest} initiates {program} only for a first month up to {last_first}"
        if first == view.month or due < view.first:
            action = f"record a new initiating visit (E/M, AWV or IPPE){who} before {program} is billed"
        else:
            action = (f"start {program} (a first service) by {due}, or record a new initiating visit{who} "
                      "before its first month")  # fmt: skip
        yield "initiating_visit", program.value, rule, due, detail, action


def _consents(view: MonthView) -> Iterator[Found]:
    """G-09: consents revoked (effective at the end of the revocation's month, listed from
    the month that ends) and consents that bill nothing until completed."""
    for program in view.patient.consents:
        latest = eligibility.consent_in_force(view, program, view.last)
        if latest is None:
            continue
        since = [r for r in view.patient.revocations.get(program, []) if r >= latest.recorded.recorded_on]
        if since:
            ends = month_bounds(month_of_day(min(since)))[1]
            if ends >= view.first:
                detail = f"{program} consent revoked on {min(since)}; it ends {ends}"
                action = f"no {program} service after {ends}; a new consent is needed to resume"
                yield "consent_revoked", program.value, "G-09", ends, detail, action
            continue
        for why in eligibility.consent(view, program, view.last):
            if why.code is Reason.CONSENT_INCOMPLETE:
                action = (f"record a new {program} consent stating that cost-sharing and the one-practitioner "
                          f"rule were explained, by {view.last}, to bill {view.month}")  # fmt: skip
                yield "consent_incomplete", program.value, "G-09", view.last, why.message, action


def _qmb(view: MonthView) -> Iterator[Found]:
    """P-APCM-1: a change to "not QMB" taking effect from the month's first day on."""
    changes = sorted(view.patient.qmb, key=lambda c: c[0] or date.min)
    needing = sorted(s.code for s in view.rules.codes.values() if Need.QMB in s.needs)
    before = False
    for effective, qmb in changes:
        if effective is not None and before and not qmb_on(changes, effective) and effective >= view.first:
            ends = month_of_day(effective)
            codes = ", ".join(needing) or "codes needing QMB status"
            detail = f"QMB status ends {effective}"
            action = (f"confirm the QMB renewal with the state Medicaid agency; otherwise {codes} "
                      f"(QMB every day of the month) is billable through {shift_month(ends, -1)} only")  # fmt: skip
            yield "qmb_ending", None, "P-APCM-1", effective, detail, action
        before = qmb if effective is None else qmb_on(changes, effective)
