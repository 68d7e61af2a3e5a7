"""The code catalog as data (rules.md "Thresholds and caps" and "Fees").

Each code says which program it belongs to, whose minutes count, its minimum, unit step and
cap, the base it adds on to, the tier it belongs to, and the dates of service for which it
is payable. Logic lives in domain.rules; numbers live here, once.
"""

from __future__ import annotations

import enum
from datetime import date
from decimal import Decimal

import msgspec

from domain.reasons import Reason
from domain.vocab import MdmLevel, Program, StaffRole

STAFF = frozenset({StaffRole.CLINICAL_STAFF})
PRACTITIONER = frozenset({StaffRole.PHYSICIAN, StaffRole.QHP})
ANYONE = STAFF | PRACTITIONER


class Kind(enum.StrEnum):
    TIME = "time"  # minutes of the program in the month
    DEVICE = "device"  # days with data in a 30-day device period
    SETUP = "setup"  # device setup, once per episode
    APCM = "apcm"  # APCM level by conditions and QMB
    APCM_ADDON = "apcm_addon"  # APCM behavioral add-ons
    TCM = "tcm"  # transitional care, by contact, visit and MDM
    ASSESSMENT = "assessment"  # G0506, with an extended initiating visit
    EXCLUSION = "exclusion"  # known only to refuse stacking (L-09)


class Need(enum.StrEnum):
    """What a code needs beyond its counts, each judged in domain.rules.codes."""

    INTERACTION = "interaction"  # P-RPM-3, P-RTM-1: an interactive communication in the month
    MONTHLY_MDM = "monthly_mdm"  # P-CCM-5: complex CCM, moderate or high MDM in the month
    QMB = "qmb"  # P-APCM-1: a QMB on every day of the month
    IN_PERSON_START = "in_person_start"  # P-CPM-1: the first month has an in-person visit of 30 minutes
    RATING_SCALE = "rating_scale"  # P-BHI-1: a rating scale this month or the month before


class CodeSpec(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    program: Program | None
    kind: Kind
    roles: frozenset[StaffRole] = ANYONE
    minimum: int | None = None  # minutes or days for the first unit
    maximum: int | None = None  # upper end of a band (99470: 10-19 minutes; 99445: 2-15 days)
    later_minimum: int | None = None  # CoCM 99494: after the first month the threshold is lower
    step: int | None = None  # minutes for each further unit of an add-on
    cap: int | None = 1  # units per period; None: no cap
    base: tuple[str, ...] = ()  # an add-on needs one of these in the same period (G-06)
    tier: str | None = None  # codes of one tier; tiers of a program exclude each other (L-02, L-03)
    alone_in_tier: bool = False  # one code of its tier a month, not a base and its add-ons (P-APCM-1)
    needs: frozenset[Need] = frozenset()
    visit_within: int | None = None  # TCM: days from discharge to the face-to-face visit
    mdm: MdmLevel | None = None  # TCM: the medical decision making the code needs
    first_month: bool | None = None  # CoCM: True only in the first month, False only later
    category: str | None = None  # device codes: the device category they are for
    # Effective dates (rules.md "Effective dates"): the first date of service on which this
    # entry applies, and the first on which the code is no longer payable. A later entry for
    # the same code supersedes this one from its own valid_from (domain.rulebook).
    valid_from: date = date(2000, 1, 1)
    valid_until: date | None = None

    def payable_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day < self.valid_until)


P = Program
T, D = Kind.TIME, Kind.DEVICE
LANE = frozenset({P.CCM, P.PCM, P.APCM})  # L-01: one of them a month
ONE_PRACTITIONER = frozenset({P.CCM, P.PCM, P.APCM, P.RPM, P.RTM, P.TCM})  # G-07
TIERED = frozenset({P.CCM, P.PCM, P.APCM})  # L-02, L-03, P-APCM-1: one tier a month
Y2025, Y2026 = date(2025, 1, 1), date(2026, 1, 1)
# fmt: off
_CODES = [
    # CCM (P-CCM-4..7): three tiers, one per patient-month (L-02).
    CodeSpec(code="99490", program=P.CCM, kind=T, roles=ANYONE, minimum=20, tier="99490"),
    CodeSpec(code="99439", program=P.CCM, kind=T, roles=ANYONE, minimum=40, step=20, cap=2, base=("99490",), tier="99490"),
    CodeSpec(code="99491", program=P.CCM, kind=T, roles=PRACTITIONER, minimum=30, tier="99491"),
    CodeSpec(code="99437", program=P.CCM, kind=T, roles=PRACTITIONER, minimum=60, step=30, cap=2, base=("99491",), tier="99491"),
    CodeSpec(code="99487", program=P.CCM, kind=T, roles=STAFF, minimum=60, tier="99487", needs=frozenset({Need.MONTHLY_MDM})),
    CodeSpec(code="99489", program=P.CCM, kind=T, roles=STAFF, minimum=90, step=30, cap=None, base=("99487",), tier="99487", needs=frozenset({Need.MONTHLY_MDM})),
    CodeSpec(code="G0506", program=P.CCM, kind=Kind.ASSESSMENT),
    # PCM (P-PCM-1): practitioner and staff tiers are not billed together (L-03).
    CodeSpec(code="99424", program=P.PCM, kind=T, roles=PRACTITIONER, minimum=30, tier="practitioner"),
    CodeSpec(code="99425", program=P.PCM, kind=T, roles=PRACTITIONER, minimum=60, step=30, cap=2, base=("99424",), tier="practitioner"),
    CodeSpec(code="99426", program=P.PCM, kind=T, roles=STAFF, minimum=30, tier="staff"),
    CodeSpec(code="99427", program=P.PCM, kind=T, roles=STAFF, minimum=60, step=30, cap=2, base=("99426",), tier="staff"),
    # APCM (P-APCM-1): one level per month; behavioral add-ons (L-05).
    CodeSpec(code="G0556", program=P.APCM, kind=Kind.APCM, alone_in_tier=True, minimum=0, maximum=1, tier="apcm", valid_from=Y2025),
    CodeSpec(code="G0557", program=P.APCM, kind=Kind.APCM, alone_in_tier=True, minimum=2, tier="apcm", valid_from=Y2025),
    CodeSpec(code="G0558", program=P.APCM, kind=Kind.APCM, alone_in_tier=True, minimum=2, tier="apcm", needs=frozenset({Need.QMB}), valid_from=Y2025),
    CodeSpec(code="G0568", program=P.APCM, kind=Kind.APCM_ADDON, base=("G0556", "G0557", "G0558"), valid_from=Y2026),
    CodeSpec(code="G0569", program=P.APCM, kind=Kind.APCM_ADDON, base=("G0556", "G0557", "G0558"), valid_from=Y2026),
    CodeSpec(code="G0570", program=P.APCM, kind=Kind.APCM_ADDON, base=("G0556", "G0557", "G0558"), valid_from=Y2026),
    # RPM (P-RPM-1..3): device codes per 30-day period; management per month.
    CodeSpec(code="99453", program=P.RPM, kind=Kind.SETUP, category="physiologic"),
    CodeSpec(code="99445", program=P.RPM, kind=D, minimum=2, maximum=15, tier="device", category="physiologic", valid_from=Y2026),
    CodeSpec(code="99454", program=P.RPM, kind=D, minimum=16, tier="device", category="physiologic"),
    CodeSpec(code="99470", program=P.RPM, kind=T, minimum=10, maximum=19, tier="interactive", needs=frozenset({Need.INTERACTION}), valid_from=Y2026),
    CodeSpec(code="99457", program=P.RPM, kind=T, minimum=20, tier="interactive", needs=frozenset({Need.INTERACTION})),
    CodeSpec(code="99458", program=P.RPM, kind=T, minimum=40, step=20, cap=2, base=("99457",), tier="interactive", needs=frozenset({Need.INTERACTION})),
    CodeSpec(code="99091", program=P.RPM, kind=T, roles=PRACTITIONER, minimum=30, tier="99091"),
    # RTM (P-RTM-1): as RPM with its own codes.
    CodeSpec(code="98975", program=P.RTM, kind=Kind.SETUP),
    CodeSpec(code="98984", program=P.RTM, kind=D, minimum=2, maximum=15, tier="device", category="respiratory", valid_from=Y2026),
    CodeSpec(code="98976", program=P.RTM, kind=D, minimum=16, tier="device", category="respiratory"),
    CodeSpec(code="98985", program=P.RTM, kind=D, minimum=2, maximum=15, tier="device", category="musculoskeletal", valid_from=Y2026),
    CodeSpec(code="98977", program=P.RTM, kind=D, minimum=16, tier="device", category="musculoskeletal"),
    CodeSpec(code="98979", program=P.RTM, kind=T, minimum=10, maximum=19, tier="interactive", needs=frozenset({Need.INTERACTION}), valid_from=Y2026),
    CodeSpec(code="98980", program=P.RTM, kind=T, minimum=20, tier="interactive", needs=frozenset({Need.INTERACTION})),
    CodeSpec(code="98981", program=P.RTM, kind=T, minimum=40, step=20, cap=2, base=("98980",), tier="interactive", needs=frozenset({Need.INTERACTION})),
    # BHI (P-BHI-1) and CoCM (P-COCM-1, midpoint rule for 99494).
    CodeSpec(code="99484", program=P.BHI, kind=T, roles=STAFF, minimum=20, needs=frozenset({Need.RATING_SCALE})),
    CodeSpec(code="99492", program=P.COCM, kind=T, roles=STAFF, minimum=36, first_month=True, tier="cocm"),
    CodeSpec(code="99493", program=P.COCM, kind=T, roles=STAFF, minimum=31, first_month=False, tier="cocm"),
    CodeSpec(code="99494", program=P.COCM, kind=T, roles=STAFF, minimum=86, later_minimum=76, step=30, cap=None,
             base=("99492", "99493"), tier="cocm"),
    # CPM (P-CPM-1).
    CodeSpec(code="G3002", program=P.CPM, kind=T, roles=PRACTITIONER, minimum=30, needs=frozenset({Need.IN_PERSON_START})),
    CodeSpec(code="G3003", program=P.CPM, kind=T, roles=PRACTITIONER, minimum=45, step=15, cap=None, base=("G3002",)),
    # TCM (P-TCM-1).
    CodeSpec(code="99495", program=P.TCM, kind=Kind.TCM, tier="tcm", visit_within=14, mdm=MdmLevel.MODERATE),
    CodeSpec(code="99496", program=P.TCM, kind=Kind.TCM, tier="tcm", visit_within=7, mdm=MdmLevel.HIGH),
    # Known only so that stacking can refuse them beside CCM (L-09).
    CodeSpec(code="G0181", program=None, kind=Kind.EXCLUSION),
    CodeSpec(code="G0182", program=None, kind=Kind.EXCLUSION),
    *(CodeSpec(code=str(c), program=None, kind=Kind.EXCLUSION) for c in range(90951, 90971)),
    # G-11: retired, with the first date of service on which they are not payable.
    CodeSpec(code="G0511", program=None, kind=Kind.EXCLUSION, valid_until=date(2025, 10, 1)),
    CodeSpec(code="G0512", program=None, kind=Kind.EXCLUSION, valid_until=date(2026, 1, 1)),
    CodeSpec(code="G0071", program=None, kind=Kind.EXCLUSION, valid_until=date(2026, 1, 1)),
]

class Exclusion(msgspec.Struct, frozen=True):
    """Codes that exclude other codes in the same month (or device period): one rule's row.
    `switch` names a Policy flag that turns the row off when false."""

    rule: str
    codes: frozenset[str]
    excludes: frozenset[str]
    reason: Reason
    switch: str | None = None


def _of(program: Program) -> frozenset[str]:
    return frozenset(c.code for c in _CODES if c.program is program)


def _codes(*codes: str) -> frozenset[str]:
    return frozenset(codes)


_CCM_MONTHLY = frozenset(c.code for c in _CODES if c.program is P.CCM and c.kind is Kind.TIME)
_ESRD = _codes("G0181", "G0182", *(str(c) for c in range(90951, 90971)))

# L-08: CCM+RPM, CCM+RTM, CCM+BHI, CCM+TCM, PCM+RPM/RTM, APCM+RPM/RTM, TCM+RPM and CPM+RPM/RTM
# are allowed together, each on its own minutes: no row below excludes them.
# fmt: off
EXCLUSIONS: tuple[Exclusion, ...] = (
    Exclusion("L-04", _of(P.APCM), _codes("99495", "99496"), Reason.LANE_CONFLICT),
    Exclusion("L-05", _codes("G0568", "G0569", "G0570"), _codes("99484", "99492", "99493", "99494"), Reason.CODE_CONFLICT),
    Exclusion("L-06", _codes("99484"), _codes("99492", "99493", "99494"), Reason.CODE_CONFLICT),
    Exclusion("L-06", _codes("99492"), _codes("99493"), Reason.CODE_CONFLICT),
    Exclusion("L-07", _of(P.RPM), _of(P.RTM), Reason.CODE_CONFLICT),
    Exclusion("L-07", _codes("99445"), _codes("99454"), Reason.CODE_CONFLICT),
    Exclusion("L-07", _codes("98984", "98985"), _codes("98976", "98977"), Reason.CODE_CONFLICT),
    Exclusion("L-07", _codes("99470"), _codes("99457", "99458"), Reason.CODE_CONFLICT),
    Exclusion("L-07", _codes("98979"), _codes("98980", "98981"), Reason.CODE_CONFLICT),
    Exclusion("L-07", _codes("99091"), _codes("99457", "99458"), Reason.CODE_CONFLICT, switch="rpm_99091_excludes_99457"),
    Exclusion("L-09", _CCM_MONTHLY, _ESRD, Reason.CODE_CONFLICT),
)
# fmt: on

# Fees (rules.md "Fees"): 2026 national averages, dollars, and work RVUs where given.
FEES_2026: dict[str, tuple[str, str | None]] = {
    "99490": ("66", "1.00"),
    "99439": ("50", "0.70"),
    "99491": ("89", "1.50"),
    "99437": ("63", "1.00"),
    "99487": ("144", "1.81"),
    "99489": ("78", "1.00"),
    "G0506": ("66", "0.87"),
    "99424": ("87", "1.45"),
    "99425": ("61", "1.00"),
    "99426": ("67", "1.00"),
    "99427": ("54", "0.71"),
    "G0556": ("16", "0.25"),
    "G0557": ("53", "0.77"),
    "G0558": ("117", "1.67"),
    "G0568": ("161", "1.88"),
    "G0569": ("146", "2.05"),
    "G0570": ("57", "0.93"),
    "99453": ("21", None),
    "99454": ("52", None),
    "99445": ("52", None),
    "99457": ("51", "0.61"),
    "99458": ("41", "0.61"),
    "99470": ("26", "0.31"),
    "99091": ("55", "1.10"),
    "98975": ("21", None),
    "98976": ("52", None),
    "98977": ("51", None),
    "98984": ("52", None),
    "98985": ("52", None),
    "98979": ("26", "0.31"),
    "98980": ("54", "0.62"),
    "98981": ("41", "0.61"),
    "99484": ("57", "0.93"),
    "99492": ("160", "1.88"),
    "99493": ("145", "2.05"),
    "99494": ("61", "0.82"),
    "G3002": ("86", "1.45"),
    "G3003": ("31", "0.50"),
    "99495": ("220", "2.78"),
    "99496": ("298", "3.79"),
}
# fmt: on

CODES: tuple[CodeSpec, ...] = tuple(_CODES)
# A code's latest entry, for what never changes by year (its program and kind); thresholds
# and dates are read through the rule set of the date of service (domain.rulebook).
CATALOG: dict[str, CodeSpec] = {spec.code: spec for spec in sorted(_CODES, key=lambda s: s.valid_from)}


def lookup(code: str) -> CodeSpec | None:
    return CATALOG.get(code)


class FeeSchedule(msgspec.Struct, frozen=True):
    """Fees and work RVUs by code; `name` says which schedule an estimate used."""

    name: str
    fees: dict[str, Decimal]
    work_rvus: dict[str, Decimal]

    def fee(self, code: str) -> Decimal:
        return self.fees.get(code, Decimal("0"))

    def work_rvu(self, code: str) -> Decimal:
        return self.work_rvus.get(code, Decimal("0"))


DEFAULT_FEES = FeeSchedule(
    name="CMS 2026 national average (rules.md)",
    fees={code: Decimal(fee) for code, (fee, _) in FEES_2026.items()},
    work_rvus={code: Decimal(rvu) for code, (_, rvu) in FEES_2026.items() if rvu is not None},
)
