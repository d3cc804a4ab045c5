"""What a caller cannot send: bodies above the size limit, however they are framed, and costly
requests past its key's budget.

Against a real uvicorn server on a rated SQLite store whose budget is 100 units a key, regained
so slowly (one unit in 1,000 s) that nothing comes back while the test runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from customer_tiering.store.keys import create_key
from tests.api.conftest import LiveApi, app_settings, live_server
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")


@pytest.fixture(scope="module")
def api(trained: TrainedEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    base = tmp_path_factory.mktemp("limits")
    settings = app_settings(trained, f"sqlite:///{base / 'tiering.db'}",
                            rate_limit_burst=100.0, rate_limit_per_second=0.001)
    with live_server(settings, trained.clean_dir, as_ofs=(AS_OF,)) as running:
        yield running


def _twenty_megabytes() -> bytes:
    return b'{"customers": [' + b'{"order_count_365d": 1},' * 870_000 + b'{}]}'


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_above_the_limit_gets_413_with_or_without_a_length(api: LiveApi,
                                                                   framing: str) -> None:
    body = _twenty_megabytes()
    assert len(body) > 20_000_000 > api.settings.max_body_bytes

    def pieces() -> Iterator[bytes]:  # an iterator has no length: httpx sends it chunked
        for start in range(0, len(body), 65_536):
            yield body[start:start + 65_536]

    content = body if framing == "content-length" else pieces()
    with api.client("viewer") as client:
        response = client.post("/v1/score/batch", content=content,
                               headers={"content-type": "application/json"})
    sent = response.request.headers
    assert ("content-length" in sent) == (framing == "content-length")
    assert ("transfer-encoding" in sent) == (framing == "chunked")
    assert response.status_code == 413, response.text
    assert "larger than" in response.json()["detail"]


def test_a_page_refuses_a_body_above_the_limit_with_an_error_page(api: LiveApi) -> None:
    with api.client(None) as client:
        response = client.post("/login", content=b"api_key=" + b"x" * 17_000_000,
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 413, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="error"' in response.text


WHAT_IF = {"customer_id": "W1", "days_since_last_order": 12, "order_count_365d": 20,
           "loyalty": 9, "monetary_amount_90d": 90_000, "customer_type": "hospital"}


def _fresh_client(api: LiveApi, role: str) -> httpx.Client:
    """A client with a new key of ``role``, so its budget is full (the server is shared)."""
    key = create_key(api.store, role, f"fresh {role}")
    return httpx.Client(base_url=api.url, headers={"X-API-Key": key}, timeout=60)


def _refused_for_budget(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) >= 1
    assert "over its budget" in response.json()["detail"]


def test_a_viewer_posting_explained_batches_past_its_budget_gets_429_with_retry_after(
        api: LiveApi) -> None:
    batch = {"customers": [WHAT_IF] * 60}  # 60 units explained, of the 100 a key may spend
    with _fresh_client(api, "viewer") as viewer, _fresh_client(api, "viewer") as other:
        first = viewer.post("/v1/score/batch", json=batch, params={"explain": True})
        second = viewer.post("/v1/score/batch", json=batch, params={"explain": True})
        one = viewer.post("/v1/score", json=WHAT_IF)  # 1 unit: what is left still buys it
        reads = viewer.get("/v1/grades"), viewer.get("/v1/ratings")  # reads are not charged
        others = other.post("/v1/score/batch", json=batch, params={"explain": True})
    assert first.status_code == 200 and len(first.json()["results"]) == 60
    _refused_for_budget(second)
    assert one.status_code == 200
    assert [r.status_code for r in reads] == [200, 200]
    assert others.status_code == 200  # another key's spending does not touch this one


def test_plain_scores_cost_less_than_explained_ones(api: LiveApi) -> None:
    batch = {"customers": [WHAT_IF] * 120}  # 48 units without explanations, 120 with
    with _fresh_client(api, "viewer") as viewer:
        plain = [viewer.post("/v1/score/batch", json=batch) for _ in range(2)]
        third = viewer.post("/v1/score/batch", json=batch)
    assert [r.status_code for r in plain] == [200, 200]
    _refused_for_budget(third)


def test_special_ratings_and_exports_are_charged_to_the_key(api: LiveApi) -> None:
    customer = str(api.store.grades(api.rating, columns=["customer_id"])["customer_id"].iloc[0])
    with _fresh_client(api, "reviewer") as reviewer:
        made = reviewer.post(f"/v1/customers/{customer}/special-rating", json={"reason": "大单"})
        again = reviewer.post(f"/v1/customers/{customer}/special-rating", json={"reason": "又一单"})
    assert made.status_code == 201, made.text
    _refused_for_budget(again)
    with _fresh_client(api, "viewer") as viewer:
        export = viewer.get("/v1/grades", params={"format": "csv"})
        second = viewer.get("/v1/grades", params={"format": "xlsx"})
    assert export.status_code == 200
    _refused_for_budget(second)
