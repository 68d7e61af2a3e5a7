"""Reading HL7 v2 fields through hl7apy: one component as sent, with HL7's own escapes
undone. hl7apy ships no types, so its objects stay `Any` here and in the modules using it."""

from __future__ import annotations

import importlib
from typing import Any

_parser: Any = importlib.import_module("hl7apy.parser")
_core: Any = importlib.import_module("hl7apy.core")
_utils: Any = importlib.import_module("hl7apy.utils")
_hl7apy: Any = importlib.import_module("hl7apy")


def _text(segment: Any, number: int, component: int = 1, repetition: int = 0) -> str:
    """One component of a field as sent ('' when absent), read through hl7apy's structures."""
    reps = segment.children.get(f"{segment.name}_{number}")
    if len(reps) <= repetition:
        return ""
    field = reps[repetition]
    try:
        if not _core.is_base_datatype(field.datatype, field.version) and field.children:
            parts = field.children.get(f"{field.datatype}_{component}")
            return _plain(field, str(parts[0].to_er7()).strip()) if parts else ""
    except Exception:  # components where the standard has one value (PV1-36 as 01^Home)
        pass
    # A value sent with components where the standard has one is read by its first component.
    text = str(field.to_er7()).strip()
    pieces = text.split(field.encoding_chars["COMPONENT"])
    return _plain(field, pieces[component - 1].strip() if component <= len(pieces) else "")


def _plain(field: Any, text: str) -> str:
    """HL7's escapes for its own separators (\\F\\ field, \\S\\ component, \\T\\
    subcomponent, \\R\\ repetition, \\E\\ escape) turned back into the characters they stand
    for; hl7apy keeps values escaped, as sent."""
    if "\\" not in text:
        return text
    chars = field.encoding_chars
    escape = chars["ESCAPE"]
    for code, char in (("F", chars["FIELD"]), ("S", chars["COMPONENT"]), ("T", chars["SUBCOMPONENT"]),
                       ("R", chars["REPETITION"]), ("E", escape)):  # fmt: skip
        text = text.replace(f"{escape}{code}{escape}", char)
    return text
