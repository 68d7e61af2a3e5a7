"""domain.rules.chronic: ICD-10-CM codes classified by the CMS Chronic Conditions Warehouse table
(Tuva's CCW hierarchy), and the warning when a condition counted for CCM or PCM (P-CCM-1,
P-PCM-1) is attested at significant risk but is not chronic by that table."""

from __future__ import annotations

import csv
from importlib import resources

import pytest

from domain.rules.chronic import EPISODIC, categories, category, chronic_warning, counted_if_chronic, is_chronic
from domain.rules.view import MonthView
from domain.vocab import Program
from tests.conftest import Clock, memory
from tests.factories import Book, condition, patient


def march(book: Book) -> MonthView:
    view = book.ledger.month_view("P1", "2026-03")
    assert view is not None
    return view


@pytest.mark.parametrize(
    "code, expected",
    [("E11.9", "Diabetes"), ("I10", "Hypertension"), ("i50.9", "Heart Failure and Non-Ischemic Heart Disease"),
     ("J44.9", "Chronic Obstructive Pulmonary Disease"),
     ("F33.1", "Depression, Bipolar, or Other Depressive Mood Disorders")],
)  # fmt: skip
def test_chronic_codes_have_their_ccw_category(code: str, expected: str) -> None:
    """Dots and case are ignored; E11.9 and I10 are chronic."""
    assert category(code) == expected
    assert category(code.replace(".", "")) == expected
    assert is_chronic(code)


@pytest.mark.parametrize("code", ["S82.101A", "J02.9", "Z00.00", "", "not a code"])
def test_acute_and_unknown_codes_are_not_chronic(code: str) -> None:
    """A tibia fracture, a sore throat, a check-up: no CCW category, not chronic."""
    assert category(code) is None
    assert not is_chronic(code)


def test_acute_events_ccw_tracks_are_categorised_but_not_chronic() -> None:
    """CCW's look-back events (myocardial infarction, stroke, pneumonia) are not chronic."""
    assert category("I21.9") == "Acute Myocardial Infarction" and not is_chronic("I21.9")
    assert category("I63.9") == "Stroke/Transient Ischemic Attack" and not is_chronic("I63.9")
    assert is_chronic("I69.351")  # the stroke's lasting sequela is


def test_codes_added_under_a_listed_code_take_its_category() -> None:
    """F42 was complete when the table was made; F42.2 (added since) is under it."""
    assert category("F42.2") == category("F42") == "Anxiety Disorders"
    assert category("M80.051D") is None  # a subsequent encounter is not the listed initial one


def test_table_is_the_documented_extract() -> None:
    """6,092 ICD-10-CM code-condition pairs, codes without dots, every episodic name present."""
    text = resources.files("domain").joinpath("data", "ccw_chronic_conditions.csv").read_text(encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == 6092
    assert all(r["icd10cm"].isalnum() and r["icd10cm"] == r["icd10cm"].upper() for r in rows)
    assert {r["ccw_condition"] for r in rows} >= EPISODIC
    assert len(categories("I13.0")) > 1  # a code CCW lists under several conditions keeps them all


def test_warning_names_non_chronic_codes_attested_at_significant_risk() -> None:
    """J02.9 and S82.101A attested at significant risk are flagged; E11.9 and I10 are not."""
    book = Book(memory(Clock()))
    book.add(patient("P1"), condition("E11.9"), condition("I10"))
    assert chronic_warning(march(book)) is None
    book.add(condition("J02.9"), condition("S82.101A"))
    warning = chronic_warning(march(book))
    assert warning is not None
    assert "J02.9 (not in CCW), S82.101A (not in CCW)" in warning and "2 counted conditions remain" in warning
    assert "E11.9" not in warning


def test_conditions_not_counted_are_not_flagged() -> None:
    """Without the significant-risk attestation, or short-lived, a condition counts toward
    neither CCM nor PCM, so there is nothing to warn about."""
    book = Book(memory(Clock()))
    book.add(patient("P1"), condition("E11.9"), condition("J02.9", significant_risk=False),
             condition("S82.101A", expected_duration_months=2))  # fmt: skip
    assert chronic_warning(march(book)) is None


def test_counted_if_chronic_is_what_a_refusing_gate_compares() -> None:
    """Under `refuse_non_chronic`, J02.9 leaves one CCM condition: short of CCM's two."""
    book = Book(memory(Clock()))
    book.add(patient("P1"), condition("E11.9"), condition("J02.9"))
    view = march(book)
    assert [counted_if_chronic(view, p) for p in (Program.CCM, Program.PCM, Program.APCM)] == [1, 1, 1]
    book.add(condition("I10"))
    assert counted_if_chronic(march(book), Program.CCM) == 2


def test_the_worklist_warns_and_a_policy_refuses_a_condition_the_ccw_table_does_not_hold_chronic() -> None:
    """J02.9 (acute pharyngitis) attested at significant risk beside E11.9: by default the
    claim is accepted and the worklist warns; with `refuse_non_chronic` it is refused
    CONDITIONS_INSUFFICIENT (one chronic condition of the two CCM needs)."""
    from domain.catalog import DEFAULT_FEES
    from domain.policy import Policy
    from domain.rules.assess import assess
    from tests.conftest import Clock, memory
    from tests.factories import Book, claim, condition, enrolled, minutes

    def book(policy: Policy) -> Book:
        b = Book(memory(Clock(), policy=policy))
        record = [f for f in enrolled("P1") if getattr(f, "condition_id", "E11.9") in ("E11.9",)]
        b.add(record, condition("J02.9", "P1", description="Acute pharyngitis"), minutes(25))
        return b

    lenient = book(Policy())
    view = lenient.ledger.month_view("P1", "2026-03")
    assert view is not None
    (warning,) = assess(view, DEFAULT_FEES).warnings
    assert "J02.9" in warning and "E11.9" not in warning
    lenient.add(claim("C1"))
    strict = book(Policy(refuse_non_chronic=True))
    assert strict.refused(claim("C1")) == ["CONDITIONS_INSUFFICIENT"]
