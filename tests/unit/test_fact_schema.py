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
    assert error('{"type": "PatientRegistered", "patient_id": ]', 8).startswith("line 8: $: not valid JSON (JSON is")


def test_dates_and_bounds_are_said_in_words() -> None:
    """msgspec's type names and RFC 3339 become what a clerk would write, and a date's value
    (a birth date may be PHI) is never repeated."""
    said = error('{"type":"PatientRegistered","patient_id":"P1","birth_date":"03/02/1931"}', 3)
    assert said == "line 3: $.birth_date: expected a date as YYYY-MM-DD, got text"
    raw = '{"type":"TimeLogged","entry_id":"E1","patient_id":"P1","program":"CCM","staff_id":"S","staff_role":"qhp",'
    said = error(raw + '"started_at":"9am","minutes":5,"activity":"call"}', 4)
    assert "$.started_at: expected a date and time with its offset" in said and "9am" not in said


def test_bad_enum_and_bad_month() -> None:
    """Enumerations and months are checked."""
    raw = (
        '{"type":"ConsentRecorded","patient_id":"P1","program":"CCM","method":"fax","obtained_by":"RN",'
        '"cost_sharing_explained":true,"one_practitioner_explained":true,"recorded_on":"2026-03-01"}'
    )
    assert error(raw, 1) == 'line 1: $.method: expected one of verbal, written, got "fax"'  # a code: not PHI
    raw = (
        '{"type":"MedicalDecisionMaking","patient_id":"P1","level":"high","by":"DR",'
        '"decided_on":"2026-03-03","month":"2026-13"}'
    )
    assert error(raw, 1) == "line 1: $.month: expected a month as YYYY-MM, got text"


def test_a_value_that_may_be_phi_is_never_repeated() -> None:
    """A birth date, an id or a Medicare id in the wrong shape is named by field and kind of
    value, never echoed; codes and counts are (they are not PHI)."""
    said = error('{"type":"PatientRegistered","patient_id":"P1","birth_date":19310203}', 2)
    assert said == "line 2: $.birth_date: expected date | null, got a number" and "1931" not in said
    said = error('{"type":"PatientRegistered","patient_id":"P1","medicare_id":["1EG4-TE5-MK72"]}', 2)
    assert "MK72" not in said and said.endswith("got a list")


def test_patterns_are_said_in_words_not_regexes() -> None:
    """An NPI or ICD-10 code in the wrong shape: what is expected in words, no regex."""
    raw = (
        '{"type":"ConditionDiagnosed","patient_id":"P1","condition_id":"diabetes","diagnosed_on":"2026-01-01",'
        '"expected_duration_months":24,"significant_risk":true,"diagnosed_by":"12345"}'
    )
    said = error(raw, 3)
    assert said == "line 3: $.condition_id: expected an ICD-10-CM code such as E11.9, got text"
    assert "regex" not in said and "^" not in said


@pytest.mark.parametrize("char", ["\\u0000", "\\n", "\\u001b[31m", "\\u007f"])
def test_control_characters_in_ids_and_text_are_refused(char: str) -> None:
    """A NUL (which PostgreSQL cannot store in text), a newline or an escape sequence in any id
    or text field is invalid, named by its field."""
    raw = '{"type":"ClaimVoided","claim_id":"C1","reason":"typo' + char + '","by":"B"}'
    assert error(raw, 4) == "line 4: $.reason: expected text without control characters, got text"
    assert error(raw.replace('"C1"', '"C' + char + '1"').replace("typo" + char, "typo"), 4).startswith(
        "line 4: $.claim_id: expected text without control characters"
    )


def test_duplicate_keys_are_refused() -> None:
    """JSON parsers keep the last of two equal keys; the ledger does not guess."""
    raw = '{"type":"ConsentRevoked","patient_id":"P1","program":"CCM","revoked_on":"2026-03-01","patient_id":"P2"}'
    assert error(raw, 5) == "line 5: $.patient_id: given twice in one object (which one counts would be a guess)"


def test_a_line_nested_too_deeply_is_invalid_not_a_crash() -> None:
    """995 levels of nesting: the line is invalid, named by line and field; nothing raises."""
    deep = "[" * 995 + "]" * 995
    assert error('{"type":"PatientRegistered","patient_id":' + deep + "}", 6) == (
        "line 6: $.patient_id: expected str, got array"
    )
    assert error(deep, 7) == "line 7: $: expected object, got array"
    assert error('{"type":"PatientRegistered","patient_id":"P1","x":' + deep + "}", 8).startswith(
        "line 8: $.x: unknown"
    )


def test_lists_are_bounded() -> None:
    """reason_codes, claim lines and care-plan programs have upper bounds."""
    codes = ",".join(['"CO-16"'] * 51)
    said = error('{"type":"ClaimAdjudicated","claim_id":"C1","outcome":"denied","reason_codes":[' + codes + "]}", 8)
    assert said.startswith("line 8: $.reason_codes: expected a list of at most 50 items")
