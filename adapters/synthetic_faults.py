"""Lines a real feed sends now and then, which the ledger must refuse or reject: the tail
of every synthetic practice (a data table: one line a case)."""

from __future__ import annotations

import msgspec

PRACTICE_NPI = "1234567893"  # a valid check digit; the synthetic practice's own


def troublemakers(months: list[str], patients: int) -> list[bytes]:
    """Lines a real feed sends now and then, which the ledger must refuse or reject."""
    month = months[-1]
    at = f"{month}-10T09:00:00-05:00"
    entry = {
        "type": "TimeLogged",
        "entry_id": "T-DUPE",
        "patient_id": "P00001",
        "program": "CCM",
        "staff_id": "RN-ADA",
        "staff_role": "clinical_staff",
        "activity": "call",
        "started_at": f"{month}-28T19:00:00-05:00",
        "minutes": 10,
    }
    lines: list[object] = [
        entry,
        entry | {"minutes": 25},  # the same id with other content
        entry | {"entry_id": "T-OVERLAP", "patient_id": "P00002", "started_at": f"{month}-28T19:05:00-05:00"},
        entry | {"entry_id": "T-NOBODY", "patient_id": f"P{patients + 99:05d}", "started_at": at},
        entry | {"entry_id": "T-NEG", "minutes": -5},
        entry | {"entry_id": "T-FUTURE", "started_at": "2099-01-05T09:00:00-05:00"},
        {
            "type": "ConsentRecorded",
            "patient_id": "P00003",
            "program": "CCM",
            "method": "fax",
            "obtained_by": "RN-BO",
            "cost_sharing_explained": True,
            "one_practitioner_explained": True,
            "recorded_on": f"{month}-02",
        },
        {
            "type": "ClaimSubmitted",
            "claim_id": "C-BAD-CODE",
            "patient_id": "P00001",
            "billing_provider_npi": PRACTICE_NPI,
            "service_month": month,
            "place_of_service": "11",
            "lines": [{"code": "99999", "units": 1}],
        },
        {"type": "ClaimAdjudicated", "claim_id": "C-NEVER-SENT", "outcome": "paid", "paid_amount": "66.00"},
        {
            "type": "TimeEntryVoided",
            "entry_id": "T-DUPE",
            "patient_id": "P00001",
            "reason": "keyed twice",
            "by": "RN-ADA",
        },
    ]
    return [msgspec.json.encode(line) for line in lines] + [b'{"type": "PatientRegistered", "patient_id": ']
