"""FHIR R4 in: a Bundle (collection, transaction, batch, searchset), one resource, or bulk
`$export` NDJSON (a resource a line), turned into the facts of interface.md section 1.

Each resource is validated with fhir.resources' R4B models (R4's successor with R4's shape;
the package's default models are R5). One that fails is one Item error naming `Type/id`
and the element path, never its value. A type the ledger has no use for is skipped; one
that R4 does not have (R5's DeviceUsage, say) is an error. An Item's `where` is `Type/id`,
or `Type#n` without an id (n: the entry's place in the Bundle from 1, or the NDJSON line).
Facts come out Patients first, then Condition, Consent, Encounter, CarePlan, Device,
DeviceUseStatement, Observation, whatever order the sender used, as the ledger needs them.
Days are the practice's (`zone`) calendar days of FHIR dateTimes; a partial date is no day.
Our extensions are `http://carelane.example/fhir/StructureDefinition/<name>` (EXT below).

- Patient: PatientRegistered (patient_id = id; birthDate when a full date; medicare_id from
  the identifier of system http://hl7.org/fhir/sid/us-mbi). PatientDemographicsRecorded too
  when the official (else first) name has family and given, gender is given (female F,
  male M, other/unknown U) and the home (else first) address has line, city, state and
  postalCode; effective_on is meta.lastUpdated's day, never today (a resent bundle must say
  the same to be recorded once), and without it the demographics are an error. A full
  deceasedDateTime adds PatientDied (G-18).
- Condition: ConditionDiagnosed with the ICD-10-CM coding (dotted after 3 characters),
  diagnosed_on from onsetDateTime, onsetPeriod.start or recordedDate, diagnosed_by the NPI
  of asserter, else recorder (an error naming Condition.asserter when neither has one).
  A confirmed problem-list-item, active or ended on a known day, is expected to last 12
  months unless `condition-expected-duration-months` (valueInteger) says otherwise (any
  other Condition: 0). significant_risk is a clinician's attestation: only
  `condition-significant-risk` (valueBoolean) gives it, default false, so P-CCM-1 does
  not count a condition the EHR did not attest. behavioral: an F code; chronic_pain: G89.2x or G89.4. clinicalStatus
  inactive/remission/resolved adds ConditionResolved on abatementDateTime (or
  abatementPeriod.start; an error without either). Refuted or entered-in-error: skipped.
- Consent: active gives ConsentRecorded; inactive/rejected ConsentRevoked (on
  provision.period.end, else dateTime), as does an active one whose provision.type is deny
  (on dateTime); one per program that a category or provision.code
  coding names through mappings.programs (none: skipped). method from `consent-method`
  (valueCode), else written when sourceAttachment/sourceReference is present, else verbal;
  obtained_by: the first Practitioner(Role) performer's id (or a logical reference typed
  Practitioner: its identifier), never the patient; recorded_on: dateTime.
  cost_sharing_explained / one_practitioner_explained from `consent-cost-sharing-explained`
  and `consent-one-practitioner-explained` (valueBoolean), default false: the gate then
  refuses CONSENT_INCOMPLETE rather than the feed guessing.
- Encounter (finished only): the first type coding mappings.visit_types knows; awv, ippe,
  or em with `encounter-initiating-visit` true, give InitiatingVisitRecorded
  (extended_assessment from `encounter-extended-assessment`); any other gives
  FaceToFaceVisitRecorded for class AMB, HH or FLD (in person) or VR (not), minutes from
  length (min or h); other classes are skipped. visit_on: period.start; provider_npi: the
  participant individual's NPI (primary performer first).
- CarePlan (active, with a category coding naming a program): CarePlanEstablished
  (established_on period.start, else created; by: author, else a contributor;
  shared_with_patient from `careplan-shared-with-patient`, default false). One that
  `replaces` plans gives CarePlanRevised of each instead (revised_on created, else
  period.start; substantial from `careplan-substantial-revision`, default false).
- Device with `monitoring-program` (valueCode RPM/RTM) and patient: DeviceSetup on
  `device-setup-date` (valueDate); DeviceUseStatement with `monitoring-program`: DeviceSetup
  of its device on timingDateTime, timingPeriod.start or recordedOn. Category from
  `monitoring-category` (valueCode), default physiologic for RPM (RTM must say). Devices and
  statements without the extension (implants, crutches) are skipped.
- Observation (final/amended/corrected) with a device: DataTransmitted on the practice day
  of effectiveDateTime (effectiveInstant, effectivePeriod.start), one per patient, device
  and day (later readings that day are skipped, naming the first); reading_kind is the
  first code. manual when method has coding READING_METHOD|manual. Without a device it is
  skipped: DataTransmitted needs a device_id, and clinic vitals are not monitoring data.
- Practitioner: skipped, but read first: its us-npi identifier is the NPI of references to
  it. Every other R4 type is skipped ("no use for this resource type").
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pydantic
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.resource import Resource

from adapters.feeds import fhir_care, fhir_people
from adapters.feeds.fhir_read import (
    EXT as EXT,
    NPI_SYSTEM,
    READING_METHOD as READING_METHOD,
    Context,
    Missing,
    identifier,
    invalid,
)
from adapters.feeds.items import FeedError, Item
from adapters.feeds.mappings import DEFAULT, Mappings

Mapper = Callable[[Any, str, Context], list[Item]]
MAPPERS: dict[str, Mapper] = {
    "Patient": fhir_people.patient,
    "Condition": fhir_people.condition,
    "Consent": fhir_people.consent,
    "Encounter": fhir_care.encounter,
    "CarePlan": fhir_care.care_plan,
    "Device": fhir_care.device,
    "DeviceUseStatement": fhir_care.device_use,
    "Observation": fhir_care.observation,
}
ORDER = {kind: n for n, kind in enumerate(MAPPERS)}
BUNDLE_TYPES = ("collection", "transaction", "batch", "searchset")
NO_USE = "no use for this resource type"
Sent = tuple[str, Any]  # (where, the resource's JSON, or an Item when it is not one)


def items(text: str, *, zone: ZoneInfo, mappings: Mappings = DEFAULT) -> Iterator[Item]:
    """One Item per fact found, and per resource that gave none (skipped or in error)."""
    sent, urls = _read(text.lstrip("\ufeff"))
    ctx = Context(zone, mappings, urls)
    parsed = [_parse(where, body) for where, body in sent]
    for _, model in parsed:
        if type(model).__name__ == "Practitioner" and model.id:
            npi = identifier(model.identifier, NPI_SYSTEM)
            if npi:
                ctx.npis[f"Practitioner/{model.id}"] = npi
    parsed.sort(key=lambda p: ORDER.get(p[0].split("/")[0].split("#")[0], len(ORDER)))
    for where, model in parsed:
        if isinstance(model, Item):
            yield model
        elif (mapper := MAPPERS.get(type(model).__name__)) is None:
            yield Item(where, skipped=NO_USE)
        else:
            yield from _mapped(mapper, model, where, ctx)


def _mapped(mapper: Mapper, model: Any, where: str, ctx: Context) -> list[Item]:
    try:
        return mapper(model, where, ctx)
    except Missing as e:
        return [Item(where, error=str(e))]


def _read(text: str) -> tuple[list[Sent], dict[str, str]]:
    """The resources sent, named, with a Bundle's fullUrls; FeedError when it is not FHIR."""
    try:
        whole = json.loads(text)
    except ValueError:
        return _lines(text), {}
    if not isinstance(whole, dict) or not isinstance(whole.get("resourceType"), str):
        raise FeedError("not FHIR: expected a JSON object with a resourceType, or NDJSON of them")
    if whole["resourceType"] != "Bundle":
        return [(_name(whole, 1), whole)], {}
    if whole.get("type") not in BUNDLE_TYPES:
        raise FeedError(f"Bundle.type: expected one of {', '.join(BUNDLE_TYPES)}")
    entries = whole.get("entry") or []
    if not isinstance(entries, list):
        raise FeedError("Bundle.entry: expected a list")
    sent: list[Sent] = []
    urls: dict[str, str] = {}
    for n, entry in enumerate(entries, start=1):
        body = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(body, dict):
            sent.append((f"Bundle.entry#{n}", Item(f"Bundle.entry#{n}", skipped="no resource (a request only)")))
            continue
        sent.append((_name(body, n), body))
        if isinstance(entry.get("fullUrl"), str) and body.get("id"):
            urls[entry["fullUrl"]] = f"{body.get('resourceType')}/{body['id']}"
    return sent, urls


def _lines(text: str) -> list[Sent]:
    sent: list[Sent] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            body = json.loads(line)
        except ValueError:
            sent.append((f"line {n}", Item(f"line {n}", error="not a JSON object (a FHIR resource)")))
            continue
        sent.append((_name(body, n), body) if isinstance(body, dict) else (f"line {n}", None))
    if not any(isinstance(body, dict) for _, body in sent):
        raise FeedError("not FHIR: expected a JSON object with a resourceType, or NDJSON of them")
    return sent


def _name(body: dict[str, Any], n: int) -> str:
    kind = body.get("resourceType") if isinstance(body.get("resourceType"), str) else "Resource"
    ident = body.get("id")
    return f"{kind}/{ident}" if isinstance(ident, str) and ident else f"{kind}#{n}"


def _parse(where: str, body: Any) -> tuple[str, Any]:
    """(where, the validated R4B model) or (where, the Item saying why there is none)."""
    if isinstance(body, Item):
        return where, body
    kind = body.get("resourceType") if isinstance(body, dict) else None
    if not isinstance(kind, str):
        return where, Item(where, error="resourceType: required element missing (not a FHIR resource)")
    try:
        model_class = get_fhir_model_class(kind)
    except ValueError:
        model_class = None
    if model_class is None or not issubclass(model_class, Resource):  # a data type (Coding) is no resource
        return where, Item(where, error="resourceType: not a FHIR R4 resource type")
    if kind not in MAPPERS and kind != "Practitioner":
        return where, Item(where, skipped=NO_USE)  # not validated: nothing is read from it
    try:
        return where, model_class.model_validate(body)
    except pydantic.ValidationError as e:
        return where, Item(where, error=invalid(kind, e))
