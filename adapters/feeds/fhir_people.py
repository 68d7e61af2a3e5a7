"""Patient, Condition and Consent resources as facts (the choices are listed in fhir_feed)."""

from __future__ import annotations

from typing import Any

from adapters.feeds.fhir_read import (
    ICD10_SYSTEM,
    MBI_SYSTEM,
    Context,
    Missing,
    code,
    codings,
    day,
    extension,
    get,
    identifier,
    need_day,
)
from adapters.feeds.items import Item, fact_item

SEX = {"female": "F", "male": "M", "other": "U", "unknown": "U"}
LISTED = {"active", "recurrence", "relapse"}
ENDED = {"inactive", "remission", "resolved"}


def patient(res: Any, where: str, ctx: Context) -> list[Item]:
    """PatientRegistered, and PatientDemographicsRecorded when name, sex and address are whole."""
    if not res.id:
        raise Missing("Patient.id", "required element missing (the ledger's patient_id)")
    data: dict[str, Any] = {"type": "PatientRegistered", "patient_id": res.id}
    born = day(res.birthDate, ctx.zone)  # a partial birth date ('1948') is left out, not guessed
    if born is not None:
        data["birth_date"] = born
    mbi = identifier(res.identifier, MBI_SYSTEM)
    if mbi is not None:
        data["medicare_id"] = mbi
    names = {"birth_date": "Patient.birthDate", "medicare_id": "Patient.identifier"}
    out = [fact_item(where, data, names), *_demographics(res, where, ctx)]
    died = day(res.deceasedDateTime, ctx.zone)  # G-18; deceasedBoolean alone has no day to record
    if died is not None:
        out.append(fact_item(where, {"type": "PatientDied", "patient_id": res.id, "died_on": died}))
    return out


def _demographics(res: Any, where: str, ctx: Context) -> list[Item]:
    name, home = _pick(res.name, ("official", "usual")), _pick(res.address, ("home",))
    sex = SEX.get(res.gender or "")
    if not (name and name.family and name.given and sex and home and home.line and home.city and home.state):
        return []
    if not home.postalCode:
        return []
    on = day(get(res, "meta.lastUpdated"), ctx.zone)
    if on is None:  # never "today": a bundle sent again must say the same thing to be recorded once
        return [Item(where, error="Patient.meta.lastUpdated: required for demographics (the day they hold from)")]
    data = {
        "type": "PatientDemographicsRecorded", "patient_id": res.id, "last_name": name.family,
        "first_name": name.given[0], "sex": sex, "address": home.line[0], "city": home.city,
        "state": home.state.strip().upper(), "zip": home.postalCode.replace("-", "").strip(), "effective_on": on,
    }  # fmt: skip
    names = {
        "last_name": "Patient.name.family", "first_name": "Patient.name.given", "address": "Patient.address.line",
        "city": "Patient.address.city", "state": "Patient.address.state", "zip": "Patient.address.postalCode",
    }  # fmt: skip
    return [fact_item(where, data, names)]


def _pick(values: list[Any] | None, uses: tuple[str, ...]) -> Any:
    """The first value of a preferred `use`, else the first one."""
    values = values or []
    return next((v for u in uses for v in values if v.use == u), values[0] if values else None)


def condition(res: Any, where: str, ctx: Context) -> list[Item]:
    """ConditionDiagnosed, and ConditionResolved when its clinical status says it ended."""
    verified = next(iter(_codes(res.verificationStatus)), "confirmed")
    if verified in ("entered-in-error", "refuted"):
        return [Item(where, skipped=f"verificationStatus {verified}: not a diagnosis")]
    status = next(iter(_codes(res.clinicalStatus)), None)
    pid = ctx.patient(res.subject, "Condition.subject")
    code, description = _icd10(res.code)
    ended = need_day(res, ctx.zone, "abatementDateTime", "abatementPeriod.start") if status in ENDED else None
    # A confirmed problem-list entry (active, or ended on a known day) is taken as expected to
    # last 12 months unless the extension says otherwise. Significant risk is an attestation a
    # clinician makes (P-CCM-1, what federal audits check): only the extension gives it, never
    # a default, so a feed without it leaves the condition uncounted rather than invented.
    listed = (status in LISTED or ended is not None) and verified == "confirmed"
    listed = listed and "problem-list-item" in _codes(*(res.category or []))
    months = extension(res, "condition-expected-duration-months", "valueInteger")
    risk = extension(res, "condition-significant-risk", "valueBoolean")
    bare = code.replace(".", "")
    data = {
        "type": "ConditionDiagnosed", "patient_id": pid, "condition_id": code, "description": description,
        "diagnosed_on": need_day(res, ctx.zone, "onsetDateTime", "onsetPeriod.start", "recordedDate"),
        "expected_duration_months": (12 if listed else 0) if months is None else months,
        "significant_risk": bool(risk), "behavioral": code.startswith("F"),
        "chronic_pain": bare.startswith("G892") or bare == "G894", "diagnosed_by": _diagnosed_by(res, ctx),
    }  # fmt: skip
    names = {"condition_id": "Condition.code", "description": "Condition.code", "diagnosed_by": "Condition.asserter",
             "expected_duration_months": "Condition.extension[condition-expected-duration-months]"}  # fmt: skip
    out = [fact_item(where, {k: v for k, v in data.items() if v is not None}, names)]
    if ended is not None:
        resolved = {"type": "ConditionResolved", "patient_id": pid, "condition_id": code, "resolved_on": ended}
        out.append(fact_item(where, resolved, {"condition_id": "Condition.code"}))
    return out


def _codes(*concepts: Any) -> list[str]:
    return [c.code for c in codings(concepts) if c.code]


def _icd10(concept: Any) -> tuple[str, str | None]:
    """The ICD-10-CM code, dotted after its third character as CMS prints it, and its text."""
    coding = next((c for c in codings([concept]) if c.system == ICD10_SYSTEM and c.code), None)
    if coding is None:
        raise Missing("Condition.code", "no coding with system http://hl7.org/fhir/sid/icd-10-cm")
    code = coding.code.strip().upper()
    if "." not in code and len(code) > 3:
        code = f"{code[:3]}.{code[3:]}"
    text = coding.display or concept.text
    return code, text[:200] if text else None


def _diagnosed_by(res: Any, ctx: Context) -> str:
    for ref in (res.asserter, res.recorder):
        npi = ctx.npi(ref) if ref is not None else None
        if npi:
            return npi
    raise Missing("Condition.asserter", "no Practitioner with an NPI (identifier http://hl7.org/fhir/sid/us-npi)")


def consent(res: Any, where: str, ctx: Context) -> list[Item]:
    """ConsentRecorded (active) or ConsentRevoked (inactive, rejected): one per program named."""
    if res.status not in ("active", "inactive", "rejected"):
        return [Item(where, skipped=f"status {code(res.status)}: neither in force nor withdrawn")]
    pid = ctx.patient(res.patient, "Consent.patient")
    programs = ctx.programs([*(res.category or []), *(get(res, "provision.code") or [])])
    if not programs:
        return [Item(where, skipped="no coding in category or provision.code names a care-management program")]
    if res.status != "active" or get(res, "provision.type") == "deny":  # an active "deny" is a refusal
        ends = ("dateTime",) if res.status == "active" else ("provision.period.end", "dateTime")
        on = need_day(res, ctx.zone, *ends)
        return [_fact(where, {"type": "ConsentRevoked", "patient_id": pid, "program": p, "revoked_on": on})
                for p in programs]  # fmt: skip
    written = res.sourceAttachment is not None or res.sourceReference is not None
    base = {
        "type": "ConsentRecorded", "patient_id": pid,
        "method": extension(res, "consent-method", "valueCode") or ("written" if written else "verbal"),
        "obtained_by": ctx.staff(res.performer or [], "Consent.performer"),
        # Not FHIR elements: without the extensions the gate refuses CONSENT_INCOMPLETE, never guesses.
        "cost_sharing_explained": bool(extension(res, "consent-cost-sharing-explained", "valueBoolean")),
        "one_practitioner_explained": bool(extension(res, "consent-one-practitioner-explained", "valueBoolean")),
        "recorded_on": need_day(res, ctx.zone, "dateTime"),
    }  # fmt: skip
    return [_fact(where, base | {"program": p}) for p in programs]


def _fact(where: str, data: dict[str, Any]) -> Item:
    return fact_item(where, data, {"method": "Consent.extension[consent-method]", "program": "Consent.category"})
