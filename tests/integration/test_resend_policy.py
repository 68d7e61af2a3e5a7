"""The resend policy line by line (domain.answered), on both stores: a refused line is
remembered by its submission and line number, so an equal line later in the same file is
judged on its own; --reconsider judges afresh and lifts the memory when it accepts."""

from __future__ import annotations

import msgspec

from adapters.ingest import LineResult, ingest
from domain.ledger import Ledger
from tests.factories import condition, patient

ENC = msgspec.json.Encoder()
SUBMISSION = "a" * 32


def send(ledger: Ledger, lines: list[bytes], batch: int, reconsider: bool = False) -> list[tuple[str, list[str]]]:
    out: list[LineResult] = []
    ingest(ledger, lines, out.append, batch=batch, submission=SUBMISSION, reconsider=reconsider)
    return [(r.status, [x.code.value for x in r.reasons or ()]) for r in out]


def test_an_equal_line_later_in_the_file_is_judged_on_its_own(ledger: Ledger) -> None:
    """Line 1 comes before the patient is registered (refused); line 3, the same fact, comes
    after (accepted). Sent again: the same three answers, and nothing new recorded."""
    lines = [ENC.encode(condition(pid="P1")), ENC.encode(patient("P1")), ENC.encode(condition(pid="P1"))]
    first = send(ledger, lines, batch=40)
    assert first == [("refused", ["UNKNOWN_PATIENT"]), ("accepted", []), ("accepted", [])]
    end = ledger.recorder.max_notification_id()
    assert send(ledger, lines, batch=1) == first
    assert ledger.recorder.max_notification_id() == end


def test_reconsidered_and_accepted_then_sent_again_is_a_duplicate(ledger: Ledger) -> None:
    """Refused, then (the patient registered meanwhile) judged afresh with --reconsider and
    accepted: a plain resend now answers it accepted as the duplicate it is."""
    lines = [ENC.encode(condition(pid="P2"))]
    assert send(ledger, lines, batch=40) == [("refused", ["UNKNOWN_PATIENT"])]
    ledger.record(patient("P2"))
    assert send(ledger, lines, batch=40) == [("refused", ["UNKNOWN_PATIENT"])]  # the same answer
    assert send(ledger, lines, batch=40, reconsider=True) == [("accepted", [])]
    out: list[LineResult] = []
    ingest(ledger, lines, out.append, batch=1, submission=SUBMISSION)
    assert out[0].status == "accepted" and out[0].duplicate
