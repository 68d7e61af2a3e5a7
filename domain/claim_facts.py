"""The contract's claim facts: what a billing service submits, the payer's answer, a void."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

import msgspec

from domain.contract import (
    CARC_PATTERN,
    POS_PATTERN,
    RARC_PATTERN,
    Code,
    Fact,
    Ident,
    Month,
    Npi,
    Text,
)
from domain.vocab import AdjustmentGroup, ClaimOutcome


class ClaimLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: Code
    units: Annotated[int, msgspec.Meta(ge=1, le=99)] = 1


class ClaimSubmitted(Fact, tag=True, frozen=True):
    claim_id: Ident
    patient_id: Ident
    billing_provider_npi: Npi
    place_of_service: Annotated[str, msgspec.Meta(pattern=POS_PATTERN)]
    lines: Annotated[list[ClaimLine], msgspec.Meta(min_length=1, max_length=50)]
    service_month: Month | None = None
    service_on: date | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.service_month is None) == (self.service_on is None):
            raise ValueError("give exactly one of `service_month` or `service_on`")


MAX_AMOUNT = Decimal("10000000")  # no care-management claim comes near; larger is a typing error


def amount_problem(path: str, value: Decimal | None, *, signed: bool = False) -> str | None:
    if value is None or (value.is_finite() and abs(value) <= MAX_AMOUNT and (signed or value >= 0)):
        return None
    bound = f"from -{MAX_AMOUNT} to {MAX_AMOUNT}" if signed else f"from 0 to {MAX_AMOUNT}"
    return f"{path}: expected a finite amount {bound}"


class Adjustment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    group: AdjustmentGroup
    reason: Annotated[str, msgspec.Meta(pattern=CARC_PATTERN)]  # a CARC
    amount: Decimal


class AdjudicatedLine(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    code: Code
    units: Annotated[int, msgspec.Meta(ge=1, le=99)] = 1
    charged: Decimal | None = None
    paid: Decimal | None = None
    adjustments: Annotated[list[Adjustment], msgspec.Meta(max_length=50)] = msgspec.field(default_factory=list)
    remarks: Annotated[list[Annotated[str, msgspec.Meta(pattern=RARC_PATTERN)]], msgspec.Meta(max_length=50)] = (
        msgspec.field(default_factory=list)
    )


class ClaimAdjudicated(Fact, tag=True, frozen=True):
    claim_id: Ident
    outcome: ClaimOutcome
    paid_amount: Decimal | None = None
    reason_codes: Annotated[list[Text], msgspec.Meta(max_length=50)] | None = None
    payer_claim_number: Ident | None = None
    paid_on: date | None = None
    lines: Annotated[list[AdjudicatedLine], msgspec.Meta(max_length=50)] | None = None


class ClaimVoided(Fact, tag=True, frozen=True):
    claim_id: Ident
    reason: Text
    by: Ident
