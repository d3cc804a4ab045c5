"""A property-based fuzzer over the what-if body (``POST /v1/score`` and ``/v1/score/batch``):
whatever JSON arrives, the answer is 200 or a 4xx, never a 5xx, and a 200 grades every customer
with a finite total.

Bodies are drawn by Hypothesis: mostly indicator objects (the real field names, with numbers of
every size and sign, NaN and Infinity tokens, text, null, lists and objects where numbers
belong), sometimes any JSON value at all, sometimes text that is not JSON. They are sent as raw
bytes to a real uvicorn server on a rated SQLite store (its cost budget off, so that the answers
are about the body, not the caller's spending). The bodies of issue 18 are always tried first
(``@example``): random drawing finds a single bad value in a single field only by luck.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from customer_tiering.api.schemas import Indicators
from tests.api.conftest import LiveApi, app_settings, live_server
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")

FIELDS = sorted(Indicators.model_fields)
_SETTINGS = settings(max_examples=150, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.fixture(scope="module")
def api(trained: TrainedEnv, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    base = tmp_path_factory.mktemp("what-if-fuzz")
    settings_ = app_settings(trained, f"sqlite:///{base / 'tiering.db'}", rate_limit_burst=0.0)
    with live_server(settings_, trained.clean_dir, as_ofs=(AS_OF,)) as running:
        yield running


@pytest.fixture(scope="module")
def client(api: LiveApi) -> Iterator[httpx.Client]:
    with api.client("viewer") as opened:
        yield opened


numbers = (st.floats(allow_nan=True, allow_infinity=True)  # NaN and Infinity become tokens
           | st.floats(min_value=-1e4, max_value=1e4)  # where the bands and models live
           | st.integers(min_value=-10**30, max_value=10**30)
           | st.sampled_from([0, -0.0, 1e-320, 5e-324, 1.7976931348623157e308, -1e308, 2**63]))
scalars = st.none() | st.booleans() | numbers | st.text(max_size=40)
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=10)
# A body is a plausible customer with one or two hostile values in it: a body full of them is
# refused for its first, and never shows what one of them does to the scoring.
TEXT_FIELDS = ("customer_id", "customer_type", "region")
extremes = st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e308, 5e-324, 2**63,
                            10**30, -(10**30), -1, 1e15])
hostile = st.one_of(extremes, extremes, numbers, scalars, json_values)


def _plausible(name: str) -> st.SearchStrategy[Any]:
    """Values a real customer could have: within the field's own bounds, up to 5,000."""
    if name in TEXT_FIELDS:
        return st.sampled_from(["hospital", "clinic", "pharmacy", "华东", "C0000042"])
    bounds = next(s for s in Indicators.model_json_schema()["properties"][name]["anyOf"]
                  if s.get("type") == "number")
    low, high = bounds.get("minimum", -5_000), min(bounds.get("maximum", 5_000), 5_000)
    return st.none() | st.floats(min_value=low, max_value=high) | st.integers(
        math.ceil(low), math.floor(high))


plausible = {name: _plausible(name) for name in FIELDS}


@st.composite
def indicators(draw: st.DrawFn) -> dict[str, Any]:
    """An indicator object: plausible values, then one or two replaced by hostile ones."""
    body: dict[str, Any] = draw(st.fixed_dictionaries({}, optional=plausible))
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=0, max_size=2, unique=True)):
        body[name] = draw(hostile)
    return body


noisy_indicators = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=12), hostile,
                                   max_size=10)
"""Anything under indicator names and others."""


def _encode(body: Any) -> bytes:
    """JSON as a careless client writes it: NaN and Infinity as bare tokens, which Python's
    parser (and so the server's) accepts."""
    return json.dumps(body, allow_nan=True, ensure_ascii=False).encode("utf-8", "surrogatepass")


def _post(client: httpx.Client, path: str, content: bytes, explain: bool) -> httpx.Response:
    return client.post(path, content=content, params={"explain": explain},
                       headers={"content-type": "application/json"})


def _assert_graded_or_refused(response: httpx.Response) -> list[dict[str, Any]]:
    """The answer is 200 or 4xx; a 200's results, each with a finite total."""
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        assert 400 <= response.status_code < 500 and "detail" in response.json()
        return []
    answer = response.json()
    results: list[dict[str, Any]] = answer.get("results", [answer])
    for result in results:
        total = result["total"]
        assert isinstance(total, (int, float)) and math.isfinite(total), result
        assert result["grade"], result
    return results


@_SETTINGS
@given(body=st.one_of(indicators(), indicators(), noisy_indicators, json_values,
                     st.text(max_size=60).map(lambda t: t.encode())),
       explain=st.booleans())
@example(body={"yoy_growth": math.inf}, explain=True)  # issue 18: a 500 and a reset connection
@example(body={"monetary_amount_365d": -math.inf}, explain=False)  # issue 18: 200, null total
@example(body={"monetary_amount_90d": 1e308, "monetary_amount_365d": 1e308}, explain=True)
def test_any_what_if_body_is_graded_with_a_finite_total_or_refused_with_a_4xx(
        client: httpx.Client, body: Any, explain: bool) -> None:
    content = body if isinstance(body, bytes) else _encode(body)
    _assert_graded_or_refused(_post(client, "/v1/score", content, explain))


@_SETTINGS
@given(body=st.one_of(
    st.fixed_dictionaries({"customers": st.lists(indicators(), min_size=0, max_size=6)}),
    st.fixed_dictionaries({"customers": st.lists(noisy_indicators, max_size=3)}),
    st.dictionaries(st.just("customers") | st.text(max_size=10), json_values, max_size=2),
    json_values),
       explain=st.booleans())
@example(body={"customers": [{"yoy_growth": math.nan}]}, explain=False)  # issue 18
def test_any_batch_body_grades_every_customer_with_a_finite_total_or_is_refused(
        client: httpx.Client, body: Any, explain: bool) -> None:
    results = _assert_graded_or_refused(_post(client, "/v1/score/batch", _encode(body), explain))
    if results:
        assert len(results) == len(body["customers"])
