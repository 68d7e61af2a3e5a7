"""Closing a month and re-opening it: commands that are not facts of the contract, run with
`Ledger.run`. A month is closed once until it is re-opened; a re-open needs a reason."""

from __future__ import annotations

from domain.decisions.work import Work
from domain.month_close import CloseContent, MonthClose, month_close_key

REASON_MAX = 500  # characters: a sentence or two, kept with the re-open


class CloseRefused(Exception):
    """The close or re-open cannot be recorded; the message says why (never PHI)."""


class BadReason(CloseRefused):
    """The reason given for a re-open is empty, too long or not one line of text."""


class Stale(Exception):
    """The close was prepared for another state of the month (a close or re-open came
    first): prepare it again."""


def month_close(w: Work, month: str) -> MonthClose | None:
    return w.get(month_close_key(month), MonthClose)


def close_month(w: Work, content: CloseContent, signature: str) -> MonthClose:
    """Record a signed close. Refused while the month is closed; Stale when the close was
    prepared as another close of the month than the next."""
    mc = month_close(w, content.month) or w.add(MonthClose.open(content.month, w.at))
    if mc.closed:
        raise CloseRefused(
            f"{content.month} is closed already (close {len(mc.closes)}); re-open it first with a reason"
        )
    if content.sequence != mc.next_sequence:
        raise Stale(f"{content.month} changed while the close was prepared")
    mc.close(content, signature, w.at)
    return mc


def reopen_month(w: Work, month: str, reason: str, by: str) -> MonthClose:
    """Record a re-open of a closed month, with its reason."""
    text = reason.strip()
    if not text:
        raise BadReason("a re-open needs a reason")
    if len(text) > REASON_MAX:
        raise BadReason(f"the reason is over {REASON_MAX} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        raise BadReason("the reason has control characters (line breaks or tabs included)")
    mc = month_close(w, month)
    if mc is None or not mc.closed:
        raise CloseRefused(f"{month} is not closed; there is nothing to re-open")
    mc.reopen(text, by, w.at)
    return mc
