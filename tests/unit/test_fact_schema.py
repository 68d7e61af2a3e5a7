"""Lines that do not fit the contract are answered with the line, the field path and what
was expected (interface.md section 2)."""

from __future__ import annotations

import pytest

from adapters.ingest import Invalid, decode_line
from domain import facts

GOOD_TIME = (
    '{"type":"TimeLogged","entry_id":"E1","patient_id":"P1","program":"CCM","staff_id":"S1",'
    '"staff_role":"clinical_staff","activity":"call","started_at":"2026-03-02T10:15:00-05:00","minutes":%s}'
)


def error(raw: str, lineno: int = 41) -> str:
    with pytest.raises(Invalid) as caught:
        decode_line(raw, lineno)
    return str(caught.value)


def test_a_good_line_decodes_to_its_fact() -> None:
    """A well-formed line becomes the typed fact it names."""
    fact = decode_line(GOOD_TIME % 20, 1)
    assert isinstance(fact, facts.TimeLogged)
    assert fact.minutes == 20 and fact.started_at.utcoffset() is not None


def test_out_of_range_number_names_line_path_expectation_and_value() -> None:
    """The interface's own example: line 41, $.minutes, expected int >= 1, got -5."""
    assert error(GOOD_TIME % -5) == "line 41: $.minutes: expected int >= 1, got -5"


def test_wrong_type_names_the_field() -> None:
    """A string where an int belongs is named with its path and value."""
    assert error(GOOD_TIME % '"twenty"', 7) == 'line 7: $.minutes: expected int, got "twenty"'


def test_unknown_field_is_an_error_not_ignored() -> None:
    """interface.md: unknown fields are an error."""
    raw = GOOD_TIME % 20
    assert error(raw[:-1] + ',"colour":"blue"}', 3) == "line 3: $.colour: unknown field (not in the contract)"


def test_missing_field_is_named() -> None:
    """A required field left out is named."""
    raw = '{"type":"ConsentRevoked","patient_id":"P1","program":"CCM"}'
    assert error(raw, 2) == "line 2: $.revoked_on: required field missing"


def test_nested_path_in_claim_lines() -> None:
    """Errors inside a list carry the index."""
    raw = (
        '{"type":"ClaimSubmitted","claim_id":"C1","patient_id":"P1","billing_provider_npi":"1234567893",'
        '"service_month":"2026-03","place_of_service":"11","lines":[{"code":"99490","units":0}]}'
    )
    assert error(raw, 5) == "line 5: $.lines[0].units: expected int >= 1, got 0"


def test_naive_instant_is_refused_as_invalid() -> None:
    """Instants need an offset: a naive time could be any of several moments."""
    raw = (GOOD_TIME % 20).replace("-05:00", "")
    assert error(raw, 9).startswith("line 9: $.started_at: expected datetime with a timezone component")


def test_unknown_fact_type() -> None:
    """A type the contract does not have is named."""
    assert error('{"type":"PatientMoved","patient_id":"P1"}', 4) == "line 4: $.type: unknown fact type 'PatientMoved'"


def test_either_or_fields() -> None:
    """MDM needs exactly one of month or discharge_id; a claim one of service_month or service_on."""
    raw = '{"type":"MedicalDecisionMaking","patient_id":"P1","level":"high","by":"DR","decided_on":"2026-03-03"}'
    assert error(raw, 6) == "line 6: $: give exactly one of month or discharge_id"


def test_malformed_json() -> None:
    """A line that is not JSON at all is invalid, not a crash."""
    assert error('{"type": "PatientRegistered", "patient_id": ', 8).startswith("line 8: $: not valid JSON")


def test_bad_enum_and_bad_month() -> None:
    """Enumerations and months are checked."""
    raw = (
        '{"type":"ConsentRecorded","patient_id":"P1","program":"CCM","method":"fax","obtained_by":"RN",'
        '"cost_sharing_explained":true,"one_practitioner_explained":true,"recorded_on":"2026-03-01"}'
    )
    assert error(raw, 1) == "line 1: $.method: invalid enum value 'fax'"
    raw = (
        '{"type":"MedicalDecisionMaking","patient_id":"P1","level":"high","by":"DR",'
        '"decided_on":"2026-03-03","month":"2026-13"}'
    )
    assert error(raw, 1).startswith("line 1: $.month: expected str matching regex")
