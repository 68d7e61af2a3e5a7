"""What an accepted claim stores besides its fact: the period each line covers when it is
not the calendar month (typed, tagged structs), the gate's verdict (G-17) and support
withdrawn later (G-16). Stored formats: see domain.records on how they may change."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec

from domain.reasons import Because
from domain.vocab import Program

# The period a claim line covers when it is not the claim's calendar month. A tagged struct,
# stored inside Patient.ClaimLodged (before class_version 2 it was a string such as
# "tcm:2026-03-04", which the upcast parses).


class Scope(msgspec.Struct, frozen=True, tag_field="kind"):
    """A period other than the calendar month."""


class DevicePeriod(Scope, tag="device", frozen=True):
    """A 30-day device period from its first day (G-01, P-RPM-1)."""

    program: Program
    start: date


class SetupEpisode(Scope, tag="setup", frozen=True):
    """A device episode of care, from its first setup (P-RPM-2)."""

    program: Program
    start: date


class TcmWindow(Scope, tag="tcm", frozen=True):
    """The discharge day and the 29 after it (P-TCM-1)."""

    discharged_on: date


class OncePerPractitioner(Scope, tag="once", frozen=True):
    """A code billable once by a practitioner (P-CCM-7: G0506)."""

    code: str
    npi: str


AnyScope = DevicePeriod | SetupEpisode | TcmWindow | OncePerPractitioner


def parse_scope(text: str) -> dict[str, Any]:
    """A class_version 1 scope string as its tagged struct's fields (for upcasts only)."""
    kind, _, rest = text.partition(":")
    if kind in ("device", "setup"):
        program, _, start = rest.partition(":")
        return {"kind": kind, "program": program, "start": start}
    if kind == "tcm":
        return {"kind": kind, "discharged_on": rest}
    if kind == "once":
        code, _, npi = rest.partition(":")
        return {"kind": kind, "code": code, "npi": npi}
    raise ValueError(f"unknown claim scope {kind!r}")


class LodgedLine(msgspec.Struct, frozen=True):
    """A line of an accepted claim, as the patient's record holds it (G-08, G-16)."""

    code: str
    units: int
    npi: str
    month: str  # the claim's month
    scope: AnyScope | None = None
    claim_id: str = ""


def upcast_lodged_lines(state: dict[str, Any]) -> None:
    """Patient.ClaimLodged and ScopedClaimLodged v1 to v2: scope strings to tagged structs."""
    for line in state.get("lines", ()):
        if isinstance(line.get("scope"), str):
            line["scope"] = parse_scope(line["scope"])


# What a claim's verdict and its later re-judgments store (G-16, G-17).


class FactRef(msgspec.Struct, frozen=True):
    """A fact a claim stood on: what it is, its id, and where it is stored (stream, version)."""

    kind: str
    ref: str
    stream: UUID
    version: int


class Verdict(msgspec.Struct, frozen=True):
    """G-17: what the gate decided, as it decided it."""

    rule_year: str
    allowed: dict[str, int]  # units the record supported, per code claimed
    stood_on: list[FactRef]


class Withdrawn(msgspec.Struct, frozen=True):
    """G-16: support a claim lost after it was accepted, and when the ledger saw it."""

    reasons: list[Because]
    identified_at: datetime
    cause: str  # the fact that withdrew it
