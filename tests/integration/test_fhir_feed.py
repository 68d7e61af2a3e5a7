"""FHIR R4 in (adapters.feeds.fhir_feed): a CCM patient's Bundle gives the worklist its
facts keyed by hand give; bulk-export NDJSON gives the same facts; bad, R5-only and unused
resources are answered by name; the same bundle twice records once."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
import pytest

from adapters.feeds.fhir_feed import EXT, READING_METHOD, items
from adapters.feeds.items import FeedError, FeedResult, Item, record
from adapters.ingest import LineResult, ingest
from domain import facts as f
from domain.catalog import DEFAULT_FEES
from domain.ledger import Ledger
from domain.rules.assess import assess
from tests.conftest import Clock, memory
from tests.factories import condition, consent, demographics, minutes, patient, plan, visit

ZONE = ZoneInfo("America/New_York")
ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "fhir"
BUNDLE = (FIXTURES / "ccm-patient-bundle.json").read_text()
EXPORT = (FIXTURES / "ccm-patient-export.ndjson").read_text()
DAYS = [2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 31]  # 20 days of March 2026


def by_hand() -> list[f.Fact]:
    """The bundle's facts keyed by hand, as a practice would send them as NDJSON."""
    return [
        patient("P1"),
        demographics("P1", first_name="Pat", effective_on=date(2026, 1, 5)),
        condition("E11.9", expected_duration_months=12, description="Type 2 diabetes mellitus without complications"),
        condition(
            "I10",
            diagnosed_on=date(2023, 6, 2),
            expected_duration_months=12,
            description="Essential (primary) hypertension",
        ),
        consent(f.Program.CCM),
        visit("awv-1", visit_type=f.VisitType.AWV),
        plan("cp-ccm"),
        f.DeviceSetup(
            patient_id="P1",
            device_id="bp-1",
            program=f.DeviceProgram.RPM,
            category=f.DeviceCategory.PHYSIOLOGIC,
            setup_on=date(2026, 3, 1),
        ),
        *[
            f.DataTransmitted(
                patient_id="P1", device_id="bp-1", transmitted_on=date(2026, 3, d), reading_kind="85354-9"
            )
            for d in DAYS
        ],
    ]


def time_spent() -> list[f.TimeLogged]:
    """TimeLogged has no FHIR resource in this mapping: both sides get the same entries."""
    return [*minutes(45), *minutes(20, program=f.Program.RPM, staff="RN-2", interactive=True)]


def fed(ledger: Ledger, text: str) -> list[FeedResult]:
    results: list[FeedResult] = []
    record(ledger, items(text, zone=ZONE), results.append)
    return results


def worklist(ledger: Ledger) -> dict[str, Any]:
    for entry in time_spent():
        ledger.record(entry)
    view = ledger.month_view("P1", "2026-03")
    assert view is not None
    row = assess(view, DEFAULT_FEES)
    return {
        "billable": sorted((b.code, b.units) for b in row.billable),
        "blocked": sorted((b.code, b.reason) for b in row.blocked),
        "device_days": row.device_days,
    }


def facts_of(text: str) -> list[f.Fact]:
    return [i.fact for i in items(text, zone=ZONE) if i.fact is not None]


def one(resource: dict[str, Any], kind: str = "collection") -> list[Item]:
    """The items of a Bundle holding the CCM patient's practitioner and `resource`."""
    practitioner = {
        "resourceType": "Practitioner",
        "id": "DR-1",
        "identifier": [{"system": "http://hl7.org/fhir/sid/us-npi", "value": "1234567893"}],
    }
    bundle = {"resourceType": "Bundle", "type": kind, "entry": [{"resource": practitioner}, {"resource": resource}]}
    return [i for i in items(json.dumps(bundle), zone=ZONE) if not i.where.startswith("Practitioner/")]


def test_the_bundle_gives_the_worklist_the_same_facts_by_hand_give() -> None:
    from_fhir, from_hand = memory(Clock()), memory(Clock())
    results = fed(from_fhir, BUNDLE)
    assert not [r for r in results if r.status not in ("accepted", "skipped")], results
    hand: list[LineResult] = []
    ingest(from_hand, [msgspec.json.encode(x) for x in by_hand()], hand.append)
    assert {r.status for r in hand} == {"accepted"}
    expected = worklist(from_hand)
    assert worklist(from_fhir) == expected, expected
    assert expected["device_days"] == {"bp-1": 20}  # 2 March twice is one day; 01:15Z on 1 April is 31 March here
    assert ("99490", 1) in expected["billable"] and ("99439", 1) in expected["billable"]
    assert ("99457", "CONSENT_MISSING") in expected["blocked"]  # the bundle's consent is CCM's only
    assert sorted(map(msgspec.json.encode, facts_of(BUNDLE))) == sorted(map(msgspec.json.encode, by_hand()))


def test_bulk_export_ndjson_gives_the_same_facts() -> None:
    assert facts_of(EXPORT) == facts_of(BUNDLE)
    named = {i.where for i in items(EXPORT, zone=ZONE)}
    assert named == {i.where for i in items(BUNDLE, zone=ZONE)}
    assert not [i for i in items(EXPORT, zone=ZONE) if i.error]


def test_the_samples_in_docs_read_cleanly() -> None:
    for name in ("ccm-bundle.json", "export.ndjson"):
        got = list(items((ROOT / "docs" / "samples" / "fhir" / name).read_text(), zone=ZONE))
        assert [i for i in got if i.fact] and not [i for i in got if i.error], name


def test_invalid_and_r5_only_content_is_an_error_naming_the_resource_and_element() -> None:
    """The fixture: an onset that is no dateTime (its value must not be echoed), R5's list-valued
    Encounter.class, R5's Condition.participant, R5's DeviceUsage, a Condition with no asserter."""
    text = (FIXTURES / "invalid-and-r5.json").read_text()
    got = {i.where: i.error for i in items(text, zone=ZONE)}
    assert got == {
        "Condition/bad-onset": "Condition.onsetDateTime: not a valid value for its FHIR R4 data type",
        "Encounter/enc-r5": "Encounter.class: wrong shape for FHIR R4 (a single value where R4 has a list, or the "
        "reverse?)",
        "Condition/cond-r5": "Condition.participant: unknown element (not in FHIR R4: R5 content, or misspelled)",
        "DeviceUsage/du-1": "resourceType: not a FHIR R4 resource type",
        "Condition#5": "Condition.asserter: no Practitioner with an NPI (identifier http://hl7.org/fhir/sid/us-npi)",
    }
    assert not any("SECRET" in (e or "") for e in got.values())


def test_unknown_resource_types_are_skipped() -> None:
    text = (
        "\n".join(
            json.dumps(r)
            for r in [
                {"resourceType": "Medication", "id": "m1"},
                {"resourceType": "Organization", "id": "o1"},
                {"resourceType": "Patient", "id": "P9"},
                {"resourceType": "Practitioner"},
            ]
        )
        + "\n"
    )
    got = [(i.where, i.skipped) for i in items(text, zone=ZONE) if i.fact is None]
    no_use = "no use for this resource type"
    assert got == [("Medication/m1", no_use), ("Organization/o1", no_use), ("Practitioner#4", no_use)]
    with pytest.raises(FeedError):
        list(items("not fhir at all", zone=ZONE))


def test_the_same_bundle_recorded_twice_records_once() -> None:
    ledger = memory(Clock())
    first = fed(ledger, BUNDLE)
    count = ledger.recorder.max_notification_id()
    second = fed(ledger, BUNDLE)
    assert ledger.recorder.max_notification_id() == count
    accepted = [(r.item, r.position) for r in first if r.status == "accepted"]
    assert len(accepted) == 28
    assert [(r.item, r.position) for r in second if r.status == "accepted"] == accepted
    assert all(r.duplicate for r in second if r.status == "accepted")


def test_consent_without_the_explanation_extensions_says_not_explained_and_revocation_is_its_own_fact() -> None:
    base = {
        "resourceType": "Consent",
        "id": "c1",
        "patient": {"reference": "Patient/P1"},
        "scope": {"text": "treatment"},
        "dateTime": "2026-01-05",
        "performer": [{"reference": "Practitioner/RN-1"}],
        "category": [{"coding": [{"code": "99490"}]}],
        "sourceAttachment": {"title": "signed form"},
    }
    [given] = one(base | {"status": "active"})
    assert given.fact == consent(
        method=f.ConsentMethod.WRITTEN, cost_sharing_explained=False, one_practitioner_explained=False
    )
    ended = base | {"status": "inactive", "provision": {"period": {"end": "2026-03-10"}}}
    assert [i.fact for i in one(ended)] == [
        f.ConsentRevoked(patient_id="P1", program=f.Program.CCM, revoked_on=date(2026, 3, 10))
    ]
    assert one(base | {"status": "active", "category": [{"text": "privacy"}]})[0].skipped


def test_condition_defaults_and_resolution() -> None:
    pain = {
        "resourceType": "Condition",
        "id": "c-pain",
        "subject": {"reference": "Patient/P1"},
        "clinicalStatus": {"coding": [{"code": "resolved"}]},
        "abatementDateTime": "2026-03-20T23:30:00-04:00",
        "code": {"coding": [{"system": "http://hl7.org/fhir/sid/icd-10-cm", "code": "G894"}]},
        "onsetDateTime": "2024-01-10",
        "asserter": {"reference": "Practitioner/DR-1"},
        "extension": [{"url": EXT + "condition-significant-risk", "valueBoolean": False}],
    }
    assert [i.fact for i in one(pain)] == [
        condition("G89.4", chronic_pain=True, expected_duration_months=0, significant_risk=False),
        f.ConditionResolved(patient_id="P1", condition_id="G89.4", resolved_on=date(2026, 3, 20)),
    ]
    [undated] = one({k: v for k, v in pain.items() if k != "abatementDateTime"})
    assert undated.error == "Condition.abatementDateTime: required element missing (nor abatementPeriod.start)"


def test_a_virtual_office_visit_with_a_transaction_bundles_urn_references() -> None:
    office = {
        "resourceType": "Encounter",
        "id": "v-2",
        "status": "finished",
        "class": {"code": "VR"},
        "type": [{"coding": [{"code": "99213"}]}],
        "subject": {"reference": "urn:uuid:p1"},
        "participant": [
            {"individual": {"identifier": {"system": "http://hl7.org/fhir/sid/us-npi", "value": "1245319599"}}}
        ],
        "period": {"start": "2026-03-03T09:00:00-05:00"},
        "length": {"value": 0.5, "code": "h"},
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:p1", "resource": {"resourceType": "Patient", "id": "P1"}},
            {"resource": office},
        ],
    }
    visits = [i.fact for i in items(json.dumps(bundle), zone=ZONE) if isinstance(i.fact, f.FaceToFaceVisitRecorded)]
    assert visits == [
        f.FaceToFaceVisitRecorded(
            patient_id="P1",
            visit_id="v-2",
            visit_on=date(2026, 3, 3),
            provider_npi="1245319599",
            in_person=False,
            minutes=30,
        )
    ]


def test_a_device_use_statement_sets_up_an_rtm_device() -> None:
    use = {
        "resourceType": "DeviceUseStatement",
        "id": "dus-1",
        "status": "active",
        "extension": [
            {"url": EXT + "monitoring-program", "valueCode": "RTM"},
            {"url": EXT + "monitoring-category", "valueCode": "musculoskeletal"},
        ],
        "subject": {"reference": "Patient/P1"},
        "device": {"reference": "Device/knee-1"},
        "timingDateTime": "2026-03-04T10:00:00-05:00",
    }
    assert [i.fact for i in one(use)] == [
        f.DeviceSetup(
            patient_id="P1",
            device_id="knee-1",
            program=f.DeviceProgram.RTM,
            category=f.DeviceCategory.MUSCULOSKELETAL,
            setup_on=date(2026, 3, 4),
        )
    ]


def test_a_reading_keyed_by_hand_is_manual_and_one_without_a_device_is_skipped() -> None:
    keyed = {
        "resourceType": "Observation",
        "id": "o-1",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": "Patient/P1"},
        "device": {"reference": "Device/bp-1"},
        "effectiveDateTime": "2026-03-05",
        "method": {"coding": [{"system": READING_METHOD, "code": "manual"}]},
    }
    assert [i.fact for i in one(keyed)] == [
        f.DataTransmitted(patient_id="P1", device_id="bp-1", transmitted_on=date(2026, 3, 5), manual=True)
    ]
    assert one({k: v for k, v in keyed.items() if k != "device"})[0].skipped == "no device: not remote-monitoring data"
