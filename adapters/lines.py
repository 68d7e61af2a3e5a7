"""One NDJSON line into a fact of the contract, or a clear error naming the line and the
field: never a traceback, a regex, or the offending value when it may be PHI."""

from __future__ import annotations

import enum
import json
import re
import typing
from typing import Any

import msgspec
import structlog

from domain import facts

log = structlog.get_logger("carelane.ingest")
_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]")
_PATH = re.compile(r"^(?P<msg>.*?)(?: - at `(?P<path>\$[^`]*)`)?$", re.DOTALL)
_DECODER = msgspec.json.Decoder(facts.AnyFact)


class Invalid(Exception):
    """A line that does not parse or fit the schema; the message names line and field."""


def decode_line(raw: bytes | str, lineno: int) -> facts.Fact:
    try:
        fact: facts.Fact = _DECODER.decode(raw)
        _one_of_each_key(raw)
        problem = _control_characters(raw) or facts.input_problem(fact)
        if problem:
            raise Invalid(f"line {lineno}: {problem}")
    except msgspec.ValidationError as e:
        raise Invalid(f"line {lineno}: {describe(str(e), raw)}") from None
    except msgspec.DecodeError as e:
        raise Invalid(f"line {lineno}: $: not valid JSON ({_lower(str(e))})") from None
    except RecursionError:
        raise Invalid(f"line {lineno}: $: nested too deeply to be a fact") from None
    except _DuplicateKey as e:
        raise Invalid(f"line {lineno}: {e}") from None
    return fact


class _DuplicateKey(Exception):
    pass


# A control character can reach a JSON string only escaped (or, for DEL, raw).
_CONTROL = re.compile(rb"\\u00[01][0-9a-fA-F]|\\u007[fF]|\\[bfnrt]|\x7f")


def _control_characters(raw: bytes | str) -> str | None:
    """No control characters in any id or text: a NUL makes PostgreSQL unable to read the row
    back, and a newline or escape sequence forges lines in reports and logs. Checked on the
    raw line (most lines have no escape at all), then located field by field."""
    data = raw.encode() if isinstance(raw, str) else raw
    if not _CONTROL.search(data):
        return None
    path = controlled(msgspec.json.decode(data), "$")
    return None if path is None else f"{path}: expected text without control characters, got text"


def controlled(value: Any, path: str) -> str | None:
    """The path of the first text holding a control character, or None."""
    if isinstance(value, str):
        return path if any(c < " " or c == "\x7f" for c in value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        found = controlled(item, f"{path}.{key}" if isinstance(key, str) else f"{path}[{key}]")
        if found:
            return found
    return None


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen = dict(pairs)
    if len(seen) != len(pairs):
        names = [k for k, _ in pairs]
        twice = next(k for k in names if names.count(k) > 1)
        raise _DuplicateKey(f"$.{twice}: given twice in one object (which one counts would be a guess)")
    return seen


def _one_of_each_key(raw: bytes | str) -> None:
    """JSON allows a key twice and msgspec keeps the last; a fact with two patient ids or two
    unit counts is refused instead. A compact line that msgspec writes back byte for byte has
    no key twice (the usual case, checked in C); any other is read again by the standard
    library's parser, which reports every pair."""
    data = raw.encode() if isinstance(raw, str) else raw
    if _ENCODE(_UNTYPED(data)) != data.strip():
        json.loads(raw, object_pairs_hook=_pairs)


_ENCODE, _UNTYPED = msgspec.json.Encoder().encode, msgspec.json.Decoder().decode


def has_duplicate_key(raw: bytes | str) -> bool:
    """Whether an object in the line gives a key twice (the line is then answered invalid)."""
    try:
        _one_of_each_key(raw)
    except (_DuplicateKey, ValueError, RecursionError):
        return True
    return False


def describe(message: str, raw: bytes | str) -> str:
    """msgspec's 'Expected `int` >= 1 - at `$.minutes`' as '$.minutes: expected int >= 1, got -5':
    a field's value is repeated only when it cannot be PHI, and a pattern is said in words."""
    match = _PATH.match(message)
    assert match is not None
    text, path = match["msg"], match["path"] or "$"
    text = text.replace("`", "")
    if m := re.match(r"Object contains unknown field (\S+)", text):
        return f"{path}.{m[1]}: unknown field (not in the contract)".replace("$.$", "$")
    if m := re.match(r"Object missing required field (\S+)", text):
        return f"{path}.{m[1]}: required field missing"
    if path == "$.type" and text.startswith("Invalid value"):
        return f"$.type: unknown fact type {text.removeprefix('Invalid value ')}"
    text = in_words(text)
    got = _value_at(raw, path)
    if text.startswith("Invalid enum value") and (allowed := _allowed(raw, path)):
        shown = f", got {_show(path, got)}" if got is not _MISSING else ""
        return f"{path}: expected one of {', '.join(allowed)}{shown}"
    if (m := re.match(r"Expected (.+), got \S+$", text)) and got is not _MISSING and path != "$":
        return f"{path}: expected {m[1]}, got {_show(path, got)}"
    quoted = ", got" in text or text.startswith("Invalid")
    suffix = "" if got is _MISSING or quoted or path == "$" else f", got {_show(path, got)}"
    return f"{path}: {_lower(text)}{suffix}"


# msgspec's words for a type or bound, as a billing clerk would say them.
_PLAIN = (
    (re.compile(r"^Invalid RFC3339 encoded date$"), "Expected a date as YYYY-MM-DD"),
    (re.compile(r"^Invalid RFC3339 encoded datetime$"),
     "Expected a date and time with its offset, as 2026-03-05T09:30:00-05:00"),
    (re.compile(r"\bstr of length >= (\d+)"), r"text of at least \1 characters"),
    (re.compile(r"\bstr of length <= (\d+)"), r"text of at most \1 characters"),
    (re.compile(r"\barray of length >= (\d+)"), r"a list of at least \1 items"),
    (re.compile(r"\barray of length <= (\d+)"), r"a list of at most \1 items"),
)  # fmt: skip


def in_words(text: str) -> str:
    for pattern, words in facts.PATTERN_WORDS.items():
        for spelled in (repr(pattern), f"'{pattern}'"):
            text = text.replace(f"str matching regex {spelled}", words)
    for found, plain in _PLAIN:
        text = found.sub(plain, text)
    return re.sub(r"str matching regex '.*'", "text in the expected form", text)


def _allowed(raw: bytes | str, path: str) -> list[str]:
    """The values a fact's top-level enumerated field takes (none found: empty)."""
    field = path.removeprefix("$.")
    try:
        tag = msgspec.json.decode(raw).get("type")
    except (msgspec.DecodeError, RecursionError, AttributeError):
        return []
    kind = next((t for t in facts.FACT_TYPES if t.__name__ == tag), None)
    hint = typing.get_type_hints(kind).get(field) if kind is not None and field.isidentifier() else None
    for option in (hint, *typing.get_args(hint)):  # the enum itself, or inside `X | None`
        if isinstance(option, type) and issubclass(option, enum.Enum):
            return [str(member.value) for member in option]
    return []


_MISSING = object()
# Fields whose values are codes, counts or flags, never PHI: an error may repeat them.
_SAFE = frozenset({
    "type", "program", "minutes", "units", "outcome", "method", "level", "setting", "staff_role", "visit_type",
    "category", "code", "place_of_service", "expected_duration_months", "group", "significant_risk", "behavioral",
    "chronic_pain", "interactive", "face_to_face", "manual", "qmb", "in_person", "substantial", "shared_with_patient",
    "extended_assessment", "cost_sharing_explained", "one_practitioner_explained",
})  # fmt: skip


def _value_at(raw: bytes | str, path: str) -> Any:
    try:
        value: Any = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return _MISSING
    for name, index in _TOKEN.findall(path[1:]):
        try:
            value = value[name] if name else value[int(index)]
        except (KeyError, IndexError, TypeError):
            return _MISSING
    return value


def _show(path: str, value: Any) -> str:
    """The value, for a field that cannot hold PHI; otherwise only what kind of value it was."""
    names = [name for name, _ in _TOKEN.findall(path[1:]) if name]
    if names and names[-1] in _SAFE and not isinstance(value, dict | list):
        text = msgspec.json.encode(value).decode()
        return text if len(text) <= 60 else text[:57] + "..."
    kinds = {str: "text", bool: "true or false", int: "a number", float: "a number", list: "a list", dict: "an object"}
    return "null" if value is None else kinds.get(type(value), "another kind of value")


def _lower(text: str) -> str:
    """'Expected ...' as 'expected ...', but 'JSON ...' as it is."""
    return text if text[1:2].isupper() else text[:1].lower() + text[1:]


def decode_only(raw: bytes | str, lineno: int, only: tuple[type[facts.Fact], ...] = ()) -> facts.Fact:
    """decode_line, and refuse fact types a command does not take (`carelane claim`), or that
    the caller's role may not send (claim facts are the biller's)."""
    fact = decode_line(raw, lineno)
    if only and not isinstance(fact, only):
        if only == NOT_CLAIMS:
            raise Invalid(f"line {lineno}: $.type: {type(fact).__name__} needs the biller role")
        if only == CLAIM_FACTS:
            raise Invalid(f"line {lineno}: $.type: {type(fact).__name__} needs the recorder role")
        names = ", ".join(t.__name__ for t in only)
        raise Invalid(f"line {lineno}: $.type: expected {names}, got {type(fact).__name__}")
    return fact


CLAIM_FACTS = (facts.ClaimSubmitted, facts.ClaimAdjudicated, facts.ClaimVoided)
NOT_CLAIMS = tuple(t for t in facts.FACT_TYPES if t not in CLAIM_FACTS)
