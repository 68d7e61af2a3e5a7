"""Which ICD-10-CM codes are chronic conditions: the CMS Chronic Conditions Warehouse (CCW)
categories, as data (domain/data/ccw_chronic_conditions.csv), and the warning a worklist
shows when a condition counted for CCM, PCM or APCM is not chronic by that table although
the sender attested it as placing the patient at significant risk (P-CCM-1, P-PCM-1,
P-APCM-1: the 2026 federal CCM audit's focus).

Source of the table: The Tuva Project, `seeds/value_sets/chronic_conditions/
chronic_conditions__cms_chronic_conditions_hierarchy.csv`, repository
https://github.com/tuva-health/tuva at commit 2577af17b9f385ebbb1774699c173f96df953251
(2024-02-27, v0.7.8-13; the last commit that carries the seed's rows in git: later
versions load it from Tuva's cloud bucket), licensed Apache-2.0 (the repository's
license/license-2.0.txt). Tuva built it from CMS's published CCW condition algorithms. Kept
here: its ICD-10-CM rows of inclusion type "Include" (6,092 code-condition pairs; a code
may belong to several conditions), as `icd10cm,ccw_condition`. Left out: NDC, ICD-10-PCS,
HCPCS, MS-DRG and HCC rows, the "Exclude" rows (claims-level exclusions, not members),
and R75 (an HIV screening result that CCW counts only beside another HIV claim).

The CCW also tracks acute events with a look-back (a myocardial infarction, a stroke, a hip
fracture, pneumonia, acute hepatitis). They are categories here but not chronic: EPISODIC.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from functools import cache
from importlib import resources

from domain import records
from domain.rules.eligibility import QUALIFYING, active_conditions
from domain.rules.view import MonthView
from domain.vocab import Program

TABLE = "ccw_chronic_conditions.csv"
COUNTED_PROGRAMS = frozenset({Program.CCM, Program.PCM, Program.APCM})  # the programs counting conditions as chronic

# CCW categories that are acute events, counted by CCW over a look-back year, never
# conditions expected to last 12 months (their lasting forms have codes of their own,
# such as I69 sequelae of stroke or B18 chronic viral hepatitis).
EPISODIC = frozenset({
    "Acute Myocardial Infarction",
    "Hip/Pelvic Fracture",
    "Pneumonia, All-cause",
    "Stroke/Transient Ischemic Attack",
    "Hepatitis A",
    "Hepatitis B (acute or unspecified)",
    "Hepatitis C (acute)",
    "Hepatitis E",
})  # fmt: skip


@cache
def _table() -> dict[str, tuple[str, ...]]:
    """Code (no dot) -> its CCW conditions, in the table's order."""
    found: dict[str, list[str]] = {}
    text = resources.files("domain").joinpath("data", TABLE).read_text(encoding="utf-8")
    for row in csv.DictReader(text.splitlines()):
        found.setdefault(row["icd10cm"], []).append(row["ccw_condition"])
    return {code: tuple(conditions) for code, conditions in found.items()}


def normal(icd10: str) -> str:
    """The code as the table spells it: upper case, no dot, no spaces."""
    return icd10.strip().upper().replace(".", "").replace(" ", "")


def categories(icd10: str) -> tuple[str, ...]:
    """The CCW conditions of a code: its own row, else its nearest listed ancestor's (codes
    added to ICD-10-CM under a code that was complete when the table was made, e.g. F42.2
    under F42, G20.A1 under G20)."""
    table, code = _table(), normal(icd10)
    for end in range(len(code), 2, -1):
        found = table.get(code[:end])
        if found:
            return found
    return ()


def category(icd10: str) -> str | None:
    """The code's CCW condition (the first, when CCW lists it under several), or None."""
    found = categories(icd10)
    return found[0] if found else None


def is_chronic(icd10: str) -> bool:
    """In a CCW category that is not an acute event."""
    return any(c not in EPISODIC for c in categories(icd10))


def counted(condition: records.ConditionDiagnosed) -> bool:
    """Counted toward CCM or PCM: attested at significant risk and lasting long enough
    (domain.rules.eligibility's QUALIFYING, so the two never drift apart)."""
    return any(QUALIFYING[p][0](condition) for p in (Program.CCM, Program.PCM))


def not_chronic(conditions: Iterable[records.ConditionDiagnosed]) -> list[str]:
    """The codes among counted conditions that the CCW table does not hold chronic."""
    return sorted({c.condition_id for c in conditions if counted(c) and not is_chronic(c.condition_id)})


def counted_if_chronic(view: MonthView, program: Program) -> int:
    """Conditions active in the month that count for CCM, PCM or APCM and are chronic by the
    table: what a gate compares with the program's minimum (2, 1, 2) when a practice turns
    the warning into a refusal (policy switch `refuse_non_chronic`)."""
    qualifies = _apcm_counts if program is Program.APCM else QUALIFYING[program][0]
    return len({c.condition_id for c in active_conditions(view) if qualifies(c) and is_chronic(c.condition_id)})


def _apcm_counts(condition: records.ConditionDiagnosed) -> bool:
    """P-APCM-1: a chronic condition is one expected to last 12 months (eligibility.chronic_count)."""
    return condition.expected_duration_months >= 12


def chronic_warning(view: MonthView) -> str | None:
    """A sentence for the worklist when conditions active in the month are counted as
    chronic (significant_risk attested) but are not chronic by the CCW table; None when
    every counted condition is. Names codes only, never descriptions (no PHI beyond codes)."""
    active = active_conditions(view)
    flagged = not_chronic(active)
    if not flagged:
        return None
    kept = {c.condition_id for c in active if counted(c) and c.condition_id not in flagged}
    named = ", ".join(f"{code} ({category(code) or 'not in CCW'})" for code in flagged)
    return (
        f"attested at significant risk but not a chronic condition by the CMS CCW table: {named}; "
        f"{len(kept)} counted condition{'s' if len(kept) != 1 else ''} remain{'s' if len(kept) == 1 else ''}"
    )
