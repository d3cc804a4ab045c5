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
