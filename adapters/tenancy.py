"""Which store a command or request works on, and the cross-practice check attached to its
ledger: the composition of adapters.tenants (where practices live) and adapters.claim_index
(what they claim)."""

from __future__ import annotations

from dataclasses import dataclass

from adapters.claim_index import ClaimIndex
from adapters.store import store_url
from adapters.tenants import Catalog
from domain import elsewhere
from domain.keys import patient_key
from domain.ledger import Ledger
from domain.rules.assess import WorklistRow


@dataclass(frozen=True)
class Resolved:
    """The store to open (`url`) and, under a catalog, the practice it belongs to."""

    url: str
    practice_id: str | None = None
    home: str | None = None  # the catalog's store, when there is one


def resolve(home: str | None, practice: str | None) -> Resolved:
    """The practice named (or the only one) and its store; with no catalog, the home store
    itself, as a single-practice ledger always was. A read never creates a catalog."""
    url = store_url(home)
    catalog = Catalog.open(url)
    if catalog is None:
        return Resolved(url)  # one store: --practice names a PracticeRegistered in it (export-837)
    try:
        tenant = catalog.resolve(practice)
    finally:
        catalog.close()
    return Resolved(url) if tenant is None else Resolved(tenant.url, tenant.practice_id, url)


def attach(ledger: Ledger, resolved: Resolved) -> Ledger:
    """Give the practice's ledger the cross-practice claim index (G-07, L-01 across practices)."""
    if resolved.practice_id is not None and resolved.home is not None:
        catalog = Catalog.open(resolved.home)
        if catalog is not None:
            ledger.elsewhere = ClaimIndex(catalog, resolved.practice_id)
    return ledger


def withhold(ledger: Ledger, rows: list[WorklistRow]) -> list[WorklistRow]:
    """Worklist rows with what another practice already claimed moved from billable to
    blocked (domain.elsewhere.withhold); unchanged for a single practice."""
    if ledger.elsewhere is None or not rows:
        return rows
    found, _ = ledger.load_many(list({patient_key(r.patient_id) for r in rows}))
    mbis = {r.patient_id: getattr(found.get(patient_key(r.patient_id)), "medicare_id", None) for r in rows}
    return elsewhere.withhold(ledger.elsewhere, [(r, mbis[r.patient_id]) for r in rows], ledger.policy)
