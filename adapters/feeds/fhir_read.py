"""Reading validated FHIR R4 resources (fhir.resources' R4B models): references, codings,
extensions, dates and validation errors, each said by FHIR element and never by value.

The models are held as `Any`: their generated field types say little that mypy could check
here, and every element this feed reads may be absent, so each read is guarded instead."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pydantic

from adapters.feeds.mappings import Mappings

EXT = "http://carelane.example/fhir/StructureDefinition/"
READING_METHOD = "http://carelane.example/fhir/CodeSystem/reading-method"
NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi"
MBI_SYSTEM = "http://hl7.org/fhir/sid/us-mbi"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
STAFF = ("Practitioner", "PractitionerRole")


class Missing(Exception):
    """A resource that cannot become its fact: names the FHIR element and what it lacks."""

    def __init__(self, element: str, why: str) -> None:
        super().__init__(f"{element}: {why}")


@dataclass
class Context:
    """What mapping one resource needs from the rest of the input."""

    zone: ZoneInfo
    mappings: Mappings
    urls: dict[str, str] = field(default_factory=dict)  # a Bundle entry's fullUrl -> "Type/id"
    npis: dict[str, str] = field(default_factory=dict)  # "Practitioner/id" -> its NPI
    days: dict[tuple[str, str, date, bool], str] = field(default_factory=dict)  # device day -> who gave it

    def target(self, ref: Any, element: str, kinds: tuple[str, ...]) -> tuple[str, str]:
        """(type, id) of a literal reference to one of `kinds`; Missing otherwise."""
        text = getattr(ref, "reference", None)
        if not text:
            raise Missing(element, f"required reference to {' or '.join(kinds)} missing")
        parts = self.urls.get(text, text).split("/")
        if "_history" in parts:
            parts = parts[: parts.index("_history")]
        if len(parts) < 2 or not parts[-1] or parts[-2] not in kinds:
            raise Missing(element, f"expected a reference to {' or '.join(kinds)} (Type/id or a Bundle fullUrl)")
        return parts[-2], parts[-1]

    def patient(self, ref: Any, element: str) -> str:
        return self.target(ref, element, ("Patient",))[1]

    def npi(self, ref: Any) -> str | None:
        """The NPI a reference names: its own identifier, or the Practitioner it points to."""
        ident = getattr(ref, "identifier", None)
        if ident is not None and ident.system == NPI_SYSTEM and ident.value:
            return str(ident.value)
        text = getattr(ref, "reference", None)
        return self.npis.get(self.urls.get(text, text)) if text else None

    def staff(self, refs: Iterable[Any], element: str) -> str:
        """Who did it: the first Practitioner (or PractitionerRole) reference's id, or the
        value of a logical reference's identifier. Patients and relatives are not staff."""
        for ref in refs:
            ident: Any = getattr(ref, "identifier", None)
            logical = not getattr(ref, "reference", None) and getattr(ident, "value", None)
            if logical and getattr(ref, "type", None) in STAFF:  # an untyped identifier may be the patient's
                return str(ident.value)
            try:
                return self.target(ref, element, STAFF)[1]
            except Missing:
                continue
        raise Missing(element, "no Practitioner reference (who did it)")

    def programs(self, concepts: Iterable[Any]) -> list[str]:
        """The care-management programs named by codings, through mappings.programs."""
        found: list[str] = []
        for c in codings(concepts):
            program = self.mappings.programs.get(f"{c.system}|{c.code}") or self.mappings.programs.get(c.code or "")
            if program and program not in found:
                found.append(program)
        return found


def get(obj: Any, path: str) -> Any:
    """The element at a dotted path, None where any step is absent."""
    for name in path.split("."):
        if obj is None:
            return None
        obj = getattr(obj, name, None)
    return obj


def codings(concepts: Iterable[Any] | None) -> Iterator[Any]:
    for concept in concepts or ():
        if concept is not None:
            yield from concept.coding or ()


def coded(concepts: Iterable[Any] | None, system: str | None = None) -> list[str]:
    return [c.code for c in codings(concepts) if c.code and (system is None or c.system == system)]


def day(value: Any, zone: ZoneInfo) -> date | None:
    """The practice's calendar day of a FHIR date or dateTime; None for a partial date."""
    if isinstance(value, datetime):
        return value.astimezone(zone).date()
    return value if isinstance(value, date) else None


def need_day(res: Any, zone: ZoneInfo, *paths: str) -> date:
    """The day at the first of `paths` present; Missing names the element (never its value)."""
    kind = type(res).__name__
    for path in paths:
        value = get(res, path)
        if value is not None:
            found = day(value, zone)
            if found is None:
                raise Missing(f"{kind}.{path}", "expected a full date (year, month and day)")
            return found
    alternatives = f" (nor {', '.join(paths[1:])})" if len(paths) > 1 else ""
    raise Missing(f"{kind}.{paths[0]}", f"required element missing{alternatives}")


def extension(res: Any, name: str, value: str) -> Any:
    """The `value` (valueBoolean, valueCode...) of the carelane extension `name`, or None."""
    for ext in getattr(res, "extension", None) or ():
        if ext.url == EXT + name:
            found = getattr(ext, value, None)
            if found is None:
                raise Missing(f"{type(res).__name__}.extension[{name}]", f"expected {value}")
            return found
    return None


def identifier(idents: Iterable[Any] | None, system: str) -> str | None:
    return next((str(i.value) for i in idents or () if i.system == system and i.value), None)


_KINDS = {
    "string": "text", "bool": "true or false", "int": "an integer", "float": "a number", "decimal": "a number",
    "list": "a list", "dict": "an object", "model": "an object",
}  # fmt: skip


def invalid(kind: str, error: pydantic.ValidationError) -> str:
    """A validation failure as 'Condition.onsetDateTime: not a valid value...': the element
    path and what FHIR R4 expects there, never the value sent (it may be PHI) or a regex."""
    problems = error.errors()
    first = problems[0]
    steps = [f"[{s}]" if isinstance(s, int) else f".{s}" for s in first["loc"] if _element_step(s)]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{kind}{''.join(steps)}: {_words(first['type'])}{more}"


def _element_step(step: Any) -> bool:
    return isinstance(step, int) or (isinstance(step, str) and step != "root" and step.lstrip("_").isidentifier())


def _words(kind: str) -> str:
    if kind == "extra_forbidden":
        return "unknown element (not in FHIR R4: R5 content, or misspelled)"
    if kind == "missing":
        return "required element missing"
    if kind.startswith("model_") or kind in ("list_type", "dict_type"):
        return "wrong shape for FHIR R4 (a single value where R4 has a list, or the reverse?)"
    base = kind.split("_")[0]
    if base in _KINDS and kind.endswith(("_type", "_parsing")):
        return f"expected {_KINDS[base]}"
    return "not a valid value for its FHIR R4 data type"


def code(value: object) -> str:
    """A FHIR code as sent, when it is one; the R4B models do not hold status to its value
    set, so anything else (a name, say) is never repeated."""
    text = str(value)
    return text if len(text) <= 30 and text.replace("-", "").isalpha() and text.islower() else "(not a code)"
