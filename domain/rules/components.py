"""A program's components: its monthly codes, and the parts billed on their own (device
days, setup, G0506, TCM). A component bills one option, a base code and its add-ons; the
worklist asks about the components the month's record calls for."""

from __future__ import annotations

import enum
from typing import NamedTuple

from domain.catalog import CodeSpec, Kind
from domain.rules.view import MonthView
from domain.vocab import Program

P = Program


class Part(enum.StrEnum):
    """Which of a program's components: its monthly codes, or one billed on its own."""

    MONTHLY = "monthly"
    DEVICE = "device"
    SETUP = "setup"
    ASSESSMENT = "assessment"
    TCM = "tcm"


class Component(NamedTuple):
    """A program's part that bills one option (a base code and its add-ons)."""

    program: Program
    part: Part


_OWN_PART = {Kind.DEVICE: Part.DEVICE, Kind.SETUP: Part.SETUP, Kind.ASSESSMENT: Part.ASSESSMENT, Kind.TCM: Part.TCM}


def component_of(spec: CodeSpec) -> Component:
    assert spec.program is not None, spec.code
    return Component(spec.program, _OWN_PART.get(spec.kind, Part.MONTHLY))


def active_components(view: MonthView) -> set[Component]:
    """Components the month's record asks about (only these can be blocked)."""
    wanted = {Component(program, Part.MONTHLY) for program in P if view.entries(program)}
    for program in (P.RPM, P.RTM):
        start = view.episode_start(program)
        if start is not None and view.period_ending_in_month(program) is not None:
            wanted.add(Component(program, Part.DEVICE))
        if start is not None and view.first <= start <= view.last:
            wanted.add(Component(program, Part.SETUP))
    if P.APCM in view.patient.consents:
        wanted.add(Component(P.APCM, Part.MONTHLY))
    if any(v.extended_assessment and view.first <= v.visit_on <= view.last
           for v in view.patient.initiating_visits.values()):  # fmt: skip
        wanted.add(Component(P.CCM, Part.ASSESSMENT))
    for d in view.patient.discharges.values():
        in_month = [d.discharged.discharged_on] + [v.visit_on for v in d.visits]
        if any(view.first <= day <= view.last for day in in_month):
            wanted.add(Component(P.TCM, Part.TCM))
    return wanted
