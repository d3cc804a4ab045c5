"""Pages against a real server, as a browser's HTTP would see them: the security headers on every
answer, and a session that ends on the server when its user signs out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.api.conftest import LiveApi, app_settings, live_server
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")


@pytest.fixture(scope="module")
def api(trained: TrainedEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    base = tmp_path_factory.mktemp("web-security")
    settings = app_settings(trained, f"sqlite:///{base / 'tiering.db'}")
    with live_server(settings, trained.clean_dir, as_ofs=(AS_OF,)) as running:
        yield running


def _csrf(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


@contextmanager
def _signed_in(api: LiveApi, role: str) -> Iterator[httpx.Client]:
    """A client holding the session cookie of a fresh sign-in with ``role``'s key."""
    with httpx.Client(base_url=api.url, follow_redirects=False, timeout=60) as client:
        token = _csrf(client.get("/login"))
        answer = client.post("/login", data={"api_key": api.keys[role], "csrf": token})
        assert answer.status_code == 303 and answer.headers["location"] == "/"
        yield client


def _a_customer(api: LiveApi) -> str:
    return str(api.store.grades(api.rating, columns=["customer_id"])["customer_id"].iloc[0])


def test_pages_and_the_api_forbid_framing_referrers_caching_and_sniffing(api: LiveApi) -> None:
    customer = _a_customer(api)
    with _signed_in(api, "reviewer") as browser, api.client("viewer") as caller:
        answers = {
            "login page": httpx.get(f"{api.url}/login"),
            "grade list": browser.get("/grades"),
            "customer page": browser.get(f"/customers/{customer}"),
            "rating page": browser.get("/ratings"),
            "audit page": browser.get("/audit"),
            "error page": browser.get("/customers/NOBODY"),
            "csv export": browser.get("/v1/grades", params={"format": "csv"}),
            "api grade": caller.get(f"/v1/customers/{customer}"),
            "api refusal": httpx.get(f"{api.url}/v1/grades"),
        }
        style = browser.get("/static/style.css")
    for name, answer in answers.items():
        assert answer.status_code in (200, 401, 404), (name, answer.status_code)
        headers = answer.headers
        assert headers["x-frame-options"] == "DENY", name
        assert "frame-ancestors 'none'" in headers["content-security-policy"], name
        assert headers["referrer-policy"] in ("no-referrer", "same-origin"), name
        assert headers["cache-control"] == "no-store", name
        assert headers["x-content-type-options"] == "nosniff", name
    # packaged styles hold no customer data: a browser may keep them
    assert style.status_code == 200 and "no-store" not in style.headers.get("cache-control", "")
    assert style.headers["x-frame-options"] == "DENY"


def test_a_session_cookie_copied_before_sign_out_does_not_work_after_it(api: LiveApi) -> None:
    customer = _a_customer(api)
    with _signed_in(api, "reviewer") as browser:
        copied = dict(browser.cookies)
        with httpx.Client(base_url=api.url, cookies=copied, follow_redirects=False) as thief:
            assert thief.get("/grades").status_code == 200  # the copy works while signed in
            assert thief.get("/v1/grades", params={"format": "csv"}).status_code == 200
        token = _csrf(browser.get("/grades"))
        out = browser.post("/logout", data={"csrf": token})
        assert out.status_code == 303 and out.headers["location"] == "/login"
    with httpx.Client(base_url=api.url, cookies=copied, follow_redirects=False) as thief:
        page = thief.get("/grades")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")
        assert thief.get(f"/customers/{customer}").status_code == 303
        export = thief.get("/v1/grades", params={"format": "csv"})
        assert export.status_code == 401
        # nor can the copy change anything: a form post with its own token goes to sign-in
        form = thief.post(f"/customers/{customer}/override",
                          data={"new_grade": "VIP", "reason": "x", "csrf": token})
        assert form.status_code == 303 and form.headers["location"] == "/login"
    from customer_tiering.rating.reviews import audit_log

    assert audit_log(api.store, customer_id=customer).empty


def test_signing_in_again_after_sign_out_gives_a_new_working_session(api: LiveApi) -> None:
    with _signed_in(api, "viewer") as first:
        old = dict(first.cookies)
        first.post("/logout", data={"csrf": _csrf(first.get("/grades"))})
    with _signed_in(api, "viewer") as second:
        assert second.get("/grades").status_code == 200
        assert dict(second.cookies) != old


def test_a_revoked_key_ends_its_signed_in_sessions(api: LiveApi) -> None:
    from customer_tiering.store.keys import create_key, revoke_key

    key = create_key(api.store, "viewer", "to be revoked")
    with httpx.Client(base_url=api.url, follow_redirects=False, timeout=60) as browser:
        token = _csrf(browser.get("/login"))
        browser.post("/login", data={"api_key": key, "csrf": token})
        assert browser.get("/grades").status_code == 200
        revoke_key(api.store, key.split("_")[1])
        assert browser.get("/grades").status_code == 303
