"""Practice-level settings that rules read. Each default is the stricter reading of rules.md;
the alternative is a documented switch (README, "Policy switches"), never a silent choice."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from zoneinfo import ZoneInfo

import msgspec


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    # G-01: months are calendar months in the practice's time zone.
    timezone: str = "America/New_York"
    # G-13: a fact recorded more than this long after it happened is flagged late.
    late_after: timedelta = timedelta(days=7)
    # G-13: clocks of sending systems drift; an instant this far ahead is not "future".
    clock_tolerance: timedelta = timedelta(minutes=5)
    # G-09: consent is needed for RPM/RTM too (sources disagree).
    device_consent_required: bool = True
    # G-10: no CCM/PCM minutes during a hospice election (one source says ineligible).
    hospice_excludes_ccm_pcm: bool = True
    # L-01: the CCM/PCM/APCM lane holds whichever practitioner bills; False: only the same one.
    lane_across_practitioners: bool = True
    # L-07: 99091 is not billed with 99457 in the same month (CPT).
    rpm_99091_excludes_99457: bool = True
    # P-CCM-3: a care plan established by the service month's last day counts (establishing
    # it is part of CCM's service); True requires one established before the month began.
    care_plan_before_month: bool = False
    # G-15: a claim waits for its period to end; True lets a monthly code be claimed once its
    # threshold is met (payers that accept it).
    bill_when_threshold_met: bool = False
    # P-CCM-1/P-PCM-1/P-APCM-1: a counted condition the CMS CCW table does not hold chronic is
    # a worklist warning; True refuses the claim (CONDITIONS_INSUFFICIENT).
    refuse_non_chronic: bool = False
    # P-RPM-1: data keyed by hand is not a device day; True for payers that count it.
    manual_readings_count: bool = False
    # P-CCM-5 (99437 cap 2, sources differ) and P-RPM-3 (99458 cap 2; the MUE is 3).
    cap_overrides: dict[str, int] = msgspec.field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return _zone(self.timezone)

    def cap(self, code: str, default: int | None) -> int | None:
        return self.cap_overrides.get(code, default)


DEFAULT_POLICY = Policy()


@cache
def _zone(name: str) -> ZoneInfo:
    """ZoneInfo keeps its own cache, but asking it costs a constructor call per use: the
    rules ask for the zone several times per fact."""
    return ZoneInfo(name)
