"""The workbench's sign-in, session and CSRF, on the app `carelane serve` runs (a real SQLite
store, Litestar's TestClient): a wrong key is refused in words, a good one gets an HttpOnly
SameSite=Strict cookie that is not the key, a form without its token is refused, sign-out ends
the session on the server, and a role sees only its pages."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from litestar.testing import TestClient

from adapters.access import AccessLog
from adapters.http import create_app
from adapters.keys import ROLES, Keys
from adapters.store import open_ledger
from adapters.viewdb import open_views
from tests.factories import enrolled, minutes

MONTH = "2026-03"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Workbench:
    url: str
    keys: dict[str, str]
    key_ids: dict[str, str]

    def client(self, base: str = "http://testserver.local") -> TestClient:  # type: ignore[type-arg]
        return TestClient(app=create_app(self.url), base_url=base)


@pytest.fixture
def bench(sqlite_url: str) -> Workbench:
    """P1 billable (45 CCM minutes), P2 a near miss (15 of 20), and the odd id <b>P3</b>."""
    ledger = open_ledger(sqlite_url)
    for fact in [*enrolled("P1"), *minutes(45), *enrolled("P2"), *minutes(15, "P2", day=3), *enrolled("<b>P3</b>"),
                 *minutes(25, "<b>P3</b>", day=4)]:  # fmt: skip
        ledger.record(fact)
    keys = Keys(open_views(ledger, sqlite_url))
    made = {role: keys.add(f"web-{role}", role) for role in ROLES}
    return Workbench(sqlite_url, {r: k for r, (_, k) in made.items()}, {r: i.id for r, (i, _) in made.items()})


@pytest.fixture
def client(bench: Workbench) -> Iterator[TestClient]:  # type: ignore[type-arg]
    with bench.client() as c:
        yield c


def token(page: httpx.Response) -> str:
    found = TOKEN.search(page.text)
    assert found is not None, "the page has no form token"
    return found.group(1)


def sign_in(client: TestClient, key: str) -> httpx.Response:  # type: ignore[type-arg]
    form = client.get("/app/login")
    return client.post("/app/login", data={"key": key, "csrf_token": token(form)}, follow_redirects=False)


def claim_form(page: httpx.Response, patient: str) -> dict[str, str]:
    """The fields of the first claim form of a patient's row, as a browser would send them."""
    for form in re.findall(r'<form method="post" action="/app/month/claim".*?</form>', page.text, re.S):
        fields = {k: html.unescape(v) for k, v in re.findall(r'name="([^"]+)" value="([^"]*)"', form)}
        if fields["patient_id"] == patient:
            return fields
    raise AssertionError(f"no claim form for {patient}")


def cookie_header(response: httpx.Response, name: str) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


def test_a_wrong_key_is_refused_with_a_clear_message_and_no_session(client: TestClient) -> None:  # type: ignore[type-arg]
    for key in ("cl_nope_nothing", "not a key at all"):
        answer = sign_in(client, key)
        assert answer.status_code == 401
        assert "That key was not accepted: it is wrong, revoked, or not a Carelane API key." in answer.text
        assert not [c for c in answer.headers.get_list("set-cookie") if c.startswith("carelane_session=")]
    assert client.get("/app/month", follow_redirects=False).headers["location"] == "/app/login"


def test_a_good_key_sets_an_httponly_samesite_strict_session_cookie(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    answer = sign_in(client, bench.keys["biller"])
    assert answer.status_code == 303 and answer.headers["location"] == "/app/month"
    cookie = cookie_header(answer, "carelane_session")
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/app", "max-age=28800"} <= attributes
    assert "secure" not in attributes  # served over http here
    secret = bench.keys["biller"].split("_", 2)[2]
    assert all(secret not in c and bench.key_ids["biller"] not in c for c in answer.headers.get_list("set-cookie"))
    page = client.get(f"/app/month?month={MONTH}")
    assert page.status_code == 200 and "Biller's month: 2026-03" in page.text
    assert "web-biller (biller)" in page.text


def test_over_https_the_cookie_is_secure(bench: Workbench) -> None:
    with bench.client("https://testserver.local") as client:
        cookie = cookie_header(sign_in(client, bench.keys["biller"]), "carelane_session")
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_sign_in_itself_needs_its_form_token(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    client.get("/app/login")
    answer = client.post("/app/login", data={"key": bench.keys["biller"]}, follow_redirects=False)
    assert answer.status_code == 403 and "This form has expired" in answer.text
    assert not [c for c in answer.headers.get_list("set-cookie") if c.startswith("carelane_session=")]


def test_a_post_without_the_csrf_token_is_refused(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["biller"])
    page = client.get(f"/app/month?month={MONTH}")
    form = claim_form(page, "P1")
    assert form["patient_id"] == "P1" and form["lines"] == "99490:1 99439:1"
    for sent in ({k: v for k, v in form.items() if k != "csrf_token"}, form | {"csrf_token": "forged"}):
        refused = client.post("/app/month/claim", data=sent, follow_redirects=False)
        assert refused.status_code == 403 and "This form has expired or did not come from this page" in refused.text
    assert client.post("/app/logout", data={}, follow_redirects=False).status_code == 403
    by_htmx = client.post("/app/month/claim", data=sent, headers={"HX-Request": "true"})
    assert by_htmx.status_code == 403 and by_htmx.headers["hx-retarget"] == "#notice"
    assert by_htmx.text.startswith('<p class="notice error" role="alert">')
    again = client.get(f"/app/month?month={MONTH}")  # still signed in, and nothing was claimed
    assert again.status_code == 200 and "Submit claim 99490, 99439 ($116.00)" in again.text


def test_sign_out_ends_the_session_on_the_server(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["biller"])
    sid = client.cookies.get("carelane_session")
    assert sid
    out = client.post("/app/logout", data={"csrf_token": token(client.get("/app/month"))}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/app/login?signed_out=true"
    assert "max-age=0" in cookie_header(out, "carelane_session").lower()
    assert "You are signed out." in client.get(out.headers["location"]).text
    with bench.client() as other:  # the old cookie, replayed, opens nothing
        other.cookies.set("carelane_session", sid, path="/app")
        assert other.get("/app/month", follow_redirects=False).headers["location"] == "/app/login"
    assert client.get("/app/month", follow_redirects=False).headers["location"] == "/app/login"
    expired = client.post("/app/month/claim", data={"csrf_token": "x"}, headers={"HX-Request": "true"})
    assert expired.status_code == 401 and expired.headers["hx-redirect"] == "/app/login"


def test_a_recorder_gets_a_403_page_on_the_billers_month(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    answer = sign_in(client, bench.keys["recorder"])
    assert answer.headers["location"] == "/app"
    assert "with the recorder role" in client.get("/app").text
    for path in (f"/app/month?month={MONTH}", f"/app/month.csv?month={MONTH}"):
        refused = client.get(path)
        assert refused.status_code == 403
        assert "Your role, recorder, may not see this page: it needs biller." in refused.text
    assert "P1" not in TOKEN.sub("", refused.text)  # the page names no patient (a random token may hold "P1")


def test_revoking_the_key_ends_its_sessions(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["biller"])
    assert client.get("/app/month").status_code == 200
    assert Keys(open_views(open_ledger(bench.url), bench.url)).revoke(bench.key_ids["biller"])
    assert client.get("/app/month", follow_redirects=False).headers["location"] == "/app/login"


def test_a_claim_without_javascript_and_the_page_escapes_what_it_shows(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    """A plain form post records the claim and returns to the month page with its answer;
    the same form sent again is the same submission; every value is escaped; reads are logged."""
    sign_in(client, bench.keys["biller"])
    page = client.get(f"/app/month?month={MONTH}&status=billable&sort=total")
    assert "&lt;b&gt;P3&lt;/b&gt;" in page.text and "<b>P3</b>" not in page.text
    form = claim_form(page, "P1")
    sent = client.post("/app/month/claim", data=form | {"back": form["back"] + "&x=\r\nSet-Cookie: a=b"},
                       follow_redirects=False)  # fmt: skip
    assert (
        sent.status_code == 303 and sent.headers["location"] == f"/app/month?month={MONTH}&status=billable&sort=total"
    )
    shown = client.get(f"/app/month?month={MONTH}")
    assert f"claim {form['claim_id']} (99490, 99439) is recorded" in shown.text
    assert "is recorded" not in client.get(f"/app/month?month={MONTH}").text  # shown once
    twice = client.post("/app/month/claim", data=form, headers={"HX-Request": "true"})
    assert "this form had been sent already" in twice.text and twice.text.lstrip().startswith("<tbody")
    csv = client.get(f"/app/month.csv?month={MONTH}&status=claimed")
    assert csv.headers["content-disposition"] == f'attachment; filename="worklist-{MONTH}.csv"'
    assert csv.text.splitlines()[0].startswith("patient_id,month,lane") and len(csv.text.splitlines()) == 2
    reads = AccessLog(open_views(open_ledger(bench.url), bench.url)).of("P1")
    assert {r.route for r in reads} >= {"GET /app/month", "GET /app/month.csv"}


def test_bad_filters_get_a_page_in_words(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["biller"])
    for query, message in [("month=2026-13", "month: expected a month such as 2026-03"),
                           ("month=2026-03&status=maybe", "status: expected one of billable"),
                           ("month=2026-03&provider=12", "provider: expected a 10-digit NPI")]:  # fmt: skip
        answer = client.get(f"/app/month?{query}")
        assert answer.status_code == 400 and message in answer.text and "^" not in answer.text


def test_a_claim_for_a_patient_not_on_the_worklist_is_answered_in_full(bench: Workbench, client: TestClient) -> None:  # type: ignore[type-arg]
    sign_in(client, bench.keys["biller"])
    form = claim_form(client.get(f"/app/month?month={MONTH}"), "P1")
    answer = client.post("/app/month/claim", data=form | {"patient_id": "P9"}, headers={"HX-Request": "true"})
    assert answer.status_code == 200 and f"Claim {form['claim_id']} refused" in answer.text
    assert "P9" not in client.get(f"/app/month?month={MONTH}").text
