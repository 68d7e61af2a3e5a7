"""ANSI X12 005010X222A1 837P (professional claims) for the accepted, unpaid claims of a month,
validated with pyx12 before it is written.

The fact contract carries no names or addresses. The billing provider, submitter and payer
come from a practice profile (JSON); patient names, sex and addresses from an optional
demographics CSV kept outside the ledger. Where a patient has none, the subscriber is named
by the Medicare id alone and the export says so.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import msgspec

from domain.catalog import FeeSchedule
from domain.ledger import Ledger
from domain.rules.eligibility import active_conditions
from domain.rules.view import MonthView
from domain.state import Claim, PatientFile


class Profile(msgspec.Struct, frozen=True, kw_only=True):
    """Who sends the file and who bills: the practice's own details."""

    submitter_name: str = "CARELANE DEMO PRACTICE"
    submitter_id: str = "CARELANE01"
    contact_name: str = "BILLING OFFICE"
    contact_phone: str = "5555550100"
    receiver_name: str = "MEDICARE PART B"
    receiver_id: str = "MACID01"
    billing_name: str = "CARELANE DEMO PRACTICE"
    billing_address: str = "100 MAIN STREET"
    billing_city: str = "SPRINGFIELD"
    billing_state: str = "IL"
    billing_zip: str = "627010001"
    tax_id: str = "123456789"
    payer_name: str = "MEDICARE"
    payer_id: str = "MEDICARE01"
    usage: str = "P"  # ISA15: P production, T test


class Demographics(msgspec.Struct, frozen=True):
    last_name: str
    first_name: str = ""
    sex: str = "U"  # F, M or U
    address: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""


class ExportError(Exception):
    """The export cannot be made as asked; the message says why."""


def load_profile(path: str | None) -> Profile:
    if path is None:
        return Profile()
    try:
        return msgspec.json.decode(Path(path).read_bytes(), type=Profile)
    except (OSError, msgspec.MsgspecError) as e:
        raise ExportError(f"{path}: {e}") from None


def load_demographics(path: str | None) -> dict[str, Demographics]:
    """patient_id,last_name,first_name,sex,address,city,state,zip (only patient_id and
    last_name are required)."""
    if path is None:
        return {}
    out = {}
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            if not row.get("patient_id") or not row.get("last_name"):
                raise ExportError(f"{path}: line {reader.line_num}: patient_id and last_name are required")
            values = {k: (v or "").strip() for k, v in row.items() if k in Demographics.__struct_fields__}
            out[row["patient_id"].strip()] = Demographics(**values)
    return out


@dataclass
class Segments:
    """Segments with X12 separators; element text is cleaned of separator characters."""

    items: list[str] = field(default_factory=list)

    def add(self, *elements: str) -> None:
        cleaned = [re.sub(r"[~*:^]", " ", e).upper().strip() if i else e for i, e in enumerate(elements)]
        while cleaned and cleaned[-1] == "":
            cleaned.pop()
        self.items.append("*".join(cleaned))

    def add_composite(self, *elements: str) -> None:
        """Like add, but keeps ':' in composite elements built by the caller."""
        self.items.append("*".join(e.upper() for e in elements).rstrip("*"))


@dataclass
class ClaimToSend:
    claim: Claim
    patient: PatientFile
    view: MonthView


def build(
    claims: list[ClaimToSend],
    fees: FeeSchedule,
    profile: Profile,
    people: dict[str, Demographics],
    control: int,
    now: datetime,
) -> str:
    """The whole interchange: one ST/SE per billing provider NPI, one subscriber loop per claim."""
    body = Segments()
    by_npi: dict[str, list[ClaimToSend]] = {}
    for c in claims:
        by_npi.setdefault(c.claim.submitted.billing_provider_npi, []).append(c)
    st_count = 0
    for st_count, (npi, group) in enumerate(sorted(by_npi.items()), start=1):
        _transaction(body, st_count, npi, group, fees, profile, people, now)
    isa = (
        f"ISA*00*{'':10}*00*{'':10}*ZZ*{profile.submitter_id:<15}*ZZ*{profile.receiver_id:<15}*"
        f"{now:%y%m%d}*{now:%H%M}*^*00501*{control:09d}*0*{profile.usage}*:"
    )
    gs = f"GS*HC*{profile.submitter_id}*{profile.receiver_id}*{now:%Y%m%d}*{now:%H%M}*{control}*X*005010X222A1"
    tail = [f"GE*{st_count}*{control}", f"IEA*1*{control:09d}"]
    return "~\n".join([isa, gs, *body.items, *tail]) + "~\n"


def _transaction(
    out: Segments,
    number: int,
    npi: str,
    group: list[ClaimToSend],
    fees: FeeSchedule,
    profile: Profile,
    people: dict[str, Demographics],
    now: datetime,
) -> None:
    start = len(out.items)
    control = f"{number:04d}"
    out.add("ST", "837", control, "005010X222A1")
    out.add("BHT", "0019", "00", f"CL{now:%Y%m%d%H%M}{number}", f"{now:%Y%m%d}", f"{now:%H%M}", "CH")
    out.add("NM1", "41", "2", profile.submitter_name, "", "", "", "", "46", profile.submitter_id)
    out.add("PER", "IC", profile.contact_name, "TE", profile.contact_phone)
    out.add("NM1", "40", "2", profile.receiver_name, "", "", "", "", "46", profile.receiver_id)
    out.add("HL", "1", "", "20", "1")
    out.add("NM1", "85", "2", profile.billing_name, "", "", "", "", "XX", npi)
    out.add("N3", profile.billing_address)
    out.add("N4", profile.billing_city, profile.billing_state, profile.billing_zip)
    out.add("REF", "EI", profile.tax_id)
    for hl, item in enumerate(group, start=2):
        _subscriber(out, hl, item, fees, profile, people.get(item.patient.patient_id))
    out.add("SE", str(len(out.items) - start + 1), control)


def _subscriber(
    out: Segments, hl: int, item: ClaimToSend, fees: FeeSchedule, profile: Profile, person: Demographics | None
) -> None:
    patient, submitted = item.patient, item.claim.submitted
    out.add("HL", str(hl), "1", "22", "0")
    out.add("SBR", "P", "18", "", "", "", "", "", "", "MB")
    member = re.sub(r"[^A-Z0-9]", "", (patient.medicare_id or patient.patient_id).upper())
    last = person.last_name if person else f"PATIENT {patient.patient_id}"
    out.add("NM1", "IL", "1", last, person.first_name if person else "", "", "", "", "MI", member)
    if person and person.address and person.city and person.state and person.zip:
        out.add("N3", person.address)
        out.add("N4", person.city, person.state, person.zip)
    if patient.birth_date is not None:
        out.add("DMG", "D8", f"{patient.birth_date:%Y%m%d}", person.sex if person else "U")
    out.add("NM1", "PR", "2", profile.payer_name, "", "", "", "", "PI", profile.payer_id)
    service_on = submitted.service_on or item.view.last
    lines = [(line.code, line.units, fees.fee(line.code) * line.units) for line in submitted.lines]
    total = sum((amount for _, _, amount in lines), Decimal(0))
    place = submitted.place_of_service
    out.add_composite("CLM", _clean(submitted.claim_id), _money(total), "", "", f"{place}:B:1", "Y", "A", "Y", "Y")
    codes = _diagnoses(item.view)
    if codes:
        composites = [f"{'ABK' if i == 0 else 'ABF'}:{code}" for i, code in enumerate(codes)]
        out.add_composite("HI", *composites)
    pointers = ":".join(str(i) for i in range(1, min(len(codes), 4) + 1)) or "1"
    for n, (code, units, amount) in enumerate(lines, start=1):
        out.add("LX", str(n))
        out.add_composite("SV1", f"HC:{code}", _money(amount), "UN", str(units), "", "", pointers)
        out.add("DTP", "472", "D8", f"{service_on:%Y%m%d}")


def _diagnoses(view: MonthView) -> list[str]:
    """The patient's conditions active in the service month, qualifying ones first (at most 12)."""
    active = active_conditions(view)
    active.sort(key=lambda c: (not c.significant_risk, c.diagnosed_on))
    seen: dict[str, None] = {}
    for c in active:
        seen.setdefault(c.condition_id.replace(".", ""), None)
    return list(seen)[:12]


def _clean(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9-]", "", text)[:38]


def _money(amount: Decimal) -> str:
    text = f"{amount.quantize(Decimal('0.01'))}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def validate(text: str) -> list[str]:
    """pyx12's findings for an interchange (line and message); empty when it is valid."""
    import logging

    import pyx12.params
    import pyx12.x12n_document

    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    report = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        pyx12.params.params(), io.StringIO(text), fd_997=None, fd_html=None, fd_json=report
    )
    found = list(_errors(json.loads(report.getvalue() or "{}")))
    if not ok and not found:
        found = ["pyx12 rejected the interchange"]
    return found


def _errors(node: object, line: object = None) -> list[str]:
    """Every error in pyx12's JSON report, at any depth, with the line it was found on."""
    out: list[str] = []
    if isinstance(node, dict):
        line = node.get("cur_line", line)
        for err in node.get("errors", []):
            out.append(f"line {line}: {err.get('err_str', err)}")
        for key, value in node.items():
            if key != "errors":
                out += _errors(value, line)
    elif isinstance(node, list):
        for item in node:
            out += _errors(item, line)
    return out


def unpaid(claims: list[Claim]) -> list[Claim]:
    """Claims the gate accepted that still stand on their record and have no payer answer:
    not voided, not adjudicated, and not unsupported (G-16)."""
    return [c for c in claims if c.status == "accepted"]


def claims_for(ledger: Ledger, patients: list[str], month: str) -> list[ClaimToSend]:
    """The month's accepted, unpaid claims of these patients, with what the file needs."""
    out = []
    for view in ledger.month_views_of(patients, month):
        if view.current is None:
            continue
        for claim in unpaid(list(view.current.claims.values())):
            out.append(ClaimToSend(claim, view.patient, view))
    return out
