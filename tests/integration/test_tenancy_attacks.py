"""Tenancy as a careless or dishonest billing-company user would try it, on both stores: an
MBI typed in full-width digits that escapes the cross-practice check, two practices in one
PostgreSQL schema, a home store's facts handed to the wrong practice or to none, the
workbench under a practice's prefix, and a line that names another practice in a way
routing does not read. (A claim from before the catalog and a billing company's key that
could not be revoked, found here too, are tested in test_tenancy.py and
test_practices_cli.py since 6a2abc6.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest
from click.testing import CliRunner, Result
from litestar.testing import TestClient
from psycopg import sql

from adapters.cli import main
from adapters.http import create_app
from adapters.ingest import LineResult, ingest
from adapters.keys import Keys
from adapters.store import open_ledger, parse
from adapters.tenants import Catalog
from adapters.viewdb import open_views
from domain.ledger import Ledger
from domain.reasons import Refused
from tests.conftest import PG_BASE, pg_url
from tests.factories import claim, enrolled, minutes, patient, practice
from tests.tenants import add_practices, home, with_index

__all__ = ["home"]
ENCODE = msgspec.json.Encoder().encode


def _cli(home: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", home, *args])


def _file(tmp_path: Path, name: str, facts: list[Any]) -> str:
    path = tmp_path / name
    path.write_bytes(b"\n".join(ENCODE(x) for x in facts) + b"\n")
    return str(path)


def _no_crash(result: Result) -> None:
    """A command that fails says so in one line: no exception escapes it."""
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def _ready(ledger: Ledger, pid: str, staff: str) -> None:
    for fact in [*enrolled(pid)[1:], *minutes(45, pid, staff=staff)]:
        ledger.record(fact)


def test_an_mbi_in_full_width_digits_is_the_same_beneficiary(home: str) -> None:
    """B registers A's patient with the MBI's first digit typed full-width (U+FF11, which
    prints as 1). Either the registration is refused or invalid, or B's claim for the month
    A billed is refused; today both are accepted."""
    urls = add_practices(home, "A", "B")
    a, b = with_index(urls["A"], "A", home), with_index(urls["B"], "B", home)
    a.record(patient("FW", medicare_id="1EG4-TE5-FW01"))
    _ready(a, "FW", "RN-A")
    a.record(claim("CA", "FW"))
    answers: list[LineResult] = []
    ingest(b, [ENCODE(patient("FW", medicare_id="\uff11EG4-TE5-FW01"))], answers.append)
    if answers[0].status != "accepted":
        return  # refused at the door: nothing for B to bill
    _ready(b, "FW", "RN-B")
    with pytest.raises(Refused) as caught:
        b.record(claim("CB", "FW"))
    assert "PROVIDER_CONFLICT" in {r.code.value for r in caught.value.reasons}


@pytest.fixture
def long_pg_home() -> Iterator[str]:
    """A PostgreSQL home whose schema name is long (as a company might name it); every
    schema made under its unique prefix is dropped afterwards."""
    gen = pg_url()
    base = next(gen)
    prefix = parse(base).pg_schema
    yield base.replace(f"schema={prefix}", f"schema={prefix}_billing_company_home")
    with psycopg.connect(parse(PG_BASE).pg_conninfo or "", autocommit=True) as conn:
        rows = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (prefix + "%",)).fetchall()
        for (name,) in rows:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(name)))
    next(gen, None)


LONG_IDS = ("NORTH-SPRINGFIELD-FAMILY-MEDICINE-CLINIC-EAST", "NORTH-SPRINGFIELD-FAMILY-MEDICINE-CLINIC-WEST")


@pytest.mark.postgres
def test_two_practices_placed_by_a_template_never_share_a_schema(long_pg_home: str, tmp_path: Path) -> None:
    """`practices add --at ...?schema=<long>_{practice}`: PostgreSQL cuts identifiers at 63
    bytes, so two long practice ids that differ only past the cut land in one schema, and
    WEST reads EAST's patients. WEST's add must be refused (one line), or its store apart."""
    template = long_pg_home.replace("_billing_company_home", "_billing_company_practices_{practice}")
    file = _file(tmp_path, "p.ndjson", [practice(practice_id=p) for p in LONG_IDS])
    added = _cli(long_pg_home, "practices", "add", "--at", template, file)
    _no_crash(added)
    catalog = Catalog.open(long_pg_home)
    assert catalog is not None
    if not set(LONG_IDS) <= {t.practice_id for t in catalog.tenants()}:
        assert "refused" in added.output  # told, in a line of its own
        return
    facts = _file(tmp_path, "east.ndjson", enrolled("EASTPATIENT"))
    assert _cli(long_pg_home, "--practice", LONG_IDS[0], "ingest", facts).exit_code == 0
    west = _cli(long_pg_home, "--practice", LONG_IDS[1], "events")
    assert "EASTPATIENT" not in west.output


@pytest.mark.postgres
def test_a_long_home_schema_still_places_each_practice_apart(long_pg_home: str, tmp_path: Path) -> None:
    """Beside a home schema of 35 characters, `<home>_<slug>_<digest>` is cut at 63 before
    the digest: the second long id collides with the first and `practices add` ends in a
    UniqueViolation traceback."""
    file = _file(tmp_path, "p.ndjson", [practice(practice_id=p) for p in ("HOME", *LONG_IDS)])
    added = _cli(long_pg_home, "practices", "add", file)
    _no_crash(added)
    assert added.exit_code == 0, added.output
    catalog = Catalog.open(long_pg_home)
    assert catalog is not None
    assert len({parse(t.url).pg_schema[:63] for t in catalog.tenants()}) == 3


def _events(home: str, practice_id: str) -> str:
    result = _cli(home, "--practice", practice_id, "events")
    assert result.exit_code == 0, result.output
    return result.stdout


def _single_practice_home(home: str) -> None:
    """A's ledger before tenancy: its practice record and one patient."""
    single = open_ledger(home)
    for fact in [practice(practice_id="A"), *enrolled("HOMEPAT1")]:
        single.record(fact)
    single.close()


def test_the_home_facts_go_to_the_practice_they_belong_to(home: str, tmp_path: Path) -> None:
    """The home store holds practice A's ledger (its PracticeRegistered and patients). A
    file listing B before A makes B the "first practice": B is handed A's patients and A
    starts empty. Either refuse, or keep the home for the practice registered in it."""
    _single_practice_home(home)
    file = _file(tmp_path, "p.ndjson", [practice(practice_id=p, name=f"Clinic {p}") for p in "BA"])
    added = _cli(home, "practices", "add", file)
    _no_crash(added)
    if added.exit_code != 0:
        return
    assert "HOMEPAT1" not in _events(home, "B")
    assert "HOMEPAT1" in _events(home, "A")


def test_adding_the_first_practice_elsewhere_keeps_the_home_facts_reachable(home: str, tmp_path: Path) -> None:
    """`practices add --at URL` on a ledger that already has facts puts its first practice
    in a new, empty store: the home's facts belong to no practice and no command reads
    them again. Either refuse, or keep the home for the first practice."""
    _single_practice_home(home)
    # PostgreSQL: the home's schema is the URL's last parameter (tests.conftest.pg_url)
    at = f"sqlite:///{tmp_path}/{{practice}}.db" if home.startswith("sqlite") else home + "_at_{practice}"
    added = _cli(home, "practices", "add", "--at", at, _file(tmp_path, "p.ndjson", [practice(practice_id="A")]))
    _no_crash(added)
    if added.exit_code != 0:
        assert _cli(home, "practices", "list").stdout.startswith("No practices")
        return
    assert "HOMEPAT1" in _events(home, "A")


def _signed_in_page(client: TestClient[Any], prefix: str, token: str) -> Any:
    form = client.get(f"{prefix}/app/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    return client.post(f"{prefix}/app/login", data={"key": token, "csrf_token": csrf.group(1)})


def test_the_workbench_signs_in_under_a_practice_prefix(tmp_path: Path) -> None:
    """With several practices every page is under /practices/{id}/app, but the cookies are
    set for Path=/app (a browser does not send them back under the prefix) and sign-in
    redirects to /app/month (400: no practice named). A biller cannot use the workbench."""
    home = f"sqlite:///{tmp_path / 'home.db'}"
    urls = add_practices(home, "A", "B")
    token = Keys(open_views(open_ledger(urls["A"]), urls["A"])).add("Ana", "biller")[1]
    with TestClient(app=create_app(home)) as client:
        page = _signed_in_page(client, "/practices/A", token)
    assert page.status_code == 200, page.text[:200]
    assert page.url.path.startswith("/practices/A/app")


def test_a_line_cannot_name_another_practice_in_an_escaped_key(tmp_path: Path) -> None:
    """On /practices/A/facts a line naming practice B is invalid; the same line with its key
    spelled `"practice\\u005fid"` (the same JSON key) is routed to A and accepted."""
    home = f"sqlite:///{tmp_path / 'home.db'}"
    urls = add_practices(home, "A", "B")
    token = Keys(open_views(open_ledger(urls["A"]), urls["A"])).add("ops", "admin")[1]
    line = ENCODE(practice(practice_id="B", name="Not really B"))
    escaped = line.replace(b'"practice_id"', b'"practice\\u005fid"')
    with TestClient(app=create_app(home)) as client:
        answers = [
            client.post("/practices/A/facts", content=body, headers={"X-API-Key": token}).json()[0]
            for body in (line, escaped)
        ]
    assert answers[0]["status"] == "invalid"
    assert answers[1]["status"] == "invalid"
