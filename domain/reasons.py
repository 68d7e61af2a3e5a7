"""Reason codes (interface.md section 2) and the typed refusal that carries them."""

from __future__ import annotations

import enum

import msgspec


class Reason(enum.StrEnum):
    CONSENT_MISSING = "CONSENT_MISSING"
    CONSENT_INCOMPLETE = "CONSENT_INCOMPLETE"
    CONSENT_REVOKED = "CONSENT_REVOKED"
    INITIATING_VISIT_MISSING = "INITIATING_VISIT_MISSING"
    INITIATING_VISIT_STALE = "INITIATING_VISIT_STALE"
    CARE_PLAN_MISSING = "CARE_PLAN_MISSING"
    CONDITIONS_INSUFFICIENT = "CONDITIONS_INSUFFICIENT"
    QMB_REQUIRED = "QMB_REQUIRED"
    UNDER_THRESHOLD = "UNDER_THRESHOLD"
    WRONG_PERFORMER = "WRONG_PERFORMER"
    ADDON_WITHOUT_BASE = "ADDON_WITHOUT_BASE"
    ADDON_CAP_EXCEEDED = "ADDON_CAP_EXCEEDED"
    LANE_CONFLICT = "LANE_CONFLICT"
    TIER_CONFLICT = "TIER_CONFLICT"
    CODE_CONFLICT = "CODE_CONFLICT"
    PROVIDER_CONFLICT = "PROVIDER_CONFLICT"
    DUPLICATE_CLAIM = "DUPLICATE_CLAIM"
    TIME_OVERLAP = "TIME_OVERLAP"
    TIME_ALREADY_COUNTED = "TIME_ALREADY_COUNTED"
    FACE_TO_FACE_TIME = "FACE_TO_FACE_TIME"
    FACILITY_EXCLUSION = "FACILITY_EXCLUSION"
    MDM_INSUFFICIENT = "MDM_INSUFFICIENT"
    DEVICE_DAYS_INSUFFICIENT = "DEVICE_DAYS_INSUFFICIENT"
    SETUP_ALREADY_BILLED = "SETUP_ALREADY_BILLED"
    TCM_CONTACT_LATE = "TCM_CONTACT_LATE"
    TCM_VISIT_LATE = "TCM_VISIT_LATE"
    TCM_ALREADY_BILLED = "TCM_ALREADY_BILLED"
    CODE_RETIRED = "CODE_RETIRED"
    CODE_UNKNOWN = "CODE_UNKNOWN"
    PERIOD_OPEN = "PERIOD_OPEN"
    ID_REUSED = "ID_REUSED"
    UNKNOWN_PATIENT = "UNKNOWN_PATIENT"
    UNKNOWN_CLAIM = "UNKNOWN_CLAIM"
    FUTURE_DATED = "FUTURE_DATED"
    CODE_NOT_YET_EFFECTIVE = "CODE_NOT_YET_EFFECTIVE"
    SUPPORT_WITHDRAWN = "SUPPORT_WITHDRAWN"  # a claim's status, never a refusal (G-16)
    PATIENT_DECEASED = "PATIENT_DECEASED"
    UNKNOWN_PRACTICE = "UNKNOWN_PRACTICE"
    # Extensions (interface.md allows new codes; none reuses an old meaning).
    UNKNOWN_ENTRY = "UNKNOWN_ENTRY"
    UNKNOWN_REFERENCE = "UNKNOWN_REFERENCE"
    ALREADY_VOIDED = "ALREADY_VOIDED"
    INTERACTION_MISSING = "INTERACTION_MISSING"  # RPM/RTM management without interactive contact
    RATING_SCALE_MISSING = "RATING_SCALE_MISSING"  # BHI without a rating scale in the month or before
    DISCHARGE_INELIGIBLE = "DISCHARGE_INELIGIBLE"  # a discharge that is not a TCM transition
    BUSY = "BUSY"  # not recorded: other writers kept winning the race; send the line again
    ADJUDICATION_CONFLICT = "ADJUDICATION_CONFLICT"  # a payer answer contradicting one on file
    BAND_EXCEEDED = "BAND_EXCEEDED"  # the record is past the code's band: the next code applies
    HIGHER_PAYING_OPTION = "HIGHER_PAYING_OPTION"  # worklist: held back, a compliant option pays more
    STAY_DATES_CONFLICT = "STAY_DATES_CONFLICT"  # a stay ending before it began, or ending twice on other days


class Because(msgspec.Struct, frozen=True, omit_defaults=True):
    """One reason a fact was refused: a code and a sentence a biller understands; for a count
    short of its threshold, also what the record has, what it needs, and in what unit."""

    code: Reason
    message: str
    have: int | None = None
    need: int | None = None
    unit: str | None = None  # "minutes" or "days"


class Refused(Exception):
    """A fact that would break a rule. Raised by the aggregate that owns the rule."""

    def __init__(self, *reasons: Because) -> None:
        if not reasons:
            raise ValueError("a refusal needs at least one reason")
        self.reasons: tuple[Because, ...] = reasons
        super().__init__("; ".join(f"{r.code}: {r.message}" for r in reasons))

    @classmethod
    def one(cls, code: Reason, message: str) -> Refused:
        return cls(Because(code, message))

    @property
    def codes(self) -> list[Reason]:
        return [r.code for r in self.reasons]
