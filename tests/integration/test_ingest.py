"""Ingest on both stores: every fact type understood, each line atomic and idempotent,
bad lines answered with line and field while the lines around them are recorded."""

from __future__ import annotations

from datetime import datetime

import msgspec

from adapters.ingest import LineResult, ingest
from domain.keys import patient_key
from domain.ledger import Ledger
from tests.factories import EST, one_of_each, patient, time_entry

ENC = msgspec.json.Encoder()


def run(ledger: Ledger, lines: list[bytes]) -> list[LineResult]:
    results: list[LineResult] = []
    ingest(ledger, lines, results.append)
    return results


def stored_count(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def test_every_fact_type_is_accepted_when_well_formed(ledger: Ledger) -> None:
    """interface.md section 1: each fact type is understood; none is 'invalid' when well formed."""
    lines = [ENC.encode(fact) for fact in one_of_each()]
    results = run(ledger, lines)
    assert [r.status for r in results] == ["accepted"] * len(lines), [r for r in results if r.status != "accepted"]
    positions = [r.position for r in results]
    assert all(isinstance(p, int) for p in positions)
    assert positions == sorted(positions)


def test_invalid_lines_are_named_and_valid_lines_around_them_recorded(ledger: Ledger) -> None:
    """A bad line never aborts the file; its answer names the line and the field path."""
    good1, good2 = ENC.encode(patient("P1")), ENC.encode(patient("P2"))
    bad = ENC.encode(time_entry("E1")).replace(b'"minutes":20', b'"minutes":-5')
    results = run(ledger, [good1, bad, b"", b"not json", good2])
    assert [(r.line, r.status) for r in results] == [
        (1, "accepted"),
        (2, "invalid"),
        (4, "invalid"),
        (5, "accepted"),
    ]
    assert results[1].error == "line 2: $.minutes: expected int >= 1, got -5"
    assert results[2].error is not None and results[2].error.startswith("line 4: $: not valid JSON")
    assert ledger.repository.get(patient_key("P2")).patient_id == "P2"


def test_the_same_file_twice_records_each_fact_once(ledger: Ledger) -> None:
    """Ids and digests make lines idempotent: a rerun answers 'accepted' at the original positions."""
    lines = [ENC.encode(fact) for fact in one_of_each()]
    first = run(ledger, lines)
    count = stored_count(ledger)
    second = run(ledger, lines)
    assert stored_count(ledger) == count
    assert [r.position for r in second] == [r.position for r in first]
    assert all(r.status == "accepted" and r.duplicate for r in second)


def test_a_reused_id_with_other_content_is_refused(ledger: Ledger) -> None:
    """ID_REUSED: the same entry_id with other minutes, or a patient re-registered differently."""
    run(ledger, [ENC.encode(patient("P1")), ENC.encode(time_entry("E1"))])
    count = stored_count(ledger)
    results = run(
        ledger,
        [
            ENC.encode(time_entry("E1", minutes=35)),
            ENC.encode(time_entry("E1", pid="P1", at=datetime(2026, 3, 9, 9, 0, tzinfo=EST))),
            ENC.encode(patient("P1", birth_date=None)),
        ],
    )
    assert [[b.code.value for b in r.reasons or ()] for r in results] == [["ID_REUSED"]] * 3
    assert stored_count(ledger) == count


def test_the_sender_is_not_part_of_a_fact_identity(ledger: Ledger) -> None:
    """The same fact resent by another system is recognised; source and recorded_by are kept."""
    run(ledger, [ENC.encode(patient("P1"))])
    first = run(ledger, [ENC.encode(time_entry("E1", source="ehr-a", recorded_by="RN-1"))])[0]
    again = run(ledger, [ENC.encode(time_entry("E1", source="ehr-b"))])[0]
    assert again.status == "accepted" and again.duplicate and again.position == first.position


def test_refused_lines_carry_reason_codes_and_messages(ledger: Ledger) -> None:
    """A refusal names a code from interface.md and says why in words."""
    results = run(ledger, [ENC.encode(time_entry("E1", pid="NOBODY"))])
    (reason,) = results[0].reasons or []
    assert results[0].status == "refused" and reason.code.value == "UNKNOWN_PATIENT"
    assert "NOBODY" in reason.message


def test_report_rows_have_the_contract_shape(ledger: Ledger) -> None:
    """{"line", "status", and reasons|error|position} exactly as interface.md section 2."""
    results = run(ledger, [ENC.encode(patient("P1")), b"{}", ENC.encode(time_entry("E1", pid="X"))])
    rows = [msgspec.json.decode(msgspec.json.encode(r)) for r in results]
    assert set(rows[0]) == {"line", "status", "position"}
    assert set(rows[1]) == {"line", "status", "error"}
    assert set(rows[2]) == {"line", "status", "reasons"}
    assert set(rows[2]["reasons"][0]) == {"code", "message"}


def test_hostile_lines_in_a_bulk_file_are_answered_and_the_rest_recorded(ledger: Ledger) -> None:
    """A line nested 995 deep, a NUL in a patient id, duplicate keys and a BOM before line 1:
    each hostile line is invalid, every other line of a many-batch file is recorded, and the
    store still reads (a NUL would make PostgreSQL rows unreadable)."""
    good = [ENC.encode(patient(f"B{n}")) for n in range(600)]
    hostile = {
        100: b'{"type":"PatientRegistered","patient_id":' + b"[" * 995 + b"]" * 995 + b"}",
        200: b'{"type":"PatientRegistered","patient_id":"N\\u0000UL"}',
        300: b'{"type":"PatientRegistered","patient_id":"D1","patient_id":"D2"}',
    }
    lines = list(good)
    for at, line in sorted(hostile.items()):
        lines.insert(at, line)
    lines[0] = b"\xef\xbb\xbf" + lines[0]
    results: list[LineResult] = []
    ingest(ledger, lines, results.append, batch=150)
    bad = {r.line: r for r in results if r.status != "accepted"}
    assert sorted(bad) == [at + 1 for at in sorted(hostile)] and all(r.status == "invalid" for r in bad.values())
    assert "given twice" in (bad[301].error or "") and "control characters" in (bad[201].error or "")
    assert sum(r.status == "accepted" for r in results) == len(good)
    assert ledger.repository.get(patient_key("B0")).patient_id == "B0"
