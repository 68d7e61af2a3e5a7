"""The HL7 v2 ACK a message gets (MSA-1 AA, AE or AR), built with hl7apy."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from adapters.feeds.hl7_fields import _core, _hl7apy, _parser, _text

APPLICATION = "CARELANE"  # MSH-3 of our ACKs
ACK_VERSION = "2.5.1"  # for ACKs to messages whose version hl7apy does not know


def ack(message: str, code: str, text: str = "") -> str:
    """The ACK for a message: MSA-1 `code`, MSA-2 its control id, `text` in MSA-3 and (AE/AR) an
    ERR segment. A message too broken to parse still gets a minimal AR."""
    head = _header(message)
    sent = _text(head, 12)
    version = sent if sent in _hl7apy.SUPPORTED_LIBRARIES and sent >= "2.3" else ACK_VERSION
    reply = _core.Message("ACK", version=version)
    msh = reply.msh
    msh.msh_3 = APPLICATION
    for mine, theirs in ((4, 6), (5, 3), (6, 4)):  # answer to the sender, from its receiver
        if value := _er7(head, theirs):
            setattr(msh, f"msh_{mine}", value)
    msh.msh_7 = datetime.now(UTC).strftime("%Y%m%d%H%M%S+0000")
    msh.msh_9 = f"ACK^{_text(head, 9, 2)}^ACK" if version >= "2.4" else f"ACK^{_text(head, 9, 2)}"
    msh.msh_10 = uuid.uuid4().hex[:20]
    msh.msh_11 = _text(head, 11) or "P"
    reply.msa.msa_1 = code
    reply.msa.msa_2 = _text(head, 10)
    clean = " ".join(re.sub(r"[|^~&\\]", " ", text).split())  # no HL7 delimiters inside the text
    if clean:
        reply.msa.msa_3 = clean[:80]  # MSA-3 is 80 characters at most; ERR-8 has it all
    if code != "AA" and version >= "2.5":
        err = reply.add_segment("ERR")
        err.err_3 = "207^Application internal error^HL70357"
        err.err_4 = "E"
        if clean:
            err.err_8 = clean
    return str(reply.to_er7())


def _er7(segment: Any, number: int) -> str:
    reps = segment.children.get(f"{segment.name}_{number}")
    return str(reps[0].to_er7()) if reps else ""


def _header(message: str) -> Any:
    """The message's MSH segment (hl7apy), or an empty one when even that does not parse."""
    first = message.replace("\r\n", "\r").replace("\n", "\r").strip().split("\r", 1)[0]
    try:
        if first.startswith("MSH"):
            msh = _parser.parse_segment(first)
            _text(msh, 10)
            return msh
    except Exception:  # hl7apy's errors: nothing of the header can be trusted
        pass
    return _core.Segment("MSH")
