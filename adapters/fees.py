"""A practice's own fee schedule from CSV: columns `code,fee` and optionally `work_rvu`."""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation
from pathlib import Path

from domain.catalog import DEFAULT_FEES, FeeSchedule


class FeeFileError(Exception):
    """The CSV cannot be used; the message names the line and the column."""


def load(path: str | Path) -> FeeSchedule:
    """Fees from the file; codes it does not list keep the default schedule's figures."""
    fees = dict(DEFAULT_FEES.fees)
    rvus = dict(DEFAULT_FEES.work_rvus)
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = set(reader.fieldnames or ())
        if not {"code", "fee"} <= columns:
            raise FeeFileError(f"{path}: line 1: needs columns code and fee; found {sorted(columns)}")
        for row in reader:
            where = f"{path}: line {reader.line_num}"
            code = (row.get("code") or "").strip()
            if not code:
                raise FeeFileError(f"{where}: code: empty")
            fees[code] = _amount(row.get("fee"), f"{where}: fee")
            if row.get("work_rvu"):
                rvus[code] = _amount(row["work_rvu"], f"{where}: work_rvu")
    return FeeSchedule(name=f"practice schedule {Path(path).name}", fees=fees, work_rvus=rvus)


def _amount(text: str | None, where: str) -> Decimal:
    try:
        value = Decimal((text or "").strip().lstrip("$"))
    except InvalidOperation:
        raise FeeFileError(f"{where}: expected a number, got {text!r}") from None
    if value < 0 or not value.is_finite():
        raise FeeFileError(f"{where}: expected a non-negative number, got {text!r}")
    return value
