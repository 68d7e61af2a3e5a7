"""The input contract's building blocks: field types with their limits, the patterns and
what each asks for in words, and the base every fact shares (interface.md section 1).

These limits apply where facts come in. Stored events are read by domain.records, which
checks none of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
import msgspec.inspect

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Ident = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
NPI_PATTERN = r"^\d{10}$"
Npi = Annotated[str, msgspec.Meta(pattern=NPI_PATTERN)]
MONTH_PATTERN = r"^(19|20|21)\d{2}-(0[1-9]|1[0-2])$"
Month = Annotated[str, msgspec.Meta(pattern=MONTH_PATTERN)]
YEARS = range(1900, 2200)  # dates outside are typing errors, and would break month arithmetic
Instant = Annotated[datetime, msgspec.Meta(tz=True)]
ICD10_PATTERN = r"^[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?$"
Icd10 = Annotated[str, msgspec.Meta(pattern=ICD10_PATTERN)]
CODE_PATTERN = r"^[A-Z0-9]{5}$"
Code = Annotated[str, msgspec.Meta(pattern=CODE_PATTERN)]
POS_PATTERN = r"^\d{2}$"
CARC_PATTERN = r"^[A-Z0-9]{1,5}$"
RARC_PATTERN = r"^[A-Z0-9]{1,6}$"
STATE_PATTERN = r"^[A-Z]{2}$"
ZIP_PATTERN = r"^\d{5}(\d{4})?$"
TAX_ID_PATTERN = r"^\d{2}-?\d{7}$"
PHONE_PATTERN = r"^[0-9]{10}$"
X12_ID_PATTERN = r"^[A-Za-z0-9]+$"
# What each pattern asks for, in words: an error names the field and this, never the regex.
PATTERN_WORDS = {
    NPI_PATTERN: "a 10-digit NPI",
    MONTH_PATTERN: "a month as YYYY-MM",
    ICD10_PATTERN: "an ICD-10-CM code such as E11.9",
    CODE_PATTERN: "a 5-character CPT or HCPCS code",
    POS_PATTERN: "a 2-digit place of service",
    CARC_PATTERN: "a claim adjustment reason code",
    RARC_PATTERN: "a remittance advice remark code",
    STATE_PATTERN: "a 2-letter state code",
    ZIP_PATTERN: "a 5- or 9-digit ZIP code",
    TAX_ID_PATTERN: "a 9-digit tax id (EIN)",
    PHONE_PATTERN: "a 10-digit phone number",
    X12_ID_PATTERN: "letters and digits only",
}


class Fact(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, tag_field="type"):
    """Fields every line may carry: who sent it and who keyed it."""

    source: Text | None = None
    recorded_by: Text | None = None

    def __post_init__(self) -> None:
        for name in _dated_fields(type(self)):
            value = getattr(self, name)
            if value is not None and value.year not in YEARS:
                raise ValueError(f"{name}: expected a year from {YEARS.start} to {YEARS.stop - 1}, got {value.year}")


_DATED: dict[type[Fact], tuple[str, ...]] = {}


def _dated_fields(cls: type[Fact]) -> tuple[str, ...]:
    """The fields of a fact type that hold a date or datetime (looked up once per type:
    checking every field of every fact cost a few percent of bulk ingest)."""
    try:
        return _DATED[cls]
    except KeyError:
        pass
    dated = (msgspec.inspect.DateType, msgspec.inspect.DateTimeType)

    def holds_date(t: msgspec.inspect.Type) -> bool:
        if isinstance(t, msgspec.inspect.UnionType):
            return any(holds_date(u) for u in t.types)
        return isinstance(t, dated)

    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    _DATED[cls] = names = tuple(f.name for f in info.fields if holds_date(f.type))
    return names
