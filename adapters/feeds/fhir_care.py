"""Encounter, CarePlan, Device, DeviceUseStatement and Observation resources as facts (the
choices are listed in fhir_feed)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from adapters.feeds.fhir_read import READING_METHOD, Context, Missing, code, codings, day, extension, need_day
from adapters.feeds.items import Item, fact_item

IN_PERSON = {"AMB": True, "HH": True, "FLD": True, "VR": False}  # v3 ActCode: office, home, field; virtual
PERFORMERS = ("PPRF", "SPRF", "ATND", "PART")  # v3 ParticipationType, the one who performs the visit first
MINUTES = {"min": 1, "minute": 1, "minutes": 1, "h": 60, "hour": 60, "hours": 60}
READINGS = ("final", "amended", "corrected")


def encounter(res: Any, where: str, ctx: Context) -> list[Item]:
    """A finished visit: InitiatingVisitRecorded (AWV, IPPE, or an E/M marked initiating),
    else FaceToFaceVisitRecorded for an office, home or virtual visit."""
    if res.status != "finished":
        return [Item(where, skipped=f"status {code(res.status)}: not a finished visit")]
    if not res.id:
        raise Missing("Encounter.id", "required element missing (the visit's id)")
    pid = ctx.patient(res.subject, "Encounter.subject")
    kind = _visit_kind(res, ctx)
    base = {"patient_id": pid, "visit_id": res.id, "visit_on": need_day(res, ctx.zone, "period.start"),
            "provider_npi": _performer_npi(res, ctx)}  # fmt: skip
    marked = bool(extension(res, "encounter-initiating-visit", "valueBoolean"))
    if kind in ("awv", "ippe") or (kind == "em" and marked):
        extended = bool(extension(res, "encounter-extended-assessment", "valueBoolean"))
        data = base | {"type": "InitiatingVisitRecorded", "visit_type": kind, "extended_assessment": extended}
        return [fact_item(where, data, {"visit_type": "Encounter.type", "provider_npi": "Encounter.participant"})]
    klass = getattr(res.class_fhir, "code", None)
    if klass not in IN_PERSON:
        return [Item(where, skipped=f"class {klass}: not an office, home or virtual visit")]
    data = base | {"type": "FaceToFaceVisitRecorded", "in_person": IN_PERSON[klass]}
    if res.length is not None:
        data["minutes"] = _minutes(res.length)
    return [fact_item(where, data, {"minutes": "Encounter.length", "provider_npi": "Encounter.participant"})]


def _visit_kind(res: Any, ctx: Context) -> str | None:
    """The first Encounter.type coding mappings.visit_types knows (system|code, or code)."""
    kinds = ctx.mappings.visit_types
    for c in codings(res.type):
        kind = kinds.get(f"{c.system}|{c.code}") or kinds.get(c.code or "")
        if kind:
            return kind
    return None


def _performer_npi(res: Any, ctx: Context) -> str:
    def rank(p: Any) -> int:
        codes = [c.code for c in codings(p.type)]
        return min((PERFORMERS.index(c) for c in codes if c in PERFORMERS), default=len(PERFORMERS))

    for person in sorted(res.participant or [], key=rank):
        npi = ctx.npi(person.individual) if person.individual is not None else None
        if npi:
            return npi
    raise Missing("Encounter.participant", "no individual with an NPI (identifier http://hl7.org/fhir/sid/us-npi)")


def _minutes(length: Any) -> int:
    per = MINUTES.get(length.code or "") or MINUTES.get((length.unit or "").lower())
    if per is None or length.value is None:
        raise Missing("Encounter.length", "expected a duration in minutes or hours (UCUM min or h)")
    value: Decimal = length.value
    return round(value * per)


def care_plan(res: Any, where: str, ctx: Context) -> list[Item]:
    """An active care-management plan: CarePlanEstablished, or CarePlanRevised of each plan
    it `replaces` (the ledger keeps a plan's id through its revisions)."""
    if res.status != "active":
        return [Item(where, skipped=f"status {code(res.status)}: not a plan in force")]
    if not res.id:
        raise Missing("CarePlan.id", "required element missing (the plan's id)")
    programs = ctx.programs(res.category or [])
    if not programs:
        return [Item(where, skipped="no coding in category names a care-management program")]
    pid = ctx.patient(res.subject, "CarePlan.subject")
    by = ctx.staff([res.author, *(res.contributor or [])], "CarePlan.author")
    if res.replaces:
        on = need_day(res, ctx.zone, "created", "period.start")
        substantial = bool(extension(res, "careplan-substantial-revision", "valueBoolean"))
        return [fact_item(where, {"type": "CarePlanRevised", "patient_id": pid, "plan_id": old, "revised_on": on,
                                  "by": by, "substantial": substantial})
                for old in (ctx.target(r, "CarePlan.replaces", ("CarePlan",))[1] for r in res.replaces)]  # fmt: skip
    data = {
        "type": "CarePlanEstablished", "patient_id": pid, "plan_id": res.id, "by": by, "programs": programs,
        "established_on": need_day(res, ctx.zone, "period.start", "created"),
        "shared_with_patient": bool(extension(res, "careplan-shared-with-patient", "valueBoolean")),
    }  # fmt: skip
    return [fact_item(where, data, {"programs": "CarePlan.category"})]


def device(res: Any, where: str, ctx: Context) -> list[Item]:
    """A monitoring device given to a patient: DeviceSetup on its setup-date extension."""
    if extension(res, "monitoring-program", "valueCode") is None:
        return [Item(where, skipped="not marked for remote monitoring (extension monitoring-program)")]
    if not res.id:
        raise Missing("Device.id", "required element missing (the device's id)")
    pid = ctx.patient(res.patient, "Device.patient")
    on = day(extension(res, "device-setup-date", "valueDate"), ctx.zone)
    if on is None:
        raise Missing("Device.extension[device-setup-date]", "required for a monitoring device (the setup day)")
    return [_setup(res, where, pid, res.id, on)]


def device_use(res: Any, where: str, ctx: Context) -> list[Item]:
    """A patient's use of a monitoring device: DeviceSetup from its timing or recordedOn."""
    if res.status in ("entered-in-error", "intended"):
        return [Item(where, skipped=f"status {code(res.status)}: no device in use")]
    if extension(res, "monitoring-program", "valueCode") is None:
        return [Item(where, skipped="not marked for remote monitoring (extension monitoring-program)")]
    pid = ctx.patient(res.subject, "DeviceUseStatement.subject")
    device_id = ctx.target(res.device, "DeviceUseStatement.device", ("Device",))[1]
    on = need_day(res, ctx.zone, "timingDateTime", "timingPeriod.start", "recordedOn")
    return [_setup(res, where, pid, device_id, on)]


def _setup(res: Any, where: str, pid: str, device_id: str, on: Any) -> Item:
    program = extension(res, "monitoring-program", "valueCode")
    # RPM devices are physiologic; RTM's respiratory or musculoskeletal must be said.
    category = extension(res, "monitoring-category", "valueCode") or ("physiologic" if program == "RPM" else None)
    kind = type(res).__name__
    if category is None:
        raise Missing(f"{kind}.extension[monitoring-category]", "required for RTM")
    data = {"type": "DeviceSetup", "patient_id": pid, "device_id": device_id, "program": program,
            "category": category, "setup_on": on}  # fmt: skip
    names = {"program": f"{kind}.extension[monitoring-program]", "category": f"{kind}.extension[monitoring-category]"}
    return fact_item(where, data, names)


def observation(res: Any, where: str, ctx: Context) -> list[Item]:
    """A device reading: DataTransmitted, one per patient, device and practice day."""
    if res.status not in READINGS:
        return [Item(where, skipped=f"status {code(res.status)}: not a reading")]
    if res.device is None:  # a reading must name its device (DataTransmitted.device_id)
        return [Item(where, skipped="no device: not remote-monitoring data")]
    pid = ctx.patient(res.subject, "Observation.subject")
    device_id = ctx.target(res.device, "Observation.device", ("Device",))[1]
    on = need_day(res, ctx.zone, "effectiveDateTime", "effectiveInstant", "effectivePeriod.start")
    manual = any(c.system == READING_METHOD and c.code == "manual" for c in codings([res.method]))
    key = (pid, device_id, on, manual)
    if key in ctx.days:  # P-RPM-1: a day counts once however many readings
        return [Item(where, skipped=f"same patient, device and day as {ctx.days[key]}")]
    ctx.days[key] = where
    data = {"type": "DataTransmitted", "patient_id": pid, "device_id": device_id, "transmitted_on": on}
    kind = next((c.code for c in codings([res.code]) if c.code), None)
    if kind is not None:
        data["reading_kind"] = kind
    if manual:
        data["manual"] = True
    return [fact_item(where, data, {"reading_kind": "Observation.code"})]
