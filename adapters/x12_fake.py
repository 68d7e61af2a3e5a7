"""A stand-in clearinghouse and payer, for tests and demos only: never for production.

Given an 837P as adapters.x837 writes it, it makes the files that would come back: the
clearinghouse's 999 (005010X231A1) for the batch and 277CA (005010X214) for its claims, and
(in adapters.x12_fake_835) Medicare's 835 paying them. Every file is marked T (test) in
ISA15 and passes pyx12 (adapters.x12.validate). Sender and receiver are the 837's, swapped:
the receiver answers the submitter."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from adapters.x12 import Segments, money

# The stand-in dates its files in the default practice zone: a payer a time zone ahead
# would date an 835 tomorrow, which the ledger refuses as future-dated (G-13).
PAYER_ZONE = ZoneInfo("America/New_York")
PAYER_NAME = "MEDICARE PART B"  # when the 837 names no payer (2010BB)


@dataclass
class Line:
    code: str  # SV101-2
    charge: Decimal
    units: str
    date: str  # CCYYMMDD, the line's DTP*472


@dataclass
class Claim:
    claim_id: str  # CLM01: the patient control number every answer quotes
    charge: Decimal
    place: str  # CLM05-1, place of service
    frequency: str  # CLM05-3
    last_name: str
    first_name: str
    member_id: str
    billing_npi: str
    position: int  # the CLM's position in the transaction set (ST is 1), for a 999's IK3
    lines: list[Line] = field(default_factory=list)

    def service_dates(self) -> tuple[str, str]:
        days = sorted(line.date for line in self.lines if line.date)
        return (days[0], days[-1]) if days else ("", "")


@dataclass
class Submission:
    """What the answers quote from the 837: its envelope, submitter, billing provider, claims."""

    isa_sender: tuple[str, str] = ("ZZ", "")  # ISA05, ISA06
    isa_receiver: tuple[str, str] = ("ZZ", "")  # ISA07, ISA08
    gs_sender: str = ""
    gs_receiver: str = ""
    group: str = ""  # GS06
    st_control: str = ""
    batch: str = ""  # BHT03
    submitter_name: str = ""
    submitter_id: str = ""
    billing_name: str = ""
    billing_npi: str = ""
    address: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    tax_id: str = ""
    payer_name: str = PAYER_NAME
    payer_id: str = ""
    claims: list[Claim] = field(default_factory=list)


@dataclass
class _Reading:
    sub: Submission = field(default_factory=Submission)
    patient: tuple[str, str, str] = ("", "", "")  # last, first, member id of the 2010BA in hand
    position: int = 0


Value = Callable[[str], str]


def claims_in(text_837: str) -> list[Claim]:
    """Each claim of the 837 with its lines, patient and billing NPI."""
    return read_837(text_837).claims


def read_837(text_837: str) -> Submission:
    """The 837 as pyx12 reads it, segment by segment, each to the reader of its loop."""
    import pyx12.error_handler
    import pyx12.params
    import pyx12.x12context

    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    state = _Reading()
    src = io.StringIO(text_837)
    with pyx12.x12context.X12ContextReader(pyx12.params.params(), pyx12.error_handler.errh_null(), src) as reader:
        for node in reader.iter_segments():
            loop, seg = node.cur_path.split("/")[-2:]
            seg = seg.split("[")[0]  # pyx12 tells same-named segments apart as REF[EI], DTP[472]
            state.position = 1 if seg == "ST" else state.position + 1
            reader_of = _READERS.get(loop)
            if reader_of is not None:
                reader_of(state, seg, _values(node))
    return state.sub


def _values(node: Any) -> Value:
    return lambda ref: (node.get_value(ref) or "").strip()


def _envelope(state: _Reading, seg: str, v: Value) -> None:
    sub = state.sub
    if seg == "ISA":
        sub.isa_sender, sub.isa_receiver = (v("ISA05"), v("ISA06")), (v("ISA07"), v("ISA08"))
    elif seg == "GS":
        sub.gs_sender, sub.gs_receiver, sub.group = v("GS02"), v("GS03"), v("GS06")
    elif seg == "ST":
        sub.st_control = v("ST02")
    elif seg == "BHT":
        sub.batch = v("BHT03")


def _submitter(state: _Reading, seg: str, v: Value) -> None:
    if seg == "NM1":
        state.sub.submitter_name, state.sub.submitter_id = v("NM103"), v("NM109")


def _billing_provider(state: _Reading, seg: str, v: Value) -> None:
    sub = state.sub
    if seg == "NM1":
        sub.billing_name, sub.billing_npi = v("NM103"), v("NM109")
    elif seg == "N3":
        sub.address = v("N301")
    elif seg == "N4":
        sub.city, sub.state, sub.zip = v("N401"), v("N402"), v("N403")
    elif seg == "REF" and v("REF01") == "EI":
        sub.tax_id = v("REF02")


def _patient(state: _Reading, seg: str, v: Value) -> None:
    if seg == "NM1":
        state.patient = (v("NM103"), v("NM104"), v("NM109"))


def _payer(state: _Reading, seg: str, v: Value) -> None:
    if seg == "NM1":
        state.sub.payer_name, state.sub.payer_id = v("NM103") or PAYER_NAME, v("NM109")


def _claim(state: _Reading, seg: str, v: Value) -> None:
    if seg == "CLM":
        last, first, member = state.patient
        state.sub.claims.append(Claim(v("CLM01"), Decimal(v("CLM02")), v("CLM05-1"), v("CLM05-3"), last, first,
                                      member, state.sub.billing_npi, state.position))  # fmt: skip


def _service_line(state: _Reading, seg: str, v: Value) -> None:
    lines = state.sub.claims[-1].lines
    if seg == "SV1":
        lines.append(Line(v("SV101-2"), Decimal(v("SV102")), v("SV104") or "1", ""))
    elif seg == "DTP" and v("DTP01") == "472" and lines:
        lines[-1].date = v("DTP03").split("-")[0]  # a range (RD8) answers with its first day


_READERS: dict[str, Callable[[_Reading, str, Value], None]] = {
    "ISA_LOOP": _envelope, "GS_LOOP": _envelope, "ST_LOOP": _envelope, "HEADER": _envelope,
    "1000A": _submitter, "2010AA": _billing_provider, "2010BA": _patient, "2010BB": _payer,
    "2300": _claim, "2400": _service_line,
}  # fmt: skip


def interchange(sub: Submission, ident: str, version: str, fic: str, body: Segments, control: int,
                now: datetime, *, st03: bool = True) -> str:  # fmt: skip
    """One transaction in its envelope, from the 837's receiver back to its sender. pyx12's
    835 map marks ST03 not used, and fails a file that has one (st03=False for the 835)."""
    (receiver_qualifier, receiver), (sender_qualifier, sender) = sub.isa_receiver, sub.isa_sender
    isa = (
        f"ISA*00*{'':10}*00*{'':10}*{receiver_qualifier}*{receiver:<15}*{sender_qualifier}*{sender:<15}*"
        f"{now:%y%m%d}*{now:%H%M}*^*00501*{control:09d}*0*T*:"
    )
    gs = f"GS*{fic}*{sub.gs_receiver}*{sub.gs_sender}*{now:%Y%m%d}*{now:%H%M}*{control}*X*{version}"
    st, se = f"ST*{ident}*0001" + (f"*{version}" if st03 else ""), f"SE*{len(body.items) + 2}*0001"
    return "~\n".join([isa, gs, st, *body.items, se, f"GE*1*{control}", f"IEA*1*{control:09d}"]) + "~\n"


def payer_claim_number(claim_id: str) -> str:
    """The payer's claim control number (277CA REF*1K, 835 CLP07): made from CLM01, so one
    claim has the same one in every answer and every batch (CLM01 is at most 20 characters)."""
    return f"PCN{claim_id}"


def unknown_claims(sub: Submission, claim_ids: Mapping[str, str]) -> None:
    """A claim id the 837 does not hold is a mistake in the test, not something to ignore."""
    unknown = sorted(set(claim_ids) - {c.claim_id for c in sub.claims})
    if unknown:
        raise ValueError(f"the 837 holds no claim {', '.join(unknown)}")


def ack_999(text_837: str, *, accepted: bool = True, control: int = 900001, now: datetime | None = None) -> str:
    """The 999 for the 837's functional group: accepted, or rejected for its first claim."""
    sub, moment = read_837(text_837), now or datetime.now(PAYER_ZONE)
    body = Segments()
    body.add("AK1", "HC", sub.group, "005010X222A1")
    body.add("AK2", "837", sub.st_control, "005010X222A1")
    if accepted:
        body.add("IK5", "A")
        body.add("AK9", "A", "1", "1", "1")
    else:
        if sub.claims:  # blame the first claim's frequency code (CLM05-3): any error will do
            claim = sub.claims[0]
            body.add("IK3", "CLM", str(claim.position), "2300", "8")
            body.add_composite("CTX", f"CLM01:{claim.claim_id}")
            body.add_composite("IK4", "5:3", "1325", "7", claim.frequency)
        body.add("IK5", "R", "5")
        body.add("AK9", "R", "1", "1", "0")
    return interchange(sub, "999", "005010X231A1", "FA", body, control, moment)


def ack_277ca(text_837: str, *, rejected: Mapping[str, str] | None = None, control: int = 900002,
              now: datetime | None = None) -> str:  # fmt: skip
    """The 277CA: one claim-level status per CLM, A1:20 (accepted), or A7:<code> for a claim
    id in rejected (CLM01 -> status code, e.g. {"C3": "21"}; a value with a colon is the
    whole STC01, e.g. "A8:562")."""
    sub, moment, rejected = read_837(text_837), now or datetime.now(PAYER_ZONE), rejected or {}
    unknown_claims(sub, rejected)
    today = f"{moment:%Y%m%d}"
    body = Segments()
    body.add("BHT", "0085", "08", str(control), today, f"{moment:%H%M}", "TH")
    body.add("HL", "1", "", "20", "1")
    body.add("NM1", "PR", "2", sub.payer_name, "", "", "", "", "PI", sub.payer_id or "MEDICARE")
    body.add("TRN", "1", str(control))
    body.add("DTP", "050", "D8", today)
    body.add("DTP", "009", "D8", today)
    body.add("HL", "2", "1", "21", "1")
    body.add("NM1", "41", "2", sub.submitter_name, "", "", "", "", "46", sub.submitter_id)
    body.add("TRN", "2", sub.batch)
    _totals(body, sub.claims, rejected, today, ("90", "AA"))
    body.add("HL", "3", "2", "19", "1")
    body.add("NM1", "85", "2", sub.billing_name, "", "", "", "", "XX", sub.billing_npi)
    body.add("TRN", "1", "0")
    _totals(body, sub.claims, rejected, "", ("QA", "QC"))  # 2200C's STC02 is not used
    for hl, claim in enumerate(sub.claims, start=4):
        _claim_status(body, hl, claim, rejected.get(claim.claim_id), today)
    return interchange(sub, "277", "005010X214", "HN", body, control, moment)


def _totals(body: Segments, claims: list[Claim], rejected: Mapping[str, str], day: str,
            quantities: tuple[str, str]) -> None:  # fmt: skip
    """The receipt status of the batch (2200B) or of the provider's claims (2200C), with the
    counts and amounts accepted and rejected (each sent only when not zero)."""
    taken = [c for c in claims if c.claim_id not in rejected]
    refused = [c for c in claims if c.claim_id in rejected]
    body.add_composite("STC", "A1:19:PR", day, "WQ", money(sum((c.charge for c in claims), Decimal(0))))
    for qualifier, group in zip(quantities, (taken, refused), strict=True):
        if group:
            body.add("QTY", qualifier, str(len(group)))
    for qualifier, group in zip(("YU", "YY"), (taken, refused), strict=True):
        if group:
            body.add("AMT", qualifier, money(sum((c.charge for c in group), Decimal(0))))


def _claim_status(body: Segments, hl: int, claim: Claim, rejection: str | None, day: str) -> None:
    """Loop 2000D: the patient and the claim's status (accepted claims carry the payer's number)."""
    body.add("HL", str(hl), "3", "PT")
    body.add("NM1", "QC", "1", claim.last_name, claim.first_name, "", "", "", "MI", claim.member_id)
    body.add("TRN", "2", claim.claim_id, keep_case=True)
    if rejection is None:
        body.add_composite("STC", "A1:20", day, "WQ", money(claim.charge))
        body.add("REF", "1K", payer_claim_number(claim.claim_id), keep_case=True)
    else:
        status = rejection if ":" in rejection else f"A7:{rejection}"
        body.add_composite("STC", status, day, "U", money(claim.charge))
    first, last = claim.service_dates()
    if first:
        body.add("DTP", "472", "D8", first) if first == last else body.add("DTP", "472", "RD8", f"{first}-{last}")
