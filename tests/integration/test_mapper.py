"""The msgspec mapper round-trips every event class exactly, on SQLite and PostgreSQL, keeps
the library's upcasting, compressor and cipher hooks, and matches the golden bytes of v1."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
import pytest
from eventsourcing.cipher import AESCipher
from eventsourcing.persistence import StoredEvent

from adapters.mapper import MsgspecMapper
from adapters.store import MAPPER_TOPIC, open_ledger
from domain import claim_records, facts as f, records
from domain.answered import Sent
from domain.decisions.clearing import answer_file, keep_receipt, record_export
from domain.decisions.closing import close_month, reopen_month
from domain.exports import ExportedClaim
from domain.ledger import Ledger
from domain.month_close import CloseContent, ClosedClaim, ClosedLine
from domain.patient import Patient
from domain.patient_month import PatientMonth
from domain.reasons import Refused
from domain.vocab import Program
from tests.conftest import Clock
from tests.factories import claim, condition, demographics, enrolled, minutes, one_of_each, patient, practice
from tests.unit.test_topics import event_classes

GOLDEN = Path(__file__).parent.parent / "golden" / "events-v4.json"
GOLDEN_V3 = Path(__file__).parent.parent / "golden" / "events-v3.json"
GOLDEN_V2 = Path(__file__).parent.parent / "golden" / "events-v2.json"
GOLDEN_V1 = Path(__file__).parent.parent / "golden" / "events-v1.json"


def capture(ledger: Ledger) -> list[Any]:
    """Keep every domain event the ledger saves, as built in memory before storage."""
    saved: list[Any] = []
    original = ledger.save

    def save(*objs: Any, **kw: Any) -> Any:
        recordings = original(*objs, **kw)
        saved.extend(r.domain_event for r in recordings)
        return recordings

    ledger.save = save  # type: ignore[method-assign]
    return saved


def record_scenario(ledger: Ledger) -> None:
    """Every fact type, and one refused claim so that the refusal log has an entry (and, sent
    in a submission, the refusal memory)."""
    for fact in one_of_each():
        ledger.record(fact)
    with pytest.raises(Refused):
        ledger.record(claim("C-REFUSED", codes=("99491",)), Sent("f" * 32, 7))
    # A line refused in a file, then judged afresh (--reconsider) once what it lacked is there.
    late = condition(pid="P-LATE")
    with pytest.raises(Refused):
        ledger.record(late, Sent("e" * 32, 1))
    ledger.record(patient("P-LATE"))
    ledger.record(late, Sent("e" * 32, 1, reconsider=True))
    # v4: the revenue cycle. The practice and a patient's demographics; a batch exported,
    # rejected by the clearinghouse's 999, and that file kept as received.
    ledger.record(practice())
    ledger.record(demographics("P1"))
    # A claim left without support by a stay recorded after it, then restored when the stay
    # is cancelled (since 2026-12-03, time logged after a claim no longer restores one).
    for fact in [
        *enrolled("P9"),
        *minutes(25, "P9", staff="RN-9"),
        claim("C9", "P9"),
        f.FacilityStayStarted(patient_id="P9", stay_id="S9", setting=f.Setting.INPATIENT, started_on=date(2026, 3, 1)),
        f.FacilityStayCancelled(patient_id="P9", stay_id="S9", reason="keyed on the wrong patient"),
    ]:
        ledger.record(fact)  # fmt: skip
    sent = [ExportedClaim("C9", "P9", "2026-03", "1")]
    ledger.run(partial(record_export, batch_id="B000000001", control=1, month="2026-03", practice_id="PR-1",
                       usage="P", sha256="a" * 64, claims=sent, text="ISA*00*...~\n"))  # fmt: skip
    ledger.run(partial(answer_file, group_control=1, accepted=False, errors=["IK5 R/5"]))
    ledger.run(partial(keep_receipt, kind="999", sha256="b" * 64, control="900001", claims=[], unknown=[]))
    # v4, continued: a month closed (signed) and re-opened.
    content = CloseContent(month="2026-03", sequence=1, closed_at="2026-04-15T12:00:00+00:00", closed_by="cli:test",
                           fee_schedule="test", claims=[ClosedClaim("C9", "P9", "rejected", [ClosedLine("99490", 1,
                           "60.49")])], totals={"CCM": "60.49"}, chain_position=1, chain_hash="0" * 64,
                           public_key="0" * 64)  # fmt: skip
    ledger.run(partial(close_month, content=content, signature="0" * 128))
    ledger.run(partial(reopen_month, month="2026-03", reason="a corrected claim is due", by="cli:test"))


def assert_same(a: Any, b: Any, where: str = "event") -> None:
    """Equal, of the same types all the way down, and instants with the same offset."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert vars(a).keys() == vars(b).keys(), where
        for key in vars(a):
            assert_same(vars(a)[key], vars(b)[key], f"{where}.{key}")
    elif isinstance(a, msgspec.Struct):
        for key in a.__struct_fields__:
            assert_same(getattr(a, key), getattr(b, key), f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"
        if isinstance(a, datetime):
            assert a.utcoffset() == b.utcoffset(), f"{where}: offset changed"


def test_every_event_class_round_trips_exactly_through_the_store(ledger: Ledger) -> None:
    """Decimal, date, aware datetime (with its offset), UUID and enums come back as built."""
    saved = capture(ledger)
    record_scenario(ledger)
    legacy = {Patient.ScopedClaimLodged}  # read from old history, never written now (test_v1_golden_bytes_still_read)
    assert {type(e) for e in saved} == set(event_classes()) - legacy, "scenario must cover every event class"
    for event in saved:
        (stored,) = ledger.events.get(
            event.originator_id, gt=event.originator_version - 1, lte=event.originator_version
        )
        assert_same(event, stored, type(event).__qualname__)
    kinds = {type(v) for e in saved for v in vars(e).values()}
    assert {UUID, datetime, int, str}.issubset(kinds)
    values = [
        v for e in saved for f in vars(e).values() if isinstance(f, msgspec.Struct) for v in msgspec.structs.astuple(f)
    ]
    assert any(isinstance(v, Decimal) for v in values) and any(isinstance(v, date) for v in values)


def _golden_events() -> list[Any]:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo", "MAPPER_TOPIC": MAPPER_TOPIC}, clock=Clock())
    saved = capture(ledger)
    record_scenario(ledger)
    return saved


def test_stored_bytes_match_the_current_golden_file() -> None:
    """A change to how events are stored shows here first (and belongs in CHANGELOG.md)."""
    mapper = MsgspecMapper(transcoder=None)  # type: ignore[arg-type]
    events = _golden_events()
    actual = [
        {"topic": s.topic, "version": s.originator_version, "state": s.state.decode()}
        for s in (mapper.to_stored_event(e) for e in events)
    ]
    if os.environ.get("CARELANE_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(actual, indent=1) + "\n")
    golden = json.loads(GOLDEN.read_text())
    assert actual == golden
    for event, row in zip(events, golden, strict=True):
        stored = StoredEvent(event.originator_id, row["version"], row["topic"], row["state"].encode())
        assert_same(event, mapper.to_domain_event(stored))


# C3's support, restored in the scenario by time logged after it until 2026-12-03 (G-16 now
# judges a claim on the entries it was accepted on): absent from the v4 file on.
RESTORED_BY_LATE_TIME = '"cause":"TimeLogged E3"'


def _read_golden(path: Path, leave_out: str = "\0") -> list[Any]:
    mapper = MsgspecMapper(transcoder=None)  # type: ignore[arg-type]
    rows = [
        row
        for row in json.loads(path.read_text())
        if not row["topic"].startswith(leave_out) and RESTORED_BY_LATE_TIME not in row["state"]
    ]
    return [
        mapper.to_domain_event(StoredEvent(UUID(int=i), row["version"], row["topic"], row["state"].encode()))
        for i, row in enumerate(rows)
    ]


def test_v2_golden_bytes_read_as_the_same_events() -> None:
    """The v2 format (claim line scopes as strings such as "setup:RPM:2026-03-01") reads, by
    upcasting, as exactly the events the v3 golden file holds: typed scopes included."""
    old = _read_golden(GOLDEN_V2)
    new = _read_golden(GOLDEN, leave_out="carelane.RefusalMemory.")  # new in v3
    new = new[: len(old)]  # the v3 scenario goes on (a line refused, then reconsidered)
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        assert_same(a, b, f"event {i}")
    scopes = [x.scope for e in new if isinstance(e, Patient.ClaimLodged) for x in e.lines if x.scope is not None]
    assert scopes and all(isinstance(x, claim_records.SetupEpisode) for x in scopes)


def test_v3_golden_bytes_read_as_the_same_events() -> None:
    """The v3 file reads as exactly the first events of v4: v4 only added event classes (the
    practice, demographics, exports, clearinghouse answers), at the end of the scenario; the
    one event v4's scenario no longer makes (C3 restored by late time) is left out of both."""
    old = _read_golden(GOLDEN_V3)
    new = _read_golden(GOLDEN)[: len(old)]
    for i, (a, b) in enumerate(zip(old, new, strict=True)):
        assert_same(a, b, f"event {i}")
    assert len(_read_golden(GOLDEN)) > len(old)


def test_v1_golden_bytes_still_read() -> None:
    """Every event stored in the v1 format reads with today's classes: a v1 ClaimSubmitted is
    upcast with no verdict, and a patient replayed from v1 history still holds its claims."""
    mapper = MsgspecMapper(transcoder=None)  # type: ignore[arg-type]
    rows = json.loads(GOLDEN_V1.read_text())
    ids = iter(UUID(int=i) for i in range(1, 10_000))
    streams: dict[str, UUID] = {}
    events = []
    for row in rows:
        aggregate = row["topic"].split(".")[1]
        if row["version"] == 1:
            streams[aggregate] = next(ids)
        stored = StoredEvent(streams[aggregate], row["version"], row["topic"], row["state"].encode())
        events.append(mapper.to_domain_event(stored))
    claims = [e for e in events if isinstance(e, PatientMonth.ClaimSubmitted)]
    assert claims and all(e.verdict is None for e in claims)
    lodged = [e for e in events if isinstance(e, Patient.ScopedClaimLodged)]
    assert lodged and lodged[0].lines[0].scope is not None
    patient: Any = None
    held = []
    for event in (e for e in events if type(e).__qualname__.startswith("Patient.")):
        patient = event.mutate(patient)
        held.append([(x.code, x.scope) for x in patient.scoped_lines()])
    assert (
        held[-2] == [("99453", claim_records.SetupEpisode(Program.RPM, date(2026, 3, 1)))] and held[-1] == []
    )  # lodged, then released


def test_compressor_and_cipher_hooks_are_kept(tmp_path: Path, clock: Clock) -> None:
    """With a cipher configured, no birth date appears in the database file, yet it reads back."""
    db = tmp_path / "secret.db"
    env = {
        "COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor",
        "CIPHER_TOPIC": "eventsourcing.cipher:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
    }
    os.environ.update(env)
    try:
        ledger = open_ledger(f"sqlite:///{db}", clock=clock)
        recorded = ledger.record(one_of_each()[0])
        patient = ledger.repository.get(recorded.originator_id)
        ledger.close()
    finally:
        for key in env:
            os.environ.pop(key)
    assert patient.birth_date == date(1948, 5, 17)
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert b"1948-05-17" not in raw and b'PatientRegistered"' not in raw


def test_upcasting_from_an_older_class_version() -> None:
    """A v1 stored state is upcast to the current class_version by the library's convention."""
    from domain.staff_day import StaffDay

    cls = StaffDay.SlotBooked
    stored_v1 = b'{"timestamp":"2026-03-02T15:00:00Z","entry_id":"E1","start":"2026-03-02T10:00:00-05:00"}'

    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["end"] = state["start"]

    try:
        cls.class_version = 2  # type: ignore[attr-defined]
        cls.upcast_v1_v2 = staticmethod(upcast_v1_v2)  # type: ignore[attr-defined]
        MsgspecMapper._state_types.pop(cls, None)
        mapper = MsgspecMapper(transcoder=None)  # type: ignore[arg-type]
        event = mapper.to_domain_event(StoredEvent(UUID(int=1), 2, cls.TOPIC, stored_v1))
    finally:
        del cls.class_version  # type: ignore[attr-defined]
        del cls.upcast_v1_v2  # type: ignore[attr-defined]
        MsgspecMapper._state_types.pop(cls, None)
    assert isinstance(event, cls)
    assert event.end == event.start and isinstance(event.end, datetime)
    assert event.end.utcoffset() is not None and event.originator_version == 2


@pytest.mark.parametrize("bad", [b"{not json", b'{"timestamp": 5}'])
def test_corrupt_state_raises_a_mapper_error(bad: bytes) -> None:
    """A stored event that does not decode is named, never returned half-built."""
    from eventsourcing.persistence import MapperDeserialisationError

    from domain.staff_day import StaffDay

    mapper = MsgspecMapper(transcoder=None)  # type: ignore[arg-type]
    with pytest.raises(MapperDeserialisationError, match="SlotReleased"):
        mapper.to_domain_event(StoredEvent(UUID(int=1), 2, StaffDay.SlotReleased.TOPIC, bad))


def test_stored_facts_stay_readable_when_input_rules_tighten() -> None:
    """Input bounds added later (no control characters, finite scores) are checked where facts
    come in, never when stored events are read: a v1 event with a newline in its activity, or
    a NaN score, still reads."""
    from domain.patient import Patient

    mapper = MsgspecMapper(transcoder=None)  # type: ignore[arg-type]
    entry = (b'{"timestamp":"2026-03-02T15:00:00Z","fact":{"type":"TimeLogged","entry_id":"E1","patient_id":"P1",'
             b'"program":"CCM","staff_id":"RN","staff_role":"clinical_staff","activity":"call\\nfollow-up",'
             b'"started_at":"2026-03-02T10:00:00-05:00","minutes":20},"digest":"d"}')  # fmt: skip
    event = mapper.to_domain_event(StoredEvent(UUID(int=1), 3, PatientMonth.TimeLogged.TOPIC, entry))
    assert event.fact.activity == "call\nfollow-up"
    scale = (b'{"timestamp":"2026-03-02T15:00:00Z","fact":{"type":"RatingScaleAdministered","patient_id":"P1",'
             b'"scale":"PHQ-9","score":"NaN","administered_on":"2026-03-02","by":"RN"},"digest":"d"}')  # fmt: skip
    event = mapper.to_domain_event(StoredEvent(UUID(int=2), 4, Patient.RatingScaleAdministered.TOPIC, scale))
    assert not event.fact.score.is_finite()


def _loosened(state: Any) -> Any:
    """Stored state as a future input contract might no longer accept it: every free-text
    field far longer than any input limit and outside every pattern, and a field the classes
    of today do not know."""
    import msgspec.inspect as mi

    if isinstance(state, list):
        return [_loosened(v) for v in state]
    if not isinstance(state, dict):
        return state
    out = {k: _loosened(v) for k, v in state.items()}
    if "type" in state:
        info = mi.type_info(getattr(records, state["type"]))
        assert isinstance(info, mi.StructType)
        kinds = [(f.name, f.type.types if isinstance(f.type, mi.UnionType) else (f.type,)) for f in info.fields]
        text = {name for name, types in kinds if any(isinstance(t, mi.StrType) for t in types)}
        out["added_in_a_later_version"] = {"any": ["shape"]}
        for field in info.fields:
            if not field.required:
                out.pop(field.name, None)  # a field the contract dropped: its default is read
        for key in text & state.keys():
            if isinstance(state[key], str):
                out[key] = state[key] + "\n" + "x" * 1000  # past any input limit; breaks every pattern
    return out


def test_stored_events_read_whatever_the_input_contract_says_later() -> None:
    """Stored events are decoded by their own lenient structs (domain.records), never by the
    input contract: a stored fact whose strings break today's length limits and patterns,
    that carries a field unknown today, and whose optional fields are gone, still reads,
    for every event class that carries a fact."""
    mapper = MsgspecMapper(transcoder=None)  # type: ignore[arg-type]
    seen = set()
    for event in _golden_events():
        stored = mapper.to_stored_event(event)
        state = json.loads(stored.state)
        if "fact" not in state:
            continue
        state["fact"] = _loosened(state["fact"])
        odd = StoredEvent(stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode())
        back = mapper.to_domain_event(odd)
        assert type(back) is type(event)
        long = [v for v in msgspec.structs.asdict(back.fact).values() if isinstance(v, str) and len(v) > 1000]
        assert long, type(event).__name__
        seen.add(type(back.fact).__name__)
    from domain import facts

    assert seen >= {t.__name__ for t in facts.FACT_TYPES}


def test_a_stored_claim_reads_even_where_the_input_contract_refuses_it() -> None:
    """The input contract's cross-field checks (exactly one of service_month and service_on)
    and list bounds are not applied to a stored ClaimSubmitted."""
    mapper = MsgspecMapper(transcoder=None)  # type: ignore[arg-type]
    lines = ",".join('{"code":"99490","units":1}' for _ in range(80))  # over the 50-line input bound
    state = ('{"timestamp":"2026-03-31T15:00:00Z","fact":{"type":"ClaimSubmitted","claim_id":"C1",'
             '"patient_id":"P1","billing_provider_npi":"1234","place_of_service":"11","lines":[' + lines + '],'
             '"service_month":"2026-03","service_on":"2026-03-31"},"digest":"d","verdict":null,'
             '"class_version":2}')  # fmt: skip
    event = mapper.to_domain_event(StoredEvent(UUID(int=1), 2, PatientMonth.ClaimSubmitted.TOPIC, state.encode()))
    assert len(event.fact.lines) == 80 and event.fact.service_month and event.fact.service_on


def test_an_event_stored_before_a_field_with_a_default_was_added_reads_with_that_default() -> None:
    """ClaimAcknowledged gained `batch_id` (default ""): an event stored without it reads."""
    mapper = MsgspecMapper(transcoder=None)  # type: ignore[arg-type]
    state = b'{"claim_id":"C1","accepted":true,"codes":["A1:20"],"source":"277CA","timestamp":' \
            b'"2026-04-15T12:00:00+00:00","class_version":1}'  # fmt: skip
    event = mapper.to_domain_event(StoredEvent(UUID(int=9), 3, PatientMonth.ClaimAcknowledged.TOPIC, state))
    assert isinstance(event, PatientMonth.ClaimAcknowledged) and event.batch_id == "" and event.claim_id == "C1"
