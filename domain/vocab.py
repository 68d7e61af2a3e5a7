"""The contract's closed vocabularies: programs, methods, settings, outcomes.

Both the input facts and the stored events use these, so they are a stored format too:
members are added, never renamed or removed (a stored event naming a removed member could
not be read).
"""

from __future__ import annotations

import enum


class Program(enum.StrEnum):
    CCM = "CCM"
    PCM = "PCM"
    APCM = "APCM"
    RPM = "RPM"
    RTM = "RTM"
    BHI = "BHI"
    COCM = "COCM"
    CPM = "CPM"
    TCM = "TCM"


class DeviceProgram(enum.StrEnum):
    RPM = "RPM"
    RTM = "RTM"


class ConsentMethod(enum.StrEnum):
    VERBAL = "verbal"
    WRITTEN = "written"


class VisitType(enum.StrEnum):
    EM = "em"
    AWV = "awv"
    IPPE = "ippe"


class MdmLevel(enum.StrEnum):
    STRAIGHTFORWARD = "straightforward"
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return list(MdmLevel).index(self)


class Setting(enum.StrEnum):
    INPATIENT = "inpatient"
    SNF_PART_A = "snf_part_a"
    INPATIENT_REHAB = "inpatient_rehab"
    HOSPICE = "hospice"
    CUSTODIAL_NF = "custodial_nf"
    ASSISTED_LIVING = "assisted_living"


class ContactMethod(enum.StrEnum):
    PHONE = "phone"
    ELECTRONIC = "electronic"
    IN_PERSON = "in_person"


class StaffRole(enum.StrEnum):
    CLINICAL_STAFF = "clinical_staff"
    PHYSICIAN = "physician"
    QHP = "qhp"


class DeviceCategory(enum.StrEnum):
    PHYSIOLOGIC = "physiologic"
    RESPIRATORY = "respiratory"
    MUSCULOSKELETAL = "musculoskeletal"


class ClaimOutcome(enum.StrEnum):
    PAID = "paid"
    PARTIAL = "partial"
    DENIED = "denied"
    REVERSED = "reversed"


class AdjustmentGroup(enum.StrEnum):
    CO = "CO"
    PR = "PR"
    OA = "OA"
    PI = "PI"
    CR = "CR"


class Sex(enum.StrEnum):
    """As the 837P's DMG03 takes it."""

    FEMALE = "F"
    MALE = "M"
    UNKNOWN = "U"
