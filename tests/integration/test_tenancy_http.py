"""The HTTP API across practices, on both stores, route by route: a practice's key gets 403
on every route of another practice; a billing company's key reaches the practices it was
given; views, audit packets (with their digests), events and refusals are each practice's
own; a claim refused across practices is answered PROVIDER_CONFLICT over HTTP too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from adapters.http import create_app
from adapters.keys import Keys
from adapters.store import open_ledger
from adapters.tenant_keys import SpanningKeys
from adapters.tenants import Catalog
from adapters.viewdb import open_views
from tests.factories import claim, enrolled, minutes
from tests.tenants import add_practices, home

__all__ = ["home"]
ENCODE = msgspec.json.Encoder().encode


class Site:
    def __init__(self, home: str) -> None:
        self.urls = add_practices(home, "A", "B")
        catalog = Catalog.open(home)
        assert catalog is not None
        self.keys: dict[str, str] = {}
        for practice, url in self.urls.items():
            ledger = open_ledger(url)
            views = open_views(ledger, url)
            info, self.keys[practice] = Keys(views).add(f"admin-{practice}", "admin")
            views.close()
            ledger.close()
            catalog.note_key(info.id, practice)
        spanning = SpanningKeys(catalog.db)
        self.keys["company-A"] = spanning.add_for("company", "admin", ["A"])[1]
        self.keys["company-all"] = spanning.add_for("company", "admin", None)[1]
        catalog.close()
        self.client = TestClient(app=create_app(home))

    def call(self, key: str, method: str, path: str, body: bytes = b"") -> Any:
        headers = {"X-API-Key": self.keys[key]}
        return self.client.request(method, path, headers=headers, content=body or None)


@pytest.fixture
def site(home: str) -> Iterator[Site]:
    built = Site(home)
    with built.client:
        yield built


def _keyed_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the API that needs a key, path parameters filled in."""
    app = create_app("sqlite:///:memory:")
    out = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get("roles") is None:
                continue
            for method in sorted(handler.http_methods):
                out.append((method, re.sub(r"\{[^}]+\}", "P1", route.path)))
    return sorted(set(out))


ROUTES = _keyed_routes()


def test_every_keyed_route_is_tested() -> None:
    assert len(ROUTES) >= 18 and ("GET", "/worklist") in ROUTES and ("POST", "/facts") in ROUTES


def test_a_practice_key_gets_403_on_every_route_of_another_practice(site: Site) -> None:
    for method, path in ROUTES:
        assert site.call("A", method, "/practices/B" + path).status_code == 403, (method, path)
        assert site.call("company-A", method, "/practices/B" + path).status_code == 403, (method, path)
        assert site.call("A", method, "/practices/A" + path).status_code not in (401, 403), (method, path)
        assert site.call("company-all", method, "/practices/B" + path).status_code not in (401, 403), path


def test_several_practices_need_the_prefix_and_an_unknown_one_is_404(site: Site) -> None:
    assert site.call("A", "GET", "/worklist?month=2026-03").status_code == 400
    assert site.call("company-all", "GET", "/practices/ZZ/worklist?month=2026-03").status_code == 404
    assert site.client.get("/health").status_code == 200


def test_views_audit_events_and_refusals_are_each_practices_own(site: Site) -> None:
    facts = [*enrolled("R1"), *minutes(45, "R1")]
    body = b"\n".join(ENCODE(f) for f in facts)
    for practice in ("A", "B"):
        answers = site.call(practice, "POST", f"/practices/{practice}/facts", body).json()
        assert {a["status"] for a in answers} == {"accepted"}
    site.call("A", "POST", "/practices/A/facts", ENCODE(enrolled("ONLY-A")[0]))
    assert site.call("A", "POST", "/practices/A/claims", ENCODE(claim("CA", "R1"))).json()[0]["status"] == "accepted"
    refused = site.call("B", "POST", "/practices/B/claims", ENCODE(claim("CB", "R1"))).json()[0]
    assert refused["status"] == "refused" and refused["reasons"][0]["code"] == "PROVIDER_CONFLICT"
    worklist = {p: site.call(p, "GET", f"/practices/{p}/worklist?month=2026-03").json() for p in ("A", "B")}
    assert next(r["claimed"] for r in worklist["A"] if r["patient_id"] == "R1")[0]["claim_id"] == "CA"
    assert all(not r["claimed"] for r in worklist["B"])
    assert [r["claim_id"] for r in site.call("B", "GET", "/practices/B/refusals").json()] == ["CB"]
    assert site.call("A", "GET", "/practices/A/refusals").json() == []
    events_b = site.call("B", "GET", "/practices/B/events").json()
    assert "ONLY-A" not in {e["patient_id"] for e in events_b}
    assert site.call("B", "GET", "/practices/B/audit/ONLY-A?from=2026-03&to=2026-03").status_code == 404
    packets = [
        site.call(p, "GET", f"/practices/{p}/audit/R1?from=2026-03&to=2026-03").json()["digest"] for p in ("A", "B")
    ]
    assert packets[0] != packets[1]  # each practice's chain, its own digest


def test_a_line_naming_another_practice_is_invalid_on_this_practices_route(site: Site) -> None:
    line = msgspec.json.decode(ENCODE(enrolled("R9")[0]))
    mine, theirs = ENCODE(line | {"practice_id": "B"}), ENCODE(line | {"practice_id": "A"})
    answers = site.call("B", "POST", "/practices/B/facts", theirs + b"\n" + mine).json()
    assert [a["status"] for a in answers] == ["invalid", "accepted"]
    assert answers[0]["line"] == 1 and "$.practice_id" in answers[0]["error"]
    events_a = site.call("A", "GET", "/practices/A/events").json()
    assert "R9" not in {e["patient_id"] for e in events_a}


def test_a_workbench_session_opens_nothing_at_another_practice(site: Site, home: str) -> None:
    urls = site.urls
    token = Keys(open_views(open_ledger(urls["A"]), urls["A"])).add("biller-A", "biller")[1]
    form = site.client.get("/practices/A/app/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    login = {"Cookie": f"carelane_login={form.cookies.get('carelane_login')}"}  # its path is /app
    signed = site.client.post(
        "/practices/A/app/login",
        data={"key": token, "csrf_token": csrf.group(1)},
        headers=login,
        follow_redirects=False,
    )
    assert signed.status_code == 303
    cookie = signed.cookies.get("carelane_session") or ""
    assert cookie
    headers = {"Cookie": f"carelane_session={cookie}"}
    mine = site.client.get("/practices/A/app/month?month=2026-03", headers=headers, follow_redirects=False)
    theirs = site.client.get("/practices/B/app/month?month=2026-03", headers=headers, follow_redirects=False)
    assert mine.status_code == 200
    assert theirs.status_code in (302, 303, 401) and "R1" not in theirs.text
