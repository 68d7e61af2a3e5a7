"""The code catalog as data (rules.md: thresholds and fees tables). Each code carries the
date range in which it may be billed, so history replays under the rules of its year."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import msgspec

from domain.facts import Program


class CodeSpec(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    program: Program | None  # None: codes known only for exclusions (L-09) or retired ones
    fee: Decimal | None = None
    work_rvu: Decimal | None = None
    valid_from: date = date(2000, 1, 1)
    valid_until: date | None = None  # first date of service on which it is no longer payable


def _spec(code: str, program: Program | None, fee: str | None, rvu: str | None = None) -> CodeSpec:
    return CodeSpec(
        code=code,
        program=program,
        fee=None if fee is None else Decimal(fee),
        work_rvu=None if rvu is None else Decimal(rvu),
    )


P = Program
# fmt: off
# 2026 national averages from rules.md ("Fees"); work RVU where the guide gives one.
_CODES = [
    _spec("99490", P.CCM, "66", "1.00"), _spec("99439", P.CCM, "50", "0.70"),
    _spec("99491", P.CCM, "89", "1.50"), _spec("99437", P.CCM, "63", "1.00"),
    _spec("99487", P.CCM, "144", "1.81"), _spec("99489", P.CCM, "78", "1.00"),
    _spec("G0506", P.CCM, "66", "0.87"),
    _spec("99424", P.PCM, "87", "1.45"), _spec("99425", P.PCM, "61", "1.00"),
    _spec("99426", P.PCM, "67", "1.00"), _spec("99427", P.PCM, "54", "0.71"),
    _spec("G0556", P.APCM, "16", "0.25"), _spec("G0557", P.APCM, "53", "0.77"),
    _spec("G0558", P.APCM, "117", "1.67"), _spec("G0568", P.APCM, "161", "1.88"),
    _spec("G0569", P.APCM, "146", "2.05"), _spec("G0570", P.APCM, "57", "0.93"),
    _spec("99453", P.RPM, "21"), _spec("99454", P.RPM, "52"), _spec("99445", P.RPM, "52"),
    _spec("99457", P.RPM, "51", "0.61"), _spec("99458", P.RPM, "41", "0.61"),
    _spec("99470", P.RPM, "26", "0.31"), _spec("99091", P.RPM, "55", "1.10"),
    _spec("98975", P.RTM, "21"), _spec("98976", P.RTM, "52"), _spec("98977", P.RTM, "51"),
    _spec("98984", P.RTM, "52"), _spec("98985", P.RTM, "52"),
    _spec("98979", P.RTM, "26", "0.31"), _spec("98980", P.RTM, "54", "0.62"),
    _spec("98981", P.RTM, "41", "0.61"),
    _spec("99484", P.BHI, "57", "0.93"),
    _spec("99492", P.COCM, "160", "1.88"), _spec("99493", P.COCM, "145", "2.05"),
    _spec("99494", P.COCM, "61", "0.82"),
    _spec("G3002", P.CPM, "86", "1.45"), _spec("G3003", P.CPM, "31", "0.50"),
    _spec("99495", P.TCM, "220", "2.78"), _spec("99496", P.TCM, "298", "3.79"),
    # Known for exclusions only (L-09): hospice/home-health supervision, ESRD monthly.
    _spec("G0181", None, None), _spec("G0182", None, None),
    *(_spec(str(c), None, None) for c in range(90951, 90971)),
]
# fmt: on
# G-11: retired codes, with the first date of service on which they are not payable.
_RETIRED = {
    "G0511": date(2025, 10, 1),
    "G0512": date(2026, 1, 1),
    "G0071": date(2026, 1, 1),
}

CATALOG: dict[str, CodeSpec] = {spec.code: spec for spec in _CODES}
for code, until in _RETIRED.items():
    CATALOG[code] = CodeSpec(code=code, program=None, valid_until=until)


def lookup(code: str) -> CodeSpec | None:
    return CATALOG.get(code)
