"""When facts happened: months in the practice's zone (G-01) and future or late facts (G-13)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import msgspec

from domain import facts
from domain.month import Month, month_of_day
from domain.policy import Policy
from domain.reasons import Reason, Refused


def month_of(when: date | datetime, policy: Policy) -> str:
    """G-01: the calendar month in the practice's time zone."""
    if isinstance(when, datetime):
        when = when.astimezone(policy.zone).date()
    return month_of_day(when)


def local_day(when: datetime, policy: Policy) -> date:
    return when.astimezone(policy.zone).date()


def local_days(start: datetime, end: datetime, policy: Policy) -> list[date]:
    """Every local calendar day the interval [start, end) touches."""
    first, last = local_day(start, policy), local_day(end - timedelta(microseconds=1), policy)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def refuse_future(fact: facts.Fact, recorded_at: datetime, policy: Policy) -> None:
    """G-13: a fact dated after the moment it is recorded is refused (FUTURE_DATED)."""
    when = happened(fact)
    if isinstance(fact, facts.ClaimSubmitted) and fact.service_month is not None:
        when = Month(fact.service_month).first
    if isinstance(fact, facts.TimeLogged):
        when = fact.started_at + timedelta(minutes=fact.minutes)  # the work must be over
    if when is None:
        return
    if isinstance(when, datetime):
        future = when > recorded_at + policy.clock_tolerance
    else:
        future = when > local_day(recorded_at, policy)
    if future:
        raise Refused.one(
            Reason.FUTURE_DATED,
            f"{type(fact).__name__} is dated {when.isoformat()}, after it was recorded "
            f"({recorded_at.isoformat(timespec='seconds')}); facts are recorded once they happen",
        )


def is_late(fact: facts.Fact, recorded_at: datetime, policy: Policy) -> bool:
    """G-13: recorded more than `policy.late_after` after it happened (flagged, not refused)."""
    when = happened(fact)
    if when is None:
        return False
    if not isinstance(when, datetime):
        # A date's work may run until its end in the practice's zone.
        when = datetime.combine(when + timedelta(days=1), datetime.min.time(), policy.zone)
    return recorded_at - when > policy.late_after


# The field that says when each fact happened (G-13 compares it with recorded_at), by fact
# type name: an input fact and its stored record (domain.records) answer alike.
WHEN_FIELD: dict[str, str] = {
    "QmbStatusChanged": "effective_on",
    "ConditionDiagnosed": "diagnosed_on",
    "ConditionResolved": "resolved_on",
    "ConsentRecorded": "recorded_on",
    "ConsentRevoked": "revoked_on",
    "InitiatingVisitRecorded": "visit_on",
    "CarePlanEstablished": "established_on",
    "CarePlanRevised": "revised_on",
    "MedicalDecisionMaking": "decided_on",
    "FacilityStayStarted": "started_on",
    "FacilityStayEnded": "ended_on",
    "Discharged": "discharged_on",
    "TransitionContactMade": "contacted_on",
    "FaceToFaceVisitRecorded": "visit_on",
    "TimeLogged": "started_at",
    "DeviceSetup": "setup_on",
    "DataTransmitted": "transmitted_on",
    "RatingScaleAdministered": "administered_on",
    "ClaimSubmitted": "service_on",
    "ClaimAdjudicated": "paid_on",
    "PatientDied": "died_on",
    "PatientDemographicsRecorded": "effective_on",
}


def happened(fact: msgspec.Struct) -> date | datetime | None:
    """When the fact itself happened, or None for facts with no date of their own."""
    field = WHEN_FIELD.get(type(fact).__name__)
    return None if field is None else getattr(fact, field)
