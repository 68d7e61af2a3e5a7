"""The billing worklist for a month (interface.md section 4).

Patient-months with activity are found by reading the notification log for the events that
start activity in a month; each row is the rules' assessment of that patient-month. (A
tracked, incrementally maintained view replaces the log scan in the projections issue.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from domain.catalog import DEFAULT_FEES, FeeSchedule
from domain.ledger import Ledger
from domain.patient import Patient
from domain.patient_month import PatientMonth
from domain.rules.assess import WorklistRow, assess

PAGE = 1000
# Events that give a patient activity in a month, and the date (or month) each carries.
_TOPICS = [
    PatientMonth.Opened.TOPIC,
    Patient.Discharged.TOPIC,
    Patient.FaceToFaceVisitRecorded.TOPIC,
    Patient.InitiatingVisitRecorded.TOPIC,
    Patient.DeviceSetup.TOPIC,
]


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def patients_active_in(ledger: Ledger, month: str) -> list[str]:
    """Patient ids with activity in `month`, in the order they first became active."""
    found: dict[str, None] = {}
    for event in _events(ledger):
        if isinstance(event, PatientMonth.Opened):
            if event.month == month:
                found.setdefault(event.patient_id, None)
            continue
        fact = getattr(event, "fact")  # noqa: B009 (the four Patient events all carry one)
        when = getattr(fact, "discharged_on", None) or getattr(fact, "visit_on", None) or fact.setup_on
        if _month(when) == month:
            found.setdefault(fact.patient_id, None)
    return list(found)


def _events(ledger: Ledger) -> Iterator[object]:
    start = 1
    while True:
        page = ledger.recorder.select_notifications(start=start, limit=PAGE, topics=_TOPICS)
        for notification in page:
            yield ledger.mapper.to_domain_event(notification)
        if len(page) < PAGE:
            return
        start = page[-1].id + 1


def worklist(
    ledger: Ledger, month: str, fees: FeeSchedule = DEFAULT_FEES, provider: str | None = None
) -> list[WorklistRow]:
    rows = []
    for patient_id in patients_active_in(ledger, month):
        view = ledger.month_view(patient_id, month)
        if view is None:
            continue
        row = assess(view, fees)
        if provider is None or row.billing_provider_npi == provider:
            rows.append(row)
    return rows
