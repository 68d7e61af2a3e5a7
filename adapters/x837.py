"""The ANSI X12 005010X222A1 837P: one interchange per export batch, the practice as the
billing provider (2010AA, its group NPI), each claim's individual practitioner as the
rendering provider (2310B), the patient as subscriber with address and demographics.

Everything comes from the ledger (PracticeRegistered, PatientRegistered and
PatientDemographicsRecorded); adapters.exporting refuses the export before this runs when
any of it is missing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from adapters.x12 import ClaimToSend, Segments, money
from domain import catalog, records
from domain.catalog import FeeSchedule
from domain.rules.eligibility import active_conditions
from domain.rules.view import MonthView
from domain.state import ORIGINAL
from domain.vocab import Program

FIRST_NAME = 35  # NM104's limit in 5010 (last names fit: NM103 takes 60, as the facts do)
MAX_DIAGNOSES = 12  # HI holds 12 codes; the service lines point at the first four


def build(
    claims: list[ClaimToSend], fees: FeeSchedule, practice: records.PracticeRegistered, control: int,
    now: datetime, usage: str,
) -> str:  # fmt: skip
    """The whole interchange: one transaction, one subscriber loop per claim."""
    body = Segments()
    _transaction(body, claims, fees, practice, control, now)
    sender, receiver = practice.submitter_id.upper(), practice.receiver_id.upper()
    isa = (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{sender:<15}*ZZ*{receiver:<15}*"
        f"{now:%y%m%d}*{now:%H%M}*^*00501*{control:09d}*0*{usage}*:"
    )
    gs = f"GS*HC*{sender}*{receiver}*{now:%Y%m%d}*{now:%H%M}*{control}*X*005010X222A1"
    tail = [f"GE*1*{control}", f"IEA*1*{control:09d}"]
    return "~\n".join([isa, gs, *body.items, *tail]) + "~\n"


def _transaction(out: Segments, claims: list[ClaimToSend], fees: FeeSchedule, practice: records.PracticeRegistered,
                 control: int, now: datetime) -> None:  # fmt: skip
    out.add("ST", "837", "0001", "005010X222A1")
    out.add("BHT", "0019", "00", f"B{control:09d}", f"{now:%Y%m%d}", f"{now:%H%M}", "CH")
    out.add("NM1", "41", "2", practice.name, "", "", "", "", "46", practice.submitter_id)
    out.add("PER", "IC", practice.contact_name or "BILLING OFFICE", "TE", practice.contact_phone or "")
    out.add(
        "NM1", "40", "2", practice.receiver_name or practice.receiver_id, "", "", "", "", "46", practice.receiver_id
    )
    out.add("HL", "1", "", "20", "1")
    out.add("NM1", "85", "2", practice.name, "", "", "", "", "XX", practice.billing_npi)
    out.add("N3", practice.address)
    out.add("N4", practice.city, practice.state, practice.zip)
    out.add("REF", "EI", practice.tax_id.replace("-", ""))
    for hl, item in enumerate(claims, start=2):
        _subscriber(out, hl, item, fees, practice)
    out.add("SE", str(len(out.items) + 1), "0001")


def _subscriber(out: Segments, hl: int, item: ClaimToSend, fees: FeeSchedule,
                practice: records.PracticeRegistered) -> None:  # fmt: skip
    patient, submitted = item.patient, item.claim.submitted
    service_on = submitted.service_on or item.view.last
    if patient.died_on is not None and patient.died_on < service_on:  # G-18: a month's service ends at death
        service_on = patient.died_on
    person = patient.demographics_on(service_on)
    assert person is not None and patient.birth_date is not None and patient.medicare_id is not None
    out.add("HL", str(hl), "1", "22", "0")
    out.add("SBR", "P", "18", "", "", "", "", "", "", "MB")
    member = re.sub(r"[^A-Z0-9]", "", patient.medicare_id.upper())
    out.add("NM1", "IL", "1", person.last_name, person.first_name[:FIRST_NAME], "", "", "", "MI", member)
    out.add("N3", person.address)
    out.add("N4", person.city, person.state, person.zip)
    out.add("DMG", "D8", f"{patient.birth_date:%Y%m%d}", person.sex.value)
    out.add("NM1", "PR", "2", practice.payer_name or "MEDICARE PART B", "", "", "", "", "PI", practice.payer_id)
    lines = [(line.code, line.units, fees.fee(line.code) * line.units) for line in submitted.lines]
    total = sum((amount for _, _, amount in lines), Decimal(0))
    place = submitted.place_of_service
    out.add_composite("CLM", claim_number(submitted.claim_id), money(total), "", "", f"{place}:B:{item.frequency}",
                      "Y", "A", "Y", "Y")  # fmt: skip
    if item.frequency != ORIGINAL:
        out.add("REF", "F8", item.claim.payer_claim_number or "", keep_case=True)
    codes = diagnoses(item.view, (line.code for line in submitted.lines))
    if codes:
        out.add_composite("HI", *[f"{'ABK' if i == 0 else 'ABF'}:{code}" for i, code in enumerate(codes)])
    npi = submitted.billing_provider_npi
    if npi != practice.billing_npi:
        person_ = next(p for p in practice.practitioners if p.npi == npi)
        out.add("NM1", "82", "1", person_.last_name, (person_.first_name or "")[:FIRST_NAME], "", "", "", "XX", npi)
    pointers = ":".join(str(i) for i in range(1, min(len(codes), 4) + 1)) or "1"
    for n, (code, units, amount) in enumerate(lines, start=1):
        out.add("LX", str(n))
        out.add_composite("SV1", f"HC:{code}", money(amount), "UN", str(units), "", "", pointers)
        out.add("DTP", "472", "D8", f"{service_on:%Y%m%d}")


def claim_number(claim_id: str) -> str:
    """CLM01, the patient control number the 277CA and 835 answer with (at most 20 characters
    in 5010; ids are checked to fit before the export)."""
    return re.sub(r"[^A-Za-z0-9-]", "", claim_id)[:20]


def diagnoses(view: MonthView, codes: Iterable[str] = ()) -> list[str]:
    """The patient's conditions active in the service month, those the claim's program
    stands on first (the principal one, ABK): a behavioral condition for BHI or CoCM, chronic
    pain for CPM, else the ones that place the patient at significant risk."""
    programs = {spec.program for code in codes if (spec := catalog.lookup(code)) is not None}
    behavioral, pain = bool(programs & {Program.BHI, Program.COCM}), Program.CPM in programs
    active = active_conditions(view)
    active.sort(key=lambda c: (not (behavioral and c.behavioral), not (pain and c.chronic_pain),
                               not c.significant_risk, c.diagnosed_on))  # fmt: skip
    seen: dict[str, None] = {}
    for c in active:
        seen.setdefault(c.condition_id.replace(".", ""), None)
    return list(seen)[:MAX_DIAGNOSES]
