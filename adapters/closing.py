"""Closing a month with the practice's Ed25519 key, and checking every close.

The private key stays in a file of the practice (0600); the ledger keeps the public key and
the signature. A close signs what was billed for the month, the totals by program, and the
hash chain's tip when it was taken: `verify_closes` checks each signature, the totals
against the claims listed, the chain at the signed position, and the claims listed against
the claims on file (every claim recorded before the close is in it, with the codes it has).
Ed25519 comes from pycryptodome, already a dependency (the cipher of stored events)."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Collection
from datetime import UTC
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
from Crypto.PublicKey import ECC
from Crypto.Signature import eddsa

from adapters import chain
from domain import catalog
from domain.catalog import FeeSchedule
from domain.decisions.closing import CloseRefused, Stale, close_month, reopen_month
from domain.keys import patient_month_key
from domain.ledger import Ledger
from domain.month_close import Close, CloseContent, ClosedClaim, ClosedLine, MonthClose, canonical, month_close_key
from domain.patient_month import PatientMonth

KEY_ENV = "CARELANE_CLOSE_KEY"  # path of the practice's private key file
TRUSTED_ENV = "CARELANE_CLOSE_PUBLIC_KEYS"  # the practice's public keys (hex, comma-separated)
ATTEMPTS = 3
PAGE = 1000
Key = ECC.EccKey


class KeyProblem(Exception):
    """The key file is missing, unreadable, too open or not an Ed25519 private key."""


# Keys


def new_key(path: Path) -> str:
    """Write a new Ed25519 private key (PEM, PKCS#8) readable by its owner only; its public
    key (hex). An existing file is never overwritten."""
    key = ECC.generate(curve="ed25519")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise KeyProblem(f"{path} exists; a key file is never overwritten") from None
    except OSError as e:
        raise KeyProblem(f"{path}: cannot be written ({e.strerror})") from None
    with os.fdopen(fd, "w") as out:
        out.write(key.export_key(format="PEM") + "\n")
    return public_hex(key)


def key_path(given: str | None) -> Path:
    name = given or os.environ.get(KEY_ENV)
    if not name:
        raise KeyProblem(f"no signing key: give --key FILE or set {KEY_ENV} (carelane close --new-key FILE makes one)")
    return Path(name)


def load_key(path: Path) -> Key:
    try:
        if path.stat().st_mode & 0o077:
            raise KeyProblem(f"{path} can be read by others; chmod 600 it")
        text = path.read_text()
    except OSError as e:
        raise KeyProblem(f"{path}: cannot be read ({e.strerror})") from None
    except UnicodeDecodeError:
        raise KeyProblem(f"{path}: not a PEM key file") from None
    try:
        key = ECC.import_key(text)
    except (ValueError, IndexError, TypeError):
        raise KeyProblem(f"{path}: not a PEM key file") from None
    if key.curve != "Ed25519" or not key.has_private():
        raise KeyProblem(f"{path}: not an Ed25519 private key")
    return key


def public_hex(key: Key) -> str:
    """The raw public key (RFC 8032), hex: the last 32 bytes of its DER (RFC 8410) form, which
    every pycryptodome with Ed25519 writes."""
    return bytes(key.public_key().export_key(format="DER"))[-32:].hex()


def trusted_keys() -> set[str]:
    """The practice's public keys from the environment (empty: any key is taken at its word)."""
    return {k.strip().lower() for k in os.environ.get(TRUSTED_ENV, "").split(",") if k.strip()}


def sign(content: CloseContent, key: Key) -> str:
    return bytes(eddsa.new(key, "rfc8032").sign(canonical(content))).hex()


def signature_ok(content: CloseContent, signature: str) -> bool:
    try:
        public = eddsa.import_public_key(bytes.fromhex(content.public_key))
        eddsa.new(public, "rfc8032").verify(canonical(content), bytes.fromhex(signature))
    except (ValueError, TypeError):
        return False
    return True


# What a close holds


def billed(ledger: Ledger, patients: list[str], month: str, fees: FeeSchedule) -> list[ClosedClaim]:
    """Every claim of the month, with its lines priced and its status now."""
    claims = [
        ClosedClaim(
            claim.submitted.claim_id,
            view.patient.patient_id,
            claim.status,
            [ClosedLine(x.code, x.units, _q(fees.fee(x.code) * x.units)) for x in claim.submitted.lines],
        )
        for view in ledger.month_views_of(patients, month)
        for claim in (view.current.claims.values() if view.current else ())
    ]
    return sorted(claims, key=lambda c: c.claim_id)


def totals_of(claims: list[ClosedClaim]) -> dict[str, str]:
    """Claimed amount by program, over the claims not voided."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for c in claims:
        for x in c.lines if c.status != "voided" else ():
            spec = catalog.lookup(x.code)
            totals[str(spec.program) if spec is not None and spec.program else "other"] += Decimal(x.amount)
    return {program: _q(amount) for program, amount in sorted(totals.items())}


def _q(amount: Decimal) -> str:
    return str(amount.quantize(Decimal("0.01")))


def prepare(ledger: Ledger, patients_of: Callable[[str], list[str]], month: str, key: Key, fees: FeeSchedule,
            by: str) -> tuple[CloseContent, str]:  # fmt: skip
    """The close's content and signature. The chain's tip is read before the month: a fact
    racing the close is in it or flagged after it, never neither."""
    mc = ledger.load(month_close_key(month))
    assert mc is None or isinstance(mc, MonthClose)
    if mc is not None and mc.closed:
        raise CloseRefused(f"{month} is closed already (close {len(mc.closes)}); re-open it first with a reason")
    tip = chain.tip(ledger.recorder)
    claims = billed(ledger, patients_of(month), month, fees)
    content = CloseContent(
        month=month, sequence=mc.next_sequence if mc else 1, closed_at=ledger.clock().astimezone(UTC).isoformat(),
        closed_by=by, fee_schedule=fees.name, claims=claims, totals=totals_of(claims), chain_position=tip.position,
        chain_hash=tip.hash, public_key=public_hex(key),
    )  # fmt: skip
    return content, sign(content, key)


def close(ledger: Ledger, patients_of: Callable[[str], list[str]], month: str, key: Key, fees: FeeSchedule,
          by: str) -> Close:  # fmt: skip
    """Close the month: raises CloseRefused when it is closed already. `patients_of` gives the
    patients with activity in a month, from views brought up to date when called."""
    for _ in range(ATTEMPTS):
        content, signature = prepare(ledger, patients_of, month, key, fees, by)
        try:
            mc = ledger.run(partial(close_month, content=content, signature=signature))
        except Stale:
            continue
        return mc.closes[-1]
    raise CloseRefused(f"{month} kept changing while the close was prepared; try again")


def reopen(ledger: Ledger, month: str, reason: str, by: str) -> MonthClose:
    return ledger.run(partial(reopen_month, month=month, reason=reason, by=by))


class CloseRecord(msgspec.Struct):
    """A close as shown (CLI json, GET /closes): what was signed, the signature, whether it
    verifies, and the re-open that ended it, if any."""

    content: CloseContent
    signature: str
    signature_ok: bool
    reopened_at: str | None = None
    reopened_by: str | None = None
    reopen_reason: str | None = None


def history(ledger: Ledger, month: str) -> list[CloseRecord]:
    """The month's closes, oldest first (the last one stands unless it was re-opened)."""
    mc = ledger.load(month_close_key(month))
    if not isinstance(mc, MonthClose):
        return []
    out = []
    for i, c in enumerate(mc.closes):
        r = mc.reopenings[i] if i < len(mc.reopenings) else None
        ended = (r.at.isoformat(), r.by, r.reason) if r else (None, None, None)
        out.append(CloseRecord(c.content, c.signature, signature_ok(c.content, c.signature), *ended))
    return out


# Checking


class _Claim(msgspec.Struct, frozen=True):
    position: int
    lines: list[tuple[str, int]]


def verify_closes(ledger: Ledger, trusted: Collection[str] | None = None) -> list[str]:
    """What is wrong with the closes on record (empty: every close verifies). One pass over
    the log's closes and claim submissions, in order; each close is checked against the
    claims recorded before it. `trusted`: the practice's public keys (default TRUSTED_ENV)."""
    keys = trusted_keys() if trusted is None else {k.lower() for k in trusted}
    topics = [MonthClose.MonthClosed.TOPIC, PatientMonth.ClaimSubmitted.TOPIC]
    claims: dict[UUID, dict[str, _Claim]] = defaultdict(dict)  # patient-month -> claim id -> claim
    patients: set[str] = set()
    problems: list[str] = []
    start = 1
    while page := ledger.recorder.select_notifications(start=start, limit=PAGE, topics=topics):
        for n in page:
            event: Any = ledger.mapper.to_domain_event(n)
            if isinstance(event, PatientMonth.ClaimSubmitted):
                fact = event.fact
                patients.add(fact.patient_id)
                claims[event.originator_id][fact.claim_id] = _Claim(n.id, [(x.code, x.units) for x in fact.lines])
            else:
                problems += check(ledger, event.content, event.signature, keys, claims, patients)
        start = page[-1].id + 1
    return problems


def check(ledger: Ledger, content: CloseContent, signature: str, keys: Collection[str],
          claims: dict[UUID, dict[str, _Claim]], patients: Collection[str]) -> list[str]:  # fmt: skip
    """One close's problems, against the claims recorded before it."""
    name = f"close {content.sequence} of {content.month}"
    problems = []
    if not signature_ok(content, signature):
        problems.append(f"{name}: the signature does not verify (changed after it was signed)")
    if keys and content.public_key.lower() not in keys:
        problems.append(f"{name}: signed with a key that is not one of the practice's ({TRUSTED_ENV})")
    if totals_of(content.claims) != content.totals:
        problems.append(f"{name}: the totals are not the sum of the claims it lists")
    rows = chain.chain_rows(ledger.recorder, content.chain_position - 1)
    at = rows[0] if rows and rows[0][0] == content.chain_position else None
    if content.chain_position and (at is None or at[1].hex() != content.chain_hash):
        problems.append(f"{name}: the hash chain at position {content.chain_position} is not the one it signed")
    listed = {c.claim_id for c in content.claims}
    for c in content.claims:
        found = claims.get(patient_month_key(c.patient_id, content.month), {}).get(c.claim_id)
        if found is None or found.lines != [(x.code, x.units) for x in c.lines]:
            problems.append(f"{name}: claim {c.claim_id} is not on file as the close lists it")
    for pid in patients:
        for claim_id, found in claims.get(patient_month_key(pid, content.month), {}).items():
            if found.position <= content.chain_position and claim_id not in listed:
                problems.append(f"{name}: claim {claim_id}, recorded before the close, is not in it")
    return problems
