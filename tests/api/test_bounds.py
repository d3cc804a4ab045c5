"""Every number, date and text the API and the pages take is bounded, and a value outside is
refused with 422 naming the field, never answered with 500 (real server, SQLite and PostgreSQL:
PostgreSQL cannot hold or compare a NUL character, SQLite can)."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.api.conftest import LiveApi
from tests.api.test_api import some_customer

pytestmark = pytest.mark.xdist_group("rating")


def _numbers(schema: dict[str, Any], spec: dict[str, Any], where: str) -> list[tuple[str, dict]]:
    """Every numeric schema inside ``schema`` (following ``$ref`` into ``spec``), by place."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _numbers(spec["components"]["schemas"][name], spec, where)
    found = []
    if schema.get("type") in ("number", "integer"):
        found.append((where, schema))
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += _numbers(option, spec, where)
    for name, sub in schema.get("properties", {}).items():
        found += _numbers(sub, spec, f"{where}.{name}")
    if "items" in schema:
        found += _numbers(schema["items"], spec, f"{where}[]")
    return found


def test_every_number_the_api_takes_has_a_lower_and_an_upper_bound(live_api: LiveApi) -> None:
    spec = httpx.get(f"{live_api.url}/openapi.json").json()
    unbounded = []
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            places = [(f"{p['in']}.{p['name']}", p["schema"])
                      for p in operation.get("parameters", [])]
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                places.append(("body", body["schema"]))
            for where, schema in places:
                for field, number in _numbers(schema, spec, where):
                    low = "minimum" in number or "exclusiveMinimum" in number
                    high = "maximum" in number or "exclusiveMaximum" in number
                    if not (low and high):
                        unbounded.append(f"{method.upper()} {path} {field}")
    assert unbounded == []


def _field(response: httpx.Response) -> str:
    assert response.status_code == 422, (response.status_code, response.text)
    return str(response.json()["errors"][0]["field"])


def test_numbers_dates_and_text_out_of_bounds_get_422_naming_the_field(live_api: LiveApi) -> None:
    customer = some_customer(live_api)
    with live_api.client("reviewer") as client:
        def post(path: str, body: object) -> httpx.Response:
            return client.post(path, json=body)

        assert _field(post("/v1/score", {"monetary_amount_365d": 1e308})) == (
            "body.monetary_amount_365d")
        assert _field(post("/v1/score?explain=false", {"avg_monthly_units_12m": -1e300})) == (
            "body.avg_monthly_units_12m")
        assert _field(post("/v1/score/batch", {"customers": [
            {}, {"days_since_last_order": 1e6}]})) == "body.customers[1].days_since_last_order"
        assert _field(post("/v1/score", {"order_count_365d": 1e12})) == "body.order_count_365d"
        assert _field(post("/v1/score", {"yoy_growth": 1e300})) == "body.yoy_growth"
        assert _field(post("/v1/score", {"region": "华东\x00"})) == "body.region"
        # an expiry whose time zone shift leaves the calendar (was a 500)
        assert _field(post(f"/v1/customers/{customer}/overrides", {
            "new_grade": "VIP", "reason": "r", "expires_at": "9999-12-31T23:59:59-12:00"})) == (
            "body.expires_at")
        # a rating dated before features can look back two years (was a 500)
        assert _field(post(f"/v1/customers/{customer}/special-rating",
                           {"reason": "r", "as_of": "0001-01-01"})) == "body.as_of"
        # NUL in text: stored by SQLite, a 500 from PostgreSQL; now refused on both
        assert _field(post(f"/v1/customers/{customer}/overrides",
                           {"new_grade": "VIP", "reason": "a\x00b"})) == "body.reason"
        assert _field(post(f"/v1/customers/{customer}/review",
                           {"action": "accept", "reason": "\x00"})) == "body.reason"
        # other control characters: stored, then the XLSX export of the rating failed (a 500)
        assert _field(post(f"/v1/customers/{customer}/special-rating",
                           {"reason": "签约\x03"})) == "body.reason"
        assert _field(client.get("/v1/customers/C1%00")) == "path.customer_id"
        assert _field(client.get(f"/v1/customers/{'x' * 129}/history")) == "path.customer_id"
        assert _field(client.get("/v1/grades", params={"region": "\x00"})) == "query.region"
        assert _field(client.get("/v1/reviews", params={"customer_id": "\x00"})) == (
            "query.customer_id")
        assert _field(client.get("/v1/ratings/3000000000")) == "path.rating_id"
    assert live_api.store.customer_history(customer)["kind"].tolist().count("special") == 0


def _signed_in(client: httpx.Client, key: str) -> None:
    form = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
    client.post("/login", data={"api_key": key, "csrf": token})


def test_pages_refuse_out_of_bounds_input_with_an_error_page(live_api: LiveApi) -> None:
    with httpx.Client(base_url=live_api.url, follow_redirects=False, timeout=60) as client:
        form = client.get("/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)  # type: ignore[union-attr]
        # a key id with a NUL is no key (was a 500 from PostgreSQL)
        wrong = client.post("/login", data={"api_key": "tk_\x00_secret", "csrf": token})
        assert wrong.status_code in (401, 422), wrong.status_code
        _signed_in(client, live_api.keys["reviewer"])
        for path in ("/grades?page=100000000000000000000", "/grades?region=%00",
                     "/ratings/100000000000000000000", "/customers/C1%00"):
            answer = client.get(path)
            assert answer.status_code == 422, (path, answer.status_code)
            assert answer.headers["content-type"].startswith("text/html")
            assert 'id="error"' in answer.text, path
        assert client.get("/grades").status_code == 200
