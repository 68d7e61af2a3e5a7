"""HL7 v2 ADT messages (v2.5/2.5.1, parsed with hl7apy) turned into the contract's facts: one
Item list per message, named `message N (MSH-10)`, and the ACK each message is answered with.

A01 admit: FacilityStayStarted. A03 discharge: the stay (again: a feed that missed the A01
still gets it; the same stay sent twice records once), FacilityStayEnded, and Discharged, or
PatientDied for disposition "expired" (PV1-36 20). A11: FacilityStayCancelled. A13:
DischargeCancelled. A08: PatientDied when PID-29 gives a death date. Other events, and visits
whose patient class (PV1-2) is not a facility stay, are skipped. The patient is PID-3's first
identifier, the stay and the discharge PV1-19 (visit number); dates are HL7 date/times read in
the practice's zone. Errors name the HL7 field, never its value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from adapters.feeds.hl7_ack import ack as ack
from adapters.feeds.hl7_fields import _hl7apy, _parser, _text, _utils
from adapters.feeds.items import FeedError, Item, fact_item
from adapters.feeds.mappings import DEFAULT, Mappings

# HL7 table 0354: the message structure of each event we read (when MSH-9.3 is left out).
STRUCTURES = {"A01": "ADT_A01", "A03": "ADT_A03", "A08": "ADT_A01", "A11": "ADT_A09", "A13": "ADT_A01"}
NAMES = {
    "patient_id": "PID-3", "stay_id": "PV1-19", "discharge_id": "PV1-19", "setting": "PV1-2",
    "from_setting": "PV1-2", "to_setting": "PV1-36", "started_on": "PV1-44", "ended_on": "PV1-45",
    "discharged_on": "PV1-45", "died_on": "PV1-45/PID-29", "source": "MSH-3",
}  # fmt: skip
_FRAME = re.compile("\x0b(.*?)\x1c\r?", re.S)
_BATCH = ("FHS|", "BHS|", "BTS|", "FTS|")  # batch envelope segments: not part of any message


class _FieldError(Exception):
    """A field the message needs is missing or unreadable; the text names the field."""


class _Skip(Exception):
    """The message is read but records nothing; the text says why."""


def split(text: str) -> list[str]:
    """The messages of a file: MLLP frames, or messages one after another (each from MSH)."""
    if "\x0b" in text:
        return [str(m) for m in _FRAME.findall(text)]
    lines = [x for x in re.split(r"\r\n|\r|\n", text) if x.strip() and not x.startswith(_BATCH)]
    messages: list[list[str]] = []
    for line in lines:
        if line.startswith("MSH") or not messages:
            messages.append([])
        messages[-1].append(line)
    return ["\r".join(m) for m in messages]


def items(text: str, *, zone: ZoneInfo, mappings: Mappings = DEFAULT) -> Iterator[Item]:
    """Every message's facts, in order. FeedError when the input holds no HL7 message at all."""
    messages = split(text)
    if not any(m.lstrip().startswith("MSH") for m in messages):
        raise FeedError("not HL7 v2: no message starts with an MSH segment")
    return (item for n, m in enumerate(messages, start=1) for item in _safely(m, n, zone, mappings))


def _safely(message: str, n: int, zone: ZoneInfo, mappings: Mappings) -> list[Item]:
    """One message's items; one hl7apy cannot read is an error of its own, never the file's end."""
    try:
        return message_items(message, n, zone=zone, mappings=mappings)
    except Exception as e:  # hl7apy raises many kinds; their messages may quote values (PHI)
        return [Item(f"message {n}", error=f"not a readable HL7 v2 message ({type(e).__name__})")]


def message_items(message: str, n: int, *, zone: ZoneInfo, mappings: Mappings = DEFAULT) -> list[Item]:
    """One message's facts. A message with any error gives only its errors (none is recorded)."""
    msg, problem = _parse(message)
    if msg is None:
        return [Item(f"message {n}", error=problem)]
    adt = _Adt(msg, "", zone, mappings)
    adt.where = f"message {n} ({adt.control})" if adt.control else f"message {n}"
    if problem:
        return [Item(adt.where, error=problem)]
    try:
        found = _EVENTS[adt.event](adt) if adt.event in _EVENTS else [adt.skip(f"ADT {adt.event} records no fact")]
    except _FieldError as e:
        return [Item(adt.where, error=str(e))]
    except _Skip as e:
        return [adt.skip(str(e))]
    errors = [x for x in found if x.error is not None]
    return errors or found


def _parse(message: str) -> tuple[Any, str]:
    """The hl7apy message and what is wrong with its structure, or None and why it did not parse."""
    text = message.replace("\r\n", "\r").replace("\n", "\r").strip()
    if not text.startswith("MSH"):
        return None, "not an HL7 v2 message: it does not start with an MSH segment"
    try:
        msg = _parser.parse_message(text, find_groups=True)
    except _hl7apy.exceptions.UnsupportedVersion:
        return None, "MSH-12: an HL7 version hl7apy does not support"
    except Exception as e:  # hl7apy raises many kinds; its messages may quote values (PHI)
        return None, f"not a parsable HL7 v2 message ({type(e).__name__})"
    return msg, _structure_problem(msg)


def _structure_problem(msg: Any) -> str:
    """Segments missing, repeated or out of order against the event's structure (hl7apy's)."""
    kind, event = _text(msg.msh, 9, 1), _text(msg.msh, 9, 2)
    if not _text(msg.msh, 10):
        return "MSH-10: the message control id is missing"
    if kind != "ADT":
        return "MSH-9: only ADT messages are read here"
    structure = msg.name or STRUCTURES.get(event)
    if structure is None:
        return ""  # an event we skip: its structure does not matter
    try:
        expected = [(c[0], c[2]) for c in _hl7apy.load_reference(structure, "Message", msg.version)[1]]
    except Exception:  # hl7apy's ChildNotFound: no such structure in that version
        return f"MSH-9: message structure unknown for HL7 {msg.version}"
    names = [c.name for c in msg.children]
    for name, (low, high) in expected:
        if not low <= names.count(name) <= (high if high >= 0 else len(names)):
            return f"{name}: expected {low} to {high if high >= 0 else 'any'} segments, got {names.count(name)}"
    at = 0
    for name in names:
        later = [i for i, (known, _) in enumerate(expected) if known == name and i >= at]
        if not later:
            return f"{name}: segment out of order for {structure}"
        at = later[0]
    return ""


@dataclass
class _Adt:
    msg: Any
    where: str
    zone: ZoneInfo
    mappings: Mappings

    @property
    def control(self) -> str:
        return _text(self.msg.msh, 10)

    @property
    def event(self) -> str:
        return _text(self.msg.msh, 9, 2) or self.field("EVN", 1)

    def field(self, segment: str, number: int, component: int = 1) -> str:
        found = self.msg.children.get(segment)
        return _text(found[0], number, component) if found else ""

    def need(self, segment: str, number: int, what: str) -> str:
        value = self.field(segment, number)
        if not value:
            raise _FieldError(f"{segment}-{number}: {what} is missing")
        return value

    def day(self, segment: str, number: int, what: str) -> date:
        return hl7_day(self.need(segment, number, what), self.zone, f"{segment}-{number}")

    def stay(self) -> tuple[str, str]:
        """The visit number (PV1-19) and the facility setting of its patient class (PV1-2)."""
        cls = self.field("PV1", 2).upper()
        setting = self.mappings.patient_classes.get(cls) or ("inpatient" if cls == "I" else None)
        if setting is None:
            raise _Skip(f"PV1-2: patient class {_code(cls) or '(none)'} is not a facility stay")
        return self.need("PV1", 19, "the visit number (the stay id)"), setting

    def fact(self, kind: str, **fields: Any) -> Item:
        sender = self.field("MSH", 3)
        data = {"type": kind, "patient_id": self.need("PID", 3, "the patient's first identifier"), **fields}
        return fact_item(self.where, data | {"source": f"HL7 {sender}" if sender else "HL7"}, NAMES)

    def skip(self, why: str) -> Item:
        return Item(self.where, skipped=why)


def _code(value: str) -> str:
    """A table code as sent, or a placeholder when what was sent is not a code (a value that
    is not a code may be anything, a name too)."""
    return value if value.isalnum() and len(value) <= 5 else "(not a table code)"


def hl7_day(value: str, zone: ZoneInfo, name: str) -> date:
    """An HL7 date/time (YYYYMMDD[HHMM[SS[.S]]][+/-ZZZZ]) as a date in the practice's zone;
    without an offset the sender's local time is taken as the practice's."""
    try:
        moment, fmt, offset, _ = _utils.get_datetime_info(value)
    except (ValueError, TypeError, IndexError):
        raise _FieldError(f"{name}: expected an HL7 date/time YYYYMMDD[HHMM[SS]][+/-ZZZZ]") from None
    if "%d" not in fmt:
        raise _FieldError(f"{name}: expected a date to the day (YYYYMMDD...)")
    if offset and "%H" in fmt:
        sign = -1 if offset[0] == "-" else 1
        shift = timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])) * sign
        moment = moment.replace(tzinfo=timezone(shift)).astimezone(zone)
    day: date = moment.date()
    return day


def _admit(adt: _Adt) -> list[Item]:
    stay, setting = adt.stay()
    return [
        adt.fact("FacilityStayStarted", stay_id=stay, setting=setting, started_on=adt.day("PV1", 44, "the admit date"))
    ]


def _discharge(adt: _Adt) -> list[Item]:
    """P-TCM-1: the discharge starts TCM's clock; G-10: the stay's end bounds the exclusion."""
    stay, setting = adt.stay()
    ended = adt.day("PV1", 45, "the discharge date")
    found = [adt.fact("FacilityStayEnded", stay_id=stay, ended_on=ended)]
    if adt.field("PV1", 44):
        found.insert(0, adt.fact("FacilityStayStarted", stay_id=stay, setting=setting,
                                 started_on=adt.day("PV1", 44, "the admit date")))  # fmt: skip
    disposition = adt.field("PV1", 36)
    to = adt.mappings.dispositions.get(disposition)
    if to == "expired":
        died = adt.day("PID", 29, "") if adt.field("PID", 29) else ended
        return [*found, adt.fact("PatientDied", died_on=died)]
    if to is None:  # a guess could bill TCM for a patient who went to another hospital
        why = "no discharge disposition" if not disposition else f"disposition {_code(disposition)} is not mapped"
        return [*found, adt.skip(f"PV1-36: {why}; the discharge is not recorded (no TCM without a destination)")]
    return [*found, adt.fact("Discharged", discharge_id=stay, discharged_on=ended, from_setting=setting,
                             to_setting=to)]  # fmt: skip


def _update(adt: _Adt) -> list[Item]:
    if adt.field("PID", 29):
        return [adt.fact("PatientDied", died_on=adt.day("PID", 29, "the date of death"))]
    if adt.field("PID", 30).upper() == "Y":
        raise _FieldError("PID-29: the patient is marked deceased (PID-30) without a date of death")
    return [adt.skip("A08 changes no fact the ledger keeps")]


def _cancel(kind: str, id_field: str, event: str) -> Callable[[_Adt], list[Item]]:
    return lambda adt: [adt.fact(kind, **{id_field: adt.stay()[0]}, reason=f"cancelled by ADT {event}")]


_EVENTS = {
    "A01": _admit, "A03": _discharge, "A08": _update,
    "A11": _cancel("FacilityStayCancelled", "stay_id", "A11"),
    "A13": _cancel("DischargeCancelled", "discharge_id", "A13"),
}  # fmt: skip
