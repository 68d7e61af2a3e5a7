"""`carelane practices add FILE` and `list`: the practices a billing company serves, each
with a store of its own (adapters.tenants)."""

from __future__ import annotations

import sys

import click

from adapters import reads, tenancy
from adapters.claim_index import ClaimIndex
from adapters.commands.base import Settings, main
from adapters.commands.ingesting import open_lines
from adapters.exporting import practices as registered_practices
from adapters.ingest import numbered
from adapters.lines import Invalid, decode_only
from adapters.store import StoreError, open_ledger, redact
from adapters.table import render
from adapters.tenants import Catalog, TenantError, id_problem
from adapters.viewdb import open_views
from domain import facts
from domain.elsewhere import Held
from domain.ledger import Ledger
from domain.reasons import Refused
from projections.events import Query, events


@main.group("practices")
def practices_group() -> None:
    """The practices this ledger serves: add, list."""


@practices_group.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.option(
    "--at",
    "template",
    metavar="URL",
    help="Where a new practice's store goes: a store URL with {practice} in it "
    "(default: beside the home store; the first practice keeps the home store).",
)
@click.pass_obj
def practices_add(settings: Settings, file: str, template: str | None) -> None:
    """Register practices from PracticeRegistered lines (NDJSON), each in its own store.
    Exit 0 all registered, 3 some refused, 2 some invalid."""
    catalog = settings.catalog(create=True)
    assert catalog is not None
    worst = 0
    with open_lines(file) as (lines, _):
        for lineno, raw in numbered(lines):
            try:
                fact = decode_only(raw, lineno, (facts.PracticeRegistered,))
                assert isinstance(fact, facts.PracticeRegistered)
                placed = fact.practice_id in {t.practice_id for t in catalog.tenants()}
                if not placed and (problem := id_problem(fact.practice_id)) is not None:
                    raise Invalid(f"line {lineno}: {problem}")
                click.echo(_register(catalog, fact, template, lineno))
            except Invalid as e:
                click.echo(str(e), err=True)
                worst = 2
            except (Refused, TenantError, StoreError) as e:
                click.echo(f"line {lineno}: refused: {e}", err=True)
                worst = worst or 3
    sys.exit(worst)


def _register(catalog: Catalog, fact: facts.PracticeRegistered, template: str | None, lineno: int) -> str:
    if not catalog.tenants() and _home_owner(catalog.home, fact.practice_id):
        template = None  # the home store's facts stay with the first practice, in the home store
    tenant = catalog.add(fact.practice_id, template)
    resolved = tenancy.Resolved(tenant.url, tenant.practice_id, catalog.home)
    ledger = tenancy.attach(open_ledger(tenant.url), resolved)
    try:
        ledger.record(fact)
        met = _backfill(ledger, tenant.url)
    finally:
        ledger.close()
    shown = [f"line {lineno}: practice {fact.practice_id} registered; store {redact(tenant.url)}"]
    for claim_id, held in met:  # billed before the ledger could see across practices
        others = ", ".join(sorted({f"{h.program} {h.month} by practice {h.practice_id}" for h in held}))
        shown.append(f"  warning: claim {claim_id} on file meets {others}: review both")
    return "\n".join(shown)


def _backfill(ledger: Ledger, url: str) -> list[tuple[str, list[Held]]]:
    """The store's standing claims into the cross-practice index (a store with history:
    the first practice keeps the home store, or `--at` an existing one)."""
    if not isinstance(ledger.elsewhere, ClaimIndex):
        return []
    db = open_views(ledger, url)
    try:
        reads.ready(ledger, db)
        claims = [row.fact["claim_id"] for row in events(ledger, db, Query(types=["ClaimSubmitted"]))]
    finally:
        db.close()
    return ledger.elsewhere.backfill(ledger, list(dict.fromkeys(claims)))


def _home_owner(home: str, practice_id: str) -> bool:
    """Whether the home store holds a ledger already (it stays the first practice's); refused
    when that ledger is another practice's (its PracticeRegistered names another id)."""
    ledger = open_ledger(home)
    try:
        if not ledger.recorder.max_notification_id():
            return False
        registered = registered_practices(ledger)
    finally:
        ledger.close()
    if registered and practice_id not in registered:
        names = ", ".join(sorted(registered)[:5])
        raise TenantError(f"the home store holds the ledger of {names}: add that practice first, it keeps the home")
    return True


@practices_group.command("list")
@click.pass_obj
def practices_list(settings: Settings) -> None:
    """Every practice and where its store is (passwords hidden)."""
    catalog = settings.catalog()
    tenants = [] if catalog is None else catalog.tenants()
    if not tenants:
        click.echo("No practices added: this ledger is one practice's.\nAdd several with `carelane practices add`.")
        return
    rows = [[t.practice_id, redact(t.url)] for t in tenants]
    click.echo(render(["practice", "store"], rows, f"{len(rows)} practices"))
