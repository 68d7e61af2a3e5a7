"""What the payer's codes mean, and what to do next: the claim adjustment reason codes
(CARC) and remittance advice remark codes (RARC) care-management billing meets most. The
wording is ours, summarised from the X12 code lists (x12.org/codes, maintained by the X12
code committees); a code not listed here is shown as itself, with a pointer to that list."""

from __future__ import annotations

from typing import NamedTuple


class Meaning(NamedTuple):
    says: str
    next_step: str


CARC: dict[str, Meaning] = {
    "1": Meaning("deductible", "bill the patient or their supplemental plan"),
    "2": Meaning("coinsurance", "bill the patient or their supplemental plan"),
    "3": Meaning("co-payment", "bill the patient or their supplemental plan"),
    "4": Meaning(
        "the modifier is inconsistent with the procedure code, or missing",
        "correct the modifier and send a replacement claim",
    ),
    "5": Meaning(
        "the place of service is inconsistent with the procedure code",
        "correct the place of service and send a replacement claim",
    ),
    "11": Meaning(
        "the diagnosis is inconsistent with the procedure",
        "check the claim's diagnoses against the record; correct and resend",
    ),
    "16": Meaning(
        "the claim lacks information or has submission/billing errors",
        "read the remark codes, add what is missing and resubmit",
    ),
    "18": Meaning(
        "exact duplicate claim or service",
        "do not resend: find the first claim's answer; void this one if it was sent in error",
    ),
    "22": Meaning(
        "this care may be covered by another payer (coordination of benefits)", "bill the primary payer first"
    ),
    "23": Meaning(
        "the impact of a prior payer's adjudication", "post the prior payer's payment; bill the patient's share"
    ),
    "26": Meaning(
        "expenses incurred before coverage began", "check eligibility dates; bill the patient if not covered"
    ),
    "27": Meaning("expenses incurred after coverage ended", "check eligibility dates; bill the right payer"),
    "29": Meaning("the time limit for filing has expired", "no appeal unless filed on time; record the loss"),
    "31": Meaning(
        "the patient cannot be identified as our insured",
        "check the MBI and name against the Medicare card; correct and resubmit",
    ),
    "45": Meaning(
        "the charge exceeds the fee schedule or maximum allowable",
        "a contractual write-off; check the allowed amount against the fee schedule",
    ),
    "50": Meaning(
        "not deemed a medical necessity by the payer",
        "review the documentation; appeal with the record if it supports the service",
    ),
    "96": Meaning("non-covered charge(s)", "read the remark codes; bill the patient only with a valid notice (ABN)"),
    "97": Meaning(
        "the benefit for this service is included in another service already adjudicated (bundled)",
        "check which service it was bundled into; a care-management code beside an overlapping one is not payable",
    ),
    "109": Meaning("not covered by this payer or contractor", "send the claim to the right payer or MAC"),
    "119": Meaning(
        "benefit maximum for this time period or occurrence has been reached",
        "the period's units were already paid; do not resend",
    ),
    "140": Meaning(
        "the patient or insured's name or health insurance number does not match",
        "correct the name or MBI and resubmit",
    ),
    "151": Meaning(
        "the payer deems the information submitted does not support this many or this frequency of services",
        "check units against the record; appeal with the time log if it supports them",
    ),
    "181": Meaning(
        "the procedure code was invalid on the date of service",
        "check the code's effective dates; bill the code in force",
    ),
    "197": Meaning(
        "precertification, authorization or notification absent", "obtain what is missing; appeal if it was on file"
    ),
    "204": Meaning(
        "this service is not covered under the patient's current benefit plan",
        "check coverage; bill the patient only with a valid notice",
    ),
    "222": Meaning(
        "exceeds the contracted maximum number of hours, days or units",
        "units over the cap are not payable; do not resend them",
    ),
    "234": Meaning("this procedure is not paid separately", "the service is bundled; no separate claim"),
    "253": Meaning("sequestration: the federal payment reduction", "a required reduction (2%); nothing to do"),
    "B7": Meaning(
        "this provider was not certified or eligible to be paid for this service on this date",
        "check the practitioner's enrollment with the MAC",
    ),
    "B9": Meaning(
        "the patient is enrolled in a hospice",
        "care management during a hospice election is not payable: void if the record shows hospice",
    ),
    "B15": Meaning(
        "this service requires another service to be paid first (a qualifying service)",
        "check that the base code was billed and paid; an add-on needs its base",
    ),
    "B20": Meaning(
        "the procedure or service was partially or fully furnished by another provider",
        "another practice billed this patient's month: confirm who furnished the care; void if it was not you",
    ),
}

RARC: dict[str, str] = {
    "M15": "separately billed services or tests were bundled as parts of the same procedure",
    "M20": "missing or incomplete HCPCS code",
    "M51": "missing, incomplete or invalid procedure code(s)",
    "M76": "missing, incomplete or invalid diagnosis or condition",
    "M77": "missing, incomplete or invalid place of service",
    "M86": "service denied because payment already made for same or similar procedure within set time frame",
    "MA04": "secondary payment needs the primary payer's identity or payment information",
    "MA13": "billing the patient for amounts not reported as PR may bring penalties",
    "MA130": "missing or invalid information; returned as unprocessable: send a new, complete claim",
    "N20": "service not payable with other service rendered on the same date",
    "N130": "consult plan benefit documents or guidelines for information about restrictions for this service",
    "N290": "missing or invalid rendering provider identifier",
    "N362": "the number of days or units of service exceeds the acceptable maximum",
    "N390": "this service or report cannot be billed separately",
    "N538": "a facility pays outside providers for these services to its residents",
    "N640": "exceeds the number of services allowed for this period",
}


def carc(code: str) -> Meaning:
    found = CARC.get(code)
    return found or Meaning(f"reason {code} (see the CARC list at x12.org/codes)", "read the payer's explanation")


def rarc(code: str) -> str:
    return RARC.get(code) or f"remark {code} (see the RARC list at x12.org/codes)"
