"""X12 shared by the 837P export and the files coming back: segment text, pyx12's
validation, and which claims a month's export carries.

pyx12 (its 5010 maps: 837 X222A1, 999 X231A1, 277 X214, 835 X221A1) validates every file
that goes out and parses every file that comes in (adapters.x12_in)."""

from __future__ import annotations

import io
import json
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from domain.exports import frequency_due
from domain.ledger import Ledger
from domain.rules.view import MonthView
from domain.state import Claim, PatientFile


@dataclass
class Segments:
    """Segments with X12 separators; element text is cleaned of separator characters."""

    items: list[str] = field(default_factory=list)

    def add(self, *elements: str, keep_case: bool = False) -> None:
        cleaned = [clean_text(e, keep_case) if i else e for i, e in enumerate(elements)]
        while cleaned and cleaned[-1] == "":
            cleaned.pop()
        self.items.append("*".join(cleaned))

    def add_composite(self, *elements: str) -> None:
        """Like add, but keeps ':' in composite elements built by the caller, and case (a
        claim id is matched exactly when the answers quote it)."""
        self.items.append("*".join(elements).rstrip("*"))


def clean_text(text: str, keep_case: bool = False) -> str:
    """Text as X12 carries it: accents folded to ASCII (José to JOSE), separators and
    anything outside X12's character sets dropped, upper case for names and addresses."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    plain = re.sub(r"[^A-Za-z0-9 !\"&'()+,\-./;?=%@#$]", " ", folded)
    return " ".join((plain if keep_case else plain.upper()).split())


def money(amount: Decimal) -> str:
    text = f"{amount.quantize(Decimal('0.01'))}"
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass
class ClaimToSend:
    claim: Claim
    patient: PatientFile
    view: MonthView
    frequency: str


def claims_for(ledger: Ledger, patients: list[str], month: str) -> list[ClaimToSend]:
    """The month's claims with something due at the payer: originals not yet sent (or
    rejected), and voids of claims the payer holds (domain.exports.frequency_due)."""
    out = []
    for view in ledger.month_views_of(patients, month):
        if view.current is None:
            continue
        for claim in view.current.claims.values():
            due = frequency_due(claim)
            if due is not None:
                out.append(ClaimToSend(claim, view.patient, view, due))
    return out


# Code lists that payers extend every quarter (remark codes, claim status codes): pyx12's
# copies stop years back (remark N734, status 771), so a payer's current codes are not held
# against a file coming in; the files the ledger writes are checked against every list.
GROWING_CODE_LISTS = "remark_code,claim_status,claim_status_cat,entity_id,service_type"


def validate(text: str, *, incoming: bool = False) -> list[str]:
    """pyx12's findings for an interchange (line and message); empty when it is valid."""
    import pyx12.params
    import pyx12.x12n_document

    logging.getLogger("pyx12").setLevel(logging.CRITICAL)
    report = io.StringIO()
    settings = pyx12.params.params()
    if incoming:
        settings.set("exclude_external_codes", GROWING_CODE_LISTS)
    try:
        ok = pyx12.x12n_document.x12n_document(settings, io.StringIO(text), fd_997=None, fd_html=None, fd_json=report)
    except Exception as e:  # pyx12 raises its own errors on files it cannot frame at all
        return [f"not a readable X12 interchange ({type(e).__name__})"]
    found = list(_errors(json.loads(report.getvalue() or "{}")))
    if not ok and not found:
        found = ["pyx12 rejected the interchange"]
    return found


def _errors(node: object, line: object = None) -> list[str]:
    """Every error in pyx12's JSON report, at any depth, with the line it was found on."""
    out: list[str] = []
    if isinstance(node, dict):
        line = node.get("cur_line", line)
        for err in node.get("errors", []):
            out.append(f"line {line}: {err.get('err_str', err)}")
        for key, value in node.items():
            if key != "errors":
                out += _errors(value, line)
    elif isinstance(node, list):
        for item in node:
            out += _errors(item, line)
    return out


PROBLEMS = ("invalid date", "invalid time", "invalid character", "too long", "too short", "missing", "not used")


def without_values(problem: str, text: str) -> str:
    """pyx12's finding, named by line, claim and element, without the value it quotes
    (a patient's name or address is PHI)."""
    found = re.match(r"line (\d+): (.*)", problem, re.DOTALL)
    if found is None:
        return "the file as a whole"
    line, message = int(found.group(1)), found.group(2)
    before = text.split("~\n")[:line]
    claim = next((s.split("*")[1] for s in reversed(before) if s.startswith(("CLM*", "CLP*"))), None)
    where = f"line {line}" + (f", claim {claim}" if claim else "")
    element = re.search(r'"([^"]+)" \((\w+)\)', message)
    kind = next((k for k in PROBLEMS if k in message), "is not valid")
    return f"{where}: {element.group(1)} ({element.group(2)}) {kind}" if element else f"{where}: a segment {kind}"
