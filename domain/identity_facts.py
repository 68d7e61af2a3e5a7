"""Who bills and who is billed: the practice and the patient's demographics (interface.md
section 1). The 837P takes both from the ledger, never from a side file; both are stored as
every fact is, encrypted at rest when a key is set."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from domain.contract import (
    PHONE_PATTERN,
    STATE_PATTERN,
    TAX_ID_PATTERN,
    X12_ID_PATTERN,
    ZIP_PATTERN,
    Fact,
    Ident,
    Npi,
    Text,
)
from domain.vocab import Sex

State = Annotated[str, msgspec.Meta(pattern=STATE_PATTERN)]
Zip = Annotated[str, msgspec.Meta(pattern=ZIP_PATTERN)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Street = Annotated[str, msgspec.Meta(min_length=1, max_length=55)]
City = Annotated[str, msgspec.Meta(min_length=2, max_length=30)]
X12Id = Annotated[str, msgspec.Meta(min_length=2, max_length=15, pattern=X12_ID_PATTERN)]


class Practitioner(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """An individual who renders the practice's services (the 837P's 2310B loop)."""

    npi: Npi
    last_name: Name
    first_name: Name | None = None


class PracticeRegistered(Fact, tag=True, frozen=True):
    """The practice that bills: group NPI, tax id, address, and the clearinghouse and payer
    ids its 837P carries. Sent again, the latest details stand. `contact_phone`,
    `practitioners`, `payer_name` and `receiver_name` are optional here and named by the
    export when it needs them."""

    practice_id: Ident
    name: Name
    billing_npi: Npi
    tax_id: Annotated[str, msgspec.Meta(pattern=TAX_ID_PATTERN)]
    address: Street
    city: City
    state: State
    zip: Zip
    submitter_id: X12Id
    receiver_id: X12Id
    payer_id: X12Id
    time_zone: Text | None = None
    contact_name: Name | None = None
    contact_phone: Annotated[str, msgspec.Meta(pattern=PHONE_PATTERN)] | None = None
    payer_name: Name | None = None
    receiver_name: Name | None = None
    practitioners: Annotated[list[Practitioner], msgspec.Meta(max_length=500)] = msgspec.field(default_factory=list)


class PatientDemographicsRecorded(Fact, tag=True, frozen=True):
    """The patient's name, sex and address from `effective_on` (a later record replaces it)."""

    patient_id: Ident
    last_name: Name
    first_name: Name
    sex: Sex
    address: Street
    city: City
    state: State
    zip: Zip
    effective_on: date


def npi_valid(npi: str) -> bool:
    """The NPI check digit: Luhn over the 9 digits prefixed by 80840 (the health
    industry's card issuer prefix), as CMS's NPI standard specifies."""
    if len(npi) != 10 or not npi.isdigit():
        return False
    total = 24  # the prefix 80840's contribution to the Luhn sum
    for i, ch in enumerate(reversed(npi[:9])):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10 == int(npi[9])


def identity_problem(fact: Fact) -> str | None:
    """What the input contract refuses in a practice beyond field types."""
    if not isinstance(fact, PracticeRegistered):
        return None
    if not npi_valid(fact.billing_npi):
        return "$.billing_npi: expected an NPI whose check digit is right"
    for i, person in enumerate(fact.practitioners):
        if not npi_valid(person.npi):
            return f"$.practitioners[{i}].npi: expected an NPI whose check digit is right"
    if fact.time_zone is not None:
        try:
            ZoneInfo(fact.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            return "$.time_zone: expected an IANA time zone such as America/New_York"
    return None
