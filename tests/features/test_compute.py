from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer_tiering.features.compute import build_snapshots, compute_features, compute_labels
from customer_tiering.ingest.contract import FEATURE_COLUMNS, LABEL_COLUMNS, SNAPSHOT_KEY
from tests.support.reference_features import reference_features, reference_labels

AS_OF = date(2025, 6, 30)


def random_inputs(seed: int, n_customers: int = 40, n_lines: int = 1_500):
    """Random canonical inputs with returns, missing quantities/products/order ids, customers
    without a master-data row, master rows without transactions, and open complaints."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:03d}" for i in range(n_customers)])
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 1000, n_lines), unit="D")
    amount = np.round(rng.lognormal(6, 1, n_lines), 2)
    amount = np.where(rng.random(n_lines) < 0.08, -amount / 3, amount)
    tx = pd.DataFrame({
        "customer_id": pd.Series(rng.choice(ids[:-5], n_lines), dtype="str"),
        "order_date": days.astype("datetime64[us]"),
        "amount": amount,
        "quantity": np.where(rng.random(n_lines) < 0.1, np.nan, rng.integers(1, 20, n_lines)
                             * np.sign(amount)),
        "product_id": pd.Series(np.where(rng.random(n_lines) < 0.1, None,
                                         rng.choice(["P1", "P2", "P3", "P4", "P5"], n_lines)),
                                dtype="str"),
        "channel": pd.Series(["direct"] * n_lines, dtype="str"),
        "order_id": pd.Series(np.where(rng.random(n_lines) < 0.3, None,
                                       [f"O{k}" for k in rng.integers(0, n_lines // 2, n_lines)]),
                              dtype="str"),
    })
    # an order id belongs to one customer
    tx["order_id"] = tx["order_id"].where(tx["order_id"].isna(), tx["customer_id"] + tx["order_id"])
    cust_ids = np.concatenate([ids[5:]])  # C000..C004 have transactions but no master row
    customers = pd.DataFrame({
        "customer_id": pd.Series(cust_ids, dtype="str"),
        "name": pd.Series([f"name {c}" for c in cust_ids], dtype="str"),
        "customer_type": pd.Series(rng.choice(["hospital", "clinic", "distributor"],
                                              len(cust_ids)), dtype="str"),
        "region": pd.Series(rng.choice(["华东", "华北"], len(cust_ids)), dtype="str"),
        "first_contract_date": (pd.Timestamp("2020-01-01") + pd.to_timedelta(
            rng.integers(0, 2400, len(cust_ids)), unit="D")).astype("datetime64[us]"),
        "channel_coverage": rng.integers(0, 11, len(cust_ids)).astype(float),
        "loyalty": np.where(rng.random(len(cust_ids)) < 0.2, np.nan,
                            rng.integers(0, 11, len(cust_ids))),
        "prospects": rng.integers(0, 11, len(cust_ids)).astype(float),
        "nps": rng.integers(-100, 101, len(cust_ids)).astype(float),
    })
    n_int = 300
    opened = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 1000 * 24, n_int),
                                                           unit="h")
    closed = opened + pd.to_timedelta(rng.integers(1, 24 * 40, n_int), unit="h")
    interactions = pd.DataFrame({
        "customer_id": pd.Series(rng.choice(ids, n_int), dtype="str"),
        "interaction_type": pd.Series(rng.choice(["visit", "complaint", "survey"], n_int),
                                      dtype="str"),
        "opened_at": opened.astype("datetime64[us]"),
        "closed_at": pd.Series(closed).where(rng.random(n_int) > 0.2).astype("datetime64[us]"),
        "score": np.where(rng.random(n_int) < 0.5, np.nan, rng.integers(-100, 101, n_int)),
    })
    return tx, customers, interactions


def assert_frames_match(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    assert list(ours["customer_id"]) == list(ref["customer_id"])
    for col in FEATURE_COLUMNS:
        a, b = ours[col], ref[col]
        if col in ("customer_type", "region"):
            assert list(a.fillna("<na>")) == list(pd.Series(b).fillna("<na>")), col
        else:
            np.testing.assert_allclose(a.to_numpy(float), pd.to_numeric(b).to_numpy(float),
                                       rtol=1e-9, atol=1e-9, err_msg=col)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_features_equal_the_plain_pandas_reference(seed: int) -> None:
    tx, customers, interactions = random_inputs(seed)
    ours = compute_features(tx, customers, interactions, as_of=AS_OF)
    ref = reference_features(tx, customers, interactions, AS_OF)
    assert_frames_match(ours, ref)


def test_features_from_transactions_only_equal_the_reference() -> None:
    tx, _, _ = random_inputs(5)
    tx = tx[["customer_id", "order_date", "amount"]]
    ours = compute_features(tx, as_of=AS_OF)
    full = tx.assign(quantity=np.nan, product_id=None, channel=None, order_id=None)
    ref = reference_features(full, None, None, AS_OF)
    ref[["complaint_count_365d", "open_complaint_count"]] = np.nan
    assert_frames_match(ours, ref)
    interaction_features = ["days_since_last_complaint", "days_since_last_visit",
                            "days_since_last_survey", "last_survey_score"]
    assert ours[interaction_features].isna().all().all()
    assert ours["avg_monthly_units_12m"].isna().all()
    assert ours[["customer_type", "loyalty"]].isna().all().all()
    # without an interactions file complaints are unknown, not zero
    assert ours[["complaint_count_365d", "open_complaint_count"]].isna().all().all()


def test_toy_customer_features_computed_by_hand() -> None:
    tx = pd.DataFrame({
        "customer_id": ["A", "A", "A", "A", "A"],
        "order_date": pd.to_datetime(["2024-05-01", "2025-03-01", "2025-06-01", "2025-06-10",
                                      "2025-06-20"]),
        "amount": [1000.0, 300.0, 600.0, -100.0, 900.0],
        "quantity": [10.0, 3.0, 6.0, -1.0, 9.0],
        "product_id": ["P1", "P1", "P2", "P2", "P3"],
        "order_id": ["o1", "o2", "o3", "o3", "o4"],
    })
    customers = pd.DataFrame({"customer_id": ["A"], "first_contract_date":
                              pd.to_datetime(["2024-01-01"]), "loyalty": [7.0],
                              "customer_type": ["hospital"]})
    interactions = pd.DataFrame({
        "customer_id": ["A", "A", "A"],
        "interaction_type": ["complaint", "complaint", "visit"],
        "opened_at": pd.to_datetime(["2025-06-29 10:00", "2025-01-05 09:00", "2025-06-01 00:00"]),
        "closed_at": pd.to_datetime([None, "2025-01-09 09:00", None]),
    })
    f = compute_features(tx, customers, interactions, as_of=AS_OF).iloc[0]
    assert f["days_since_last_order"] == 10  # 2025-06-20 -> 06-30
    assert (f["order_count_90d"], f["order_count_180d"], f["order_count_365d"]) == (2, 3, 3)
    assert f["monetary_amount_90d"] == 600 - 100 + 900
    assert f["monetary_amount_365d"] == 300 + 600 - 100 + 900
    assert f["avg_monthly_amount_12m"] == pytest.approx(1700 / 12)
    assert f["avg_monthly_units_12m"] == pytest.approx(17 / 12)
    assert f["yoy_growth"] == pytest.approx(1700 / 1000 - 1)
    assert f["tenure_days"] == (date(2025, 6, 30) - date(2024, 1, 1)).days
    gaps = [304, 92, 19]  # 05-01 -> 03-01 -> 06-01 -> 06-20 (06-10 is a return, not an order)
    assert f["mean_days_between_orders"] == pytest.approx(np.mean(gaps))
    assert f["std_days_between_orders"] == pytest.approx(np.std(gaps))
    assert f["distinct_products_365d"] == 3
    assert f["return_share_365d"] == pytest.approx(100 / 1800)
    assert f["complaint_count_365d"] == 2
    assert f["open_complaint_count"] == 1
    assert f["loyalty"] == 7 and f["customer_type"] == "hospital"


def test_customer_without_orders_has_zero_counts_and_null_recency() -> None:
    tx = pd.DataFrame({"customer_id": ["A"], "order_date": pd.to_datetime(["2025-01-01"]),
                       "amount": [10.0]})
    customers = pd.DataFrame({"customer_id": ["A", "B", "LATER"],
                              "first_contract_date": pd.to_datetime(
                                  ["2024-01-01", "2025-02-01", "2025-12-01"])})
    f = compute_features(tx, customers, as_of=AS_OF).set_index("customer_id")
    assert list(f.index) == ["A", "B"]  # LATER signs after as_of: not known yet
    assert np.isnan(f.loc["B", "days_since_last_order"])
    assert f.loc["B", "order_count_365d"] == 0 and f.loc["B", "monetary_amount_365d"] == 0
    assert f.loc["B", "tenure_days"] == (AS_OF - date(2025, 2, 1)).days


later_lines = st.lists(
    st.tuples(
        st.integers(0, 39), st.integers(1, 900),
        st.floats(-1e5, 1e5, allow_nan=False, allow_infinity=False),
    ),
    min_size=1, max_size=30,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=later_lines)
def test_transactions_after_as_of_never_change_any_feature(extra) -> None:
    tx, customers, interactions = random_inputs(11, n_lines=400)
    before = compute_features(tx, customers, interactions, as_of=AS_OF)
    added = pd.DataFrame({
        "customer_id": pd.Series([f"C{c:03d}" for c, _, _ in extra], dtype="str"),
        "order_date": [pd.Timestamp(AS_OF) + pd.Timedelta(days=d) for _, d, _ in extra],
        "amount": [a for _, _, a in extra],
        "quantity": 1.0, "product_id": "PX", "channel": "direct", "order_id": None,
    })
    after = compute_features(pd.concat([tx, added], ignore_index=True), customers, interactions,
                             as_of=AS_OF)
    pd.testing.assert_frame_equal(before, after)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(extra=later_lines)
def test_labels_never_use_data_at_or_before_as_of(extra) -> None:
    tx, customers, _ = random_inputs(12, n_lines=400)
    before = compute_labels(tx, customers, as_of=AS_OF)
    # lines dated on or before as_of, for customers already known (so the population is unchanged)
    added = pd.DataFrame({
        "customer_id": pd.Series([f"C{c % 30 + 5:03d}" for c, _, _ in extra], dtype="str"),
        "order_date": [pd.Timestamp(AS_OF) - pd.Timedelta(days=d - 1) for _, d, _ in extra],
        "amount": [a for _, _, a in extra],
    })
    known = set(before["customer_id"])
    added = added[added["customer_id"].isin(known)]
    after = compute_labels(pd.concat([tx, added], ignore_index=True), customers, as_of=AS_OF)
    pd.testing.assert_frame_equal(before, after)


def test_labels_equal_the_reference_and_follow_the_horizon() -> None:
    tx, customers, _ = random_inputs(3)
    for horizon in (30, 90):
        ours = compute_labels(tx, customers, as_of=AS_OF, horizon_days=horizon)
        ref = reference_labels(tx, list(ours["customer_id"]), AS_OF, horizon)
        assert list(ours["churned"]) == list(ref["churned"])
        np.testing.assert_allclose(ours["future_amount"], ref["future_amount"], rtol=1e-12)
    short = compute_labels(tx, customers, as_of=AS_OF, horizon_days=30)
    long = compute_labels(tx, customers, as_of=AS_OF, horizon_days=90)
    assert (short["churned"] >= long["churned"]).all()
    assert (short["churned"] != long["churned"]).any()


def test_an_order_moved_to_the_day_after_as_of_flips_churned() -> None:
    tx = pd.DataFrame({"customer_id": ["A", "A"],
                       "order_date": pd.to_datetime(["2025-01-01", "2025-06-30"]),
                       "amount": [10.0, 20.0]})
    on_as_of = compute_labels(tx, as_of=AS_OF, horizon_days=30)
    assert on_as_of["churned"].tolist() == [1]
    moved = tx.assign(order_date=pd.to_datetime(["2025-01-01", "2025-07-01"]))
    next_day = compute_labels(moved, as_of=AS_OF, horizon_days=30)
    assert next_day["churned"].tolist() == [0]
    assert next_day["future_amount"].tolist() == [20.0]
    edge = tx.assign(order_date=pd.to_datetime(["2025-01-01", "2025-07-30"]))  # as_of + 30
    assert compute_labels(edge, as_of=AS_OF, horizon_days=30)["churned"].tolist() == [0]
    beyond = tx.assign(order_date=pd.to_datetime(["2025-01-01", "2025-07-31"]))
    assert compute_labels(beyond, as_of=AS_OF, horizon_days=30)["churned"].tolist() == [1]


def test_horizon_must_be_positive() -> None:
    tx, _, _ = random_inputs(0, n_lines=50)
    with pytest.raises(ValueError, match="horizon_days"):
        compute_labels(tx, as_of=AS_OF, horizon_days=0)


def test_stacked_snapshots_are_one_row_per_customer_and_date_and_match_each_snapshot() -> None:
    tx, customers, interactions = random_inputs(4)
    dates = [date(2024, 12, 31), date(2025, 3, 31), date(2025, 6, 30)]
    stacked = build_snapshots(tx, customers, interactions, as_of_dates=dates, horizon_days=60)
    assert not stacked.duplicated(list(SNAPSHOT_KEY)).any()
    assert list(stacked.columns) == [*SNAPSHOT_KEY, *FEATURE_COLUMNS, *LABEL_COLUMNS]
    for day in dates:
        block = stacked[stacked["as_of"] == pd.Timestamp(day)].reset_index(drop=True)
        single = compute_features(tx, customers, interactions, as_of=day)
        pd.testing.assert_frame_equal(block[single.columns], single)
        labels = compute_labels(tx, customers, as_of=day, horizon_days=60)
        pd.testing.assert_frame_equal(block[labels.columns], labels)


def test_features_read_parquet_paths_like_frames(tmp_path) -> None:
    tx, customers, interactions = random_inputs(6)
    tx.to_parquet(tmp_path / "t.parquet")
    customers.to_parquet(tmp_path / "c.parquet")
    interactions.to_parquet(tmp_path / "i.parquet")
    from_files = compute_features(tmp_path / "t.parquet", tmp_path / "c.parquet",
                                  tmp_path / "i.parquet", as_of=AS_OF)
    from_frames = compute_features(tx, customers, interactions, as_of=AS_OF)
    pd.testing.assert_frame_equal(from_files, from_frames)


def test_snapshot_as_of_is_the_date_and_later_dates_see_more() -> None:
    tx, customers, interactions = random_inputs(7)
    early = compute_features(tx, customers, interactions, as_of=AS_OF - timedelta(days=200))
    late = compute_features(tx, customers, interactions, as_of=AS_OF)
    assert (early["as_of"] == pd.Timestamp(AS_OF - timedelta(days=200))).all()
    assert set(early["customer_id"]) <= set(late["customer_id"])


def test_one_customers_features_equal_that_customers_row_of_the_whole_book() -> None:
    tx, customers, interactions = random_inputs(3)
    book = compute_features(tx, customers, interactions, as_of=AS_OF)
    for customer in book["customer_id"].iloc[[0, 7, -1]]:
        one = compute_features(tx, customers, interactions, as_of=AS_OF, customer_id=customer)
        assert_frames_match(one, book[book["customer_id"] == customer].reset_index(drop=True))
    # an unknown id, quotes included, finds nothing and breaks nothing
    odd = compute_features(tx, customers, interactions, as_of=AS_OF,
                           customer_id="O'Brien' OR '1'='1")
    assert odd.empty


def test_the_btyd_triple_equals_the_summary_bgnbd_is_fitted_on() -> None:
    from customer_tiering.models.clv import summary_from_transactions

    tx, customers, interactions = random_inputs(11)
    ours = compute_features(tx, customers, interactions, as_of=AS_OF).set_index("customer_id")
    summary = summary_from_transactions(tx, AS_OF, customer_ids=ours.index)
    pairs = {"repeat_purchase_days": "frequency", "days_first_to_last_purchase": "recency",
             "days_since_first_purchase": "T", "mean_repeat_purchase_amount": "monetary"}
    assert summary["frequency"].notna().sum() > 10
    for feature, column in pairs.items():
        np.testing.assert_allclose(ours[feature].to_numpy(), summary[column].to_numpy(),
                                   rtol=1e-9, atol=1e-9, err_msg=feature)
