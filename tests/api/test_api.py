"""The API against a real uvicorn server, on a SQLite store and a PostgreSQL one.

Every endpoint is called with every role; grades, explanations and summaries are checked against
the store; what-if scoring stores nothing; the override trail is append-only and decides the
effective grade.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from openpyxl import load_workbook

from customer_tiering.api.schemas import Indicators
from tests.api.conftest import LiveApi
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")

ROLES = (None, "viewer", "reviewer", "admin")
RANK = {None: -1, "viewer": 0, "reviewer": 1, "admin": 2}


def some_customer(api: LiveApi, changed: bool | None = None) -> str:
    """The first customer of the latest rating (whose grade changed, or did not, if asked)."""
    frame = api.store.grades(api.rating, columns=["customer_id", "grade", "previous_grade"])
    moved = frame["previous_grade"].notna() & (frame["previous_grade"] != frame["grade"])
    if changed is not None:
        frame = frame[moved if changed else ~moved]
    return str(frame["customer_id"].iloc[0])


def endpoints(api: LiveApi) -> list[tuple[str, str, dict | None, str]]:
    c = some_customer(api)
    return [
        ("GET", f"/v1/customers/{c}", None, "viewer"),
        ("GET", f"/v1/customers/{c}/explanation", None, "viewer"),
        ("GET", f"/v1/customers/{c}/history", None, "viewer"),
        ("GET", "/v1/grades", None, "viewer"),
        ("POST", "/v1/score", {"customer_id": "x", "order_count_365d": 3}, "viewer"),
        ("POST", "/v1/score/batch", {"customers": [{"order_count_365d": 3}]}, "viewer"),
        ("GET", "/v1/ratings", None, "viewer"),
        ("GET", f"/v1/ratings/{api.rating}", None, "viewer"),
        ("GET", "/v1/models", None, "viewer"),
        ("GET", "/v1/reviews", None, "reviewer"),
        ("GET", "/v1/reviews/queue", None, "reviewer"),
        ("POST", f"/v1/customers/{c}/overrides", {"new_grade": "VIP", "reason": "r"}, "reviewer"),
        ("POST", f"/v1/customers/{c}/special-rating", {"reason": "大单"}, "reviewer"),
        ("POST", "/v1/admin/models/reload", None, "admin"),
    ]


def test_every_endpoint_enforces_its_role(live_api: LiveApi) -> None:
    for method, path, body, needed in endpoints(live_api):
        for role in ROLES:
            with live_api.client(role) as client:
                response = client.request(method, path, json=body)
            if role is None:
                assert response.status_code == 401, (path, role)
            elif RANK[role] < RANK[needed]:
                assert response.status_code == 403, (path, role)
                assert needed in response.json()["detail"]
            else:
                assert response.status_code in (200, 201), (path, role, response.text)
    with live_api.client(None) as client:
        bad = client.get("/v1/ratings", headers={"X-API-Key": "tk_nope_nope"})
        assert bad.status_code == 401
        assert client.get("/health/live").status_code == 200
        assert client.get("/health/ready").json()["status"] == "ready"
        assert "tiering_http_requests_total" in client.get("/metrics").text


def test_a_customers_grade_explanation_and_history_match_the_store(live_api: LiveApi) -> None:
    customer = some_customer(live_api)
    stored = live_api.store.customer_grade(customer)
    with live_api.client("viewer") as client:
        grade = client.get(f"/v1/customers/{customer}", params={"lang": "en"}).json()
        explanation = client.get(f"/v1/customers/{customer}/explanation").json()
        history = client.get(f"/v1/customers/{customer}/history").json()
        missing = client.get("/v1/customers/NOBODY")
    assert grade["grade"] == stored["grade"] and grade["rating_id"] == live_api.rating
    assert grade["total"] == pytest.approx(stored["total"], abs=1e-12)
    assert grade["policy"]["complaint_response_days"] > 0
    assert grade["reason"].startswith("Largest movers") or grade["reason"].startswith("Close")
    assert abs(sum(r["points"] for r in explanation["rows"]) - explanation["total"]) < 1e-9
    assert explanation["scorecard_points"] + explanation["model_points"] == pytest.approx(
        explanation["total"])
    assert [h["rating_id"] for h in history] == [live_api.earlier_rating, live_api.rating]
    assert missing.status_code == 404 and "NOBODY" in missing.json()["detail"]


def test_grade_lists_filter_page_and_stream(live_api: LiveApi) -> None:
    frame = live_api.store.grades(live_api.rating)
    grade = frame["grade"].value_counts().index[0]
    expected = frame[frame["grade"] == grade]
    with live_api.client("viewer") as client:
        page1 = client.get("/v1/grades", params={"grade": grade, "page_size": 7}).json()
        page2 = client.get("/v1/grades", params={"grade": grade, "page_size": 7, "page": 2}).json()
        changed = client.get("/v1/grades", params={"changed": True, "page_size": 1000}).json()
        as_csv = client.get("/v1/grades", params={"grade": grade, "format": "csv", "lang": "en"})
        as_xlsx = client.get("/v1/grades", params={"grade": grade, "format": "xlsx"})
        invalid = client.get("/v1/grades", params={"page_size": 0})
    assert page1["total_count"] == len(expected) and len(page1["items"]) == 7
    totals = [i["total"] for i in page1["items"] + page2["items"]]
    assert totals == sorted(totals, reverse=True)
    assert not {i["customer_id"] for i in page1["items"]} & {i["customer_id"] for i in page2["items"]}
    assert all(i["grade"] != i["previous_grade"] and i["previous_grade"] for i in changed["items"])
    rows = list(csv.reader(io.StringIO(as_csv.content.decode("utf-8-sig"))))
    assert len(rows) == len(expected) + 1 and rows[0][0] == "Customer ID"
    sheet = load_workbook(io.BytesIO(as_xlsx.content)).worksheets[0]
    assert sheet.max_row == len(expected) + 2
    assert invalid.status_code == 422
    assert invalid.json()["errors"][0]["field"] == "query.page_size"


def test_what_if_scoring_grades_and_explains_without_storing(live_api: LiveApi) -> None:
    before = len(live_api.store.ratings())
    customer = {"customer_id": "W1", "days_since_last_order": 12, "order_count_365d": 20,
                "avg_monthly_units_12m": 12, "yoy_growth": 0.6, "channel_coverage": 9,
                "loyalty": 9, "prospects": 9, "monetary_amount_90d": 90_000,
                "customer_type": "hospital"}
    with live_api.client("viewer") as client:
        one = client.post("/v1/score", json=customer).json()
        batch = client.post("/v1/score/batch", json={"customers": [customer] * 10_000}).json()
        too_many = client.post("/v1/score/batch", json={"customers": [customer] * 10_001})
        wrong = client.post("/v1/score", json={**customer, "loyalty": 11})
        unknown = client.post("/v1/score", json={**customer, "loyality": 3})
        infinite = [client.post(path, content=body, headers={"content-type": "application/json"})
                    for path, body in (
                        ("/v1/score", '{"yoy_growth": Infinity}'),
                        ("/v1/score?explain=false", '{"monetary_amount_365d": -Infinity}'),
                        ("/v1/score/batch", '{"customers": [{"yoy_growth": NaN}]}'))]
    assert abs(sum(r["points"] for r in one["explanation"]) - one["total"]) < 1e-9
    assert one["grade"] in ("VIP", "core")  # a big, growing, loyal customer
    assert len(batch["results"]) == 10_000
    assert batch["results"][0]["total"] == pytest.approx(one["total"], abs=1e-9)
    assert set(batch["model_versions"]) == {"tiering-segments", "tiering-churn", "tiering-value"}
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "body.customers"
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "body.loyalty"
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "body.loyality"
    # Infinity and NaN are refused naming the field, with or without explanations, single or batch
    assert [r.status_code for r in infinite] == [422, 422, 422]
    assert [r.json()["errors"][0]["field"] for r in infinite] == [
        "body.yoy_growth", "body.monetary_amount_365d", "body.customers[0].yoy_growth"]
    assert len(live_api.store.ratings()) == before


def test_overrides_form_an_append_only_trail_and_decide_the_effective_grade(
        live_api: LiveApi) -> None:
    customer = some_customer(live_api)
    rated = live_api.store.customer_grade(customer)["grade"]
    target = "VIP" if rated != "VIP" else "core"
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    with live_api.client("reviewer") as client:
        made = client.post(f"/v1/customers/{customer}/overrides",
                           json={"new_grade": target, "reason": "战略客户", "expires_at": expires})
        assert made.status_code == 201, made.text
        now = client.get(f"/v1/customers/{customer}").json()
        bad_grade = client.post(f"/v1/customers/{customer}/overrides",
                                json={"new_grade": "Z", "reason": "x"})
        past = client.post(f"/v1/customers/{customer}/overrides",
                           json={"new_grade": target, "reason": "x",
                                 "expires_at": "2000-01-01T00:00:00Z"})
        no_reason = client.post(f"/v1/customers/{customer}/overrides",
                                json={"new_grade": target, "reason": ""})
        second = client.post(f"/v1/customers/{customer}/overrides",
                             json={"new_grade": rated, "reason": "撤销"})
        trail = client.get("/v1/reviews", params={"customer_id": customer}).json()
        after = client.get(f"/v1/customers/{customer}").json()
    entry = made.json()
    assert entry["old_grade"] == rated and entry["new_grade"] == target
    assert entry["reviewer"] == "reviewer-tester" and entry["reason"] == "战略客户"
    assert now["grade"] == target and now["rated_grade"] == rated and now["override_id"]
    assert bad_grade.status_code == 400 and "new_grade" in bad_grade.json()["detail"]
    assert past.status_code == 400 and "expires_at" in past.json()["detail"]
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "body.reason"
    assert second.status_code == 201
    assert [t["new_grade"] for t in trail] == [rated, target]  # newest first, nothing rewritten
    assert trail[0]["old_grade"] == target
    assert after["grade"] == rated


def test_reviewers_accept_or_reject_suggested_changes(live_api: LiveApi) -> None:
    customer = some_customer(live_api, changed=True)
    row = live_api.store.customer_grade(customer)
    with live_api.client("reviewer") as client:
        queue = client.get("/v1/reviews/queue", params={"limit": 1000}).json()
        rejected = client.post(f"/v1/customers/{customer}/review",
                               json={"action": "reject", "reason": "暂不降级"})
        effective = client.get(f"/v1/customers/{customer}").json()
        queue_after = client.get("/v1/reviews/queue", params={"limit": 1000}).json()
        accepted = client.post(f"/v1/customers/{customer}/review",
                               json={"action": "accept", "reason": "复核后同意"})
        final = client.get(f"/v1/customers/{customer}").json()
        unchanged = some_customer(live_api, changed=False)
        nothing = client.post(f"/v1/customers/{unchanged}/review",
                              json={"action": "accept", "reason": "x"})
    assert customer in {q["customer_id"] for q in queue}
    assert rejected.status_code == 201 and effective["grade"] == row["previous_grade"]
    assert customer not in {q["customer_id"] for q in queue_after}
    assert accepted.status_code == 201 and final["grade"] == row["grade"]
    assert nothing.status_code == 400 and "did not change the grade" in nothing.json()["detail"]


def test_a_special_rating_through_the_api_is_stored_with_its_reason(live_api: LiveApi) -> None:
    customer = some_customer(live_api)
    with live_api.client("reviewer") as client:
        made = client.post(f"/v1/customers/{customer}/special-rating",
                           json={"reason": "并购完成"})
        empty = client.post(f"/v1/customers/{customer}/special-rating", json={"reason": ""})
        future = client.post(f"/v1/customers/{customer}/special-rating",
                             json={"reason": "签约", "as_of": "2099-01-01"})
    assert made.status_code == 201, made.text
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "body.as_of"
    assert "in the future" in future.json()["errors"][0]["message"]
    assert made.json()["rating_kind"] == "special"
    record = live_api.store.rating(made.json()["rating_id"])
    assert record.reason == "并购完成 (by reviewer-tester)" and record.customer_id == customer
    assert empty.status_code == 422


def test_rating_summaries_match_the_store(live_api: LiveApi) -> None:
    with live_api.client("viewer") as client:
        listed = client.get("/v1/ratings").json()
        detail = client.get(f"/v1/ratings/{live_api.rating}", params={"lang": "en"}).json()
        missing = client.get("/v1/ratings/99999")
        models = client.get("/v1/models").json()
    assert [r["id"] for r in listed][:2] == [live_api.rating, live_api.earlier_rating]
    shares = live_api.store.grade_shares(live_api.rating)
    assert [s["customers"] for s in detail["grade_shares"]] == shares["customers"].tolist()
    matrix = live_api.store.migration_matrix(live_api.earlier_rating, live_api.rating)
    assert detail["previous_rating_id"] == live_api.earlier_rating
    for f, row in detail["migration"].items():
        for t, count in row.items():
            assert matrix.loc[f, t] == count
    assert missing.status_code == 404
    churn = next(m for m in models["models"] if m["name"] == "tiering-churn")
    assert "model.roc_auc" in churn["metrics"] or any("roc_auc" in k for k in churn["metrics"])


def test_a_what_if_of_rated_customers_own_indicators_gives_their_stored_scores(
        live_api: LiveApi, trained: TrainedEnv) -> None:
    # The what-if reads posted indicators as columns straight from the request; the rating reads
    # the features frame. Both must give the same points and model scores, to the last digits.
    from customer_tiering.rating.runs import clean_data_and_fingerprint, rating_features

    inputs, _ = clean_data_and_fingerprint(trained.clean_dir)
    features = rating_features(inputs, AS_OF).sample(40, random_state=5)
    stored = live_api.store.grades(live_api.rating).set_index("customer_id")
    posted = [{"customer_id": str(row["customer_id"]),
               **{c: (None if pd.isna(v) else v) for c, v in row.items()
                  if c in Indicators.model_fields and c != "customer_id"}}
              for row in features.to_dict(orient="records")]
    with live_api.client("viewer") as client:
        response = client.post("/v1/score/batch", json={"customers": posted})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["customer_id"] for r in results] == [p["customer_id"] for p in posted]
    for r in results:
        row = stored.loc[r["customer_id"]]
        assert r["total"] == pytest.approx(float(row["total"]), abs=1e-9)
        assert r["churn_probability"] == pytest.approx(float(row["churn_probability"]), abs=1e-12)
        assert r["expected_value_next_period"] == pytest.approx(float(row["expected_value"]),
                                                                rel=1e-12)
        assert r["segment"] == row["segment"]
