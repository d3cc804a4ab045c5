"""Baselines: hand-computed rules, row alignment, point-in-time cut, BG/NBD ranking."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from customer_tiering.models import baselines as bl
from customer_tiering.models.clv import summary_from_transactions
from customer_tiering.models.evaluation import capture_at, roc_auc

AS_OF = pd.Timestamp("2024-06-30")


def rating_features(**cols: list[float]) -> pd.DataFrame:
    n = len(next(iter(cols.values())))
    base = {"days_since_last_order": [10.0] * n, "order_count_365d": [1.0] * n,
            "monetary_amount_90d": [0.0] * n, "monetary_amount_180d": [0.0] * n,
            "monetary_amount_365d": [0.0] * n}
    base.update(cols)
    return pd.DataFrame(base)


def test_rfm_quintiles_on_hand_case_with_ties() -> None:
    f = rating_features(days_since_last_order=[1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                  order_count_365d=[0, 0, 0, 0, 0, 0, 0, 0, 5, 9],
                  monetary_amount_365d=[10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
    score = bl.rfm_quintile_score(f)
    r = np.array([5, 5, 4, 4, 3, 3, 2, 2, 1, 1])
    # eight tied zeros: average rank 4.5 of 10 -> pct .45 -> quintile 3; then 9/10 -> 5, 10/10 -> 5
    fq = np.array([3, 3, 3, 3, 3, 3, 3, 3, 5, 5])
    m = np.array([1, 1, 2, 2, 3, 3, 4, 4, 5, 5])
    np.testing.assert_array_equal(score, r + fq + m)
    assert score.min() >= 3 and score.max() <= 15


def test_rfm_quintiles_are_computed_within_each_snapshot() -> None:
    one = rating_features(days_since_last_order=[5, 50, 500, 1, 2],
                    order_count_365d=[3, 2, 1, 5, 4], monetary_amount_365d=[3, 2, 1, 5, 4])
    stacked = pd.concat([one.assign(as_of="2024-01-01"),
                         one.assign(monetary_amount_365d=one["monetary_amount_365d"] * 1000,
                                    as_of="2024-04-01")], ignore_index=True)
    score = bl.rfm_quintile_score(stacked)
    np.testing.assert_array_equal(score[:5], score[5:])  # a rescaled snapshot ranks the same
    # R from days 5,50,500,1,2 -> 3,2,1,5,4; F and M -> 3,2,1,5,4
    np.testing.assert_array_equal(score[:5], [9, 6, 3, 15, 12])


def test_rfm_score_does_not_depend_on_row_order() -> None:
    rng = np.random.default_rng(0)
    f = rating_features(days_since_last_order=list(rng.integers(0, 50, 200).astype(float)),
                  order_count_365d=list(rng.integers(0, 4, 200).astype(float)),
                  monetary_amount_365d=list(rng.integers(0, 3, 200).astype(float)))
    perm = rng.permutation(200)
    np.testing.assert_array_equal(bl.rfm_quintile_score(f)[perm],
                                  bl.rfm_quintile_score(f.iloc[perm]))


def test_recency_rules_on_hand_case() -> None:
    f = rating_features(days_since_last_order=[3.0, 170.0, 200.0, np.nan],
                  monetary_amount_365d=[365.0, 730.0, 1000.0, 0.0])
    np.testing.assert_array_equal(bl.recency_churn_score(f), [3, 170, 200, 201])
    # threshold 2 x 90 = 180 days: the third customer has lapsed
    np.testing.assert_allclose(bl.recency_rule_value(f, 90), [90.0, 180.0, 0.0, 0.0])


@pytest.mark.parametrize(("horizon", "expected"), [(90, [90.0, 0.0]), (180, [360.0, 0.0]),
                                                   (120, [120.0, 0.0]), (365, [730.0, 0.0])])
def test_last_period_value_uses_the_closest_window(horizon: int, expected: list[float]) -> None:
    f = rating_features(monetary_amount_90d=[90.0, -50.0], monetary_amount_180d=[360.0, -50.0],
                  monetary_amount_365d=[730.0, -50.0])
    np.testing.assert_allclose(bl.last_period_value(f, horizon), expected)


def _transactions(n: int, seed: int) -> pd.DataFrame:
    """Customers buying at their own rate, some stopping for good; two years of orders."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01")
    rows = []
    for i in range(n):
        rate = rng.gamma(0.8, 1 / 30)
        stop = rng.uniform(0, 900) if rng.uniform() < 0.5 else 10_000
        spend = rng.lognormal(6, 0.5)
        t = rng.uniform(0, 300)
        while t < min(stop, 730):
            rows.append((f"C{i:04d}", start + pd.Timedelta(days=int(t)), spend * rng.gamma(4, .25)))
            t += rng.exponential(1 / rate)
    return pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])


def _features_from(tx: pd.DataFrame, ids: list[str], as_of: pd.Timestamp) -> pd.DataFrame:
    past = tx[tx["order_date"] <= as_of]
    out = pd.DataFrame({"customer_id": ids, "as_of": as_of})
    last = past.groupby("customer_id")["order_date"].max()
    out["days_since_last_order"] = (as_of - out["customer_id"].map(last)).dt.days.astype(float)
    for w in (90, 180, 365):
        recent = past[past["order_date"] > as_of - pd.Timedelta(days=w)]
        out[f"monetary_amount_{w}d"] = out["customer_id"].map(
            recent.groupby("customer_id")["amount"].sum()).fillna(0.0)
        if w == 365:
            out["order_count_365d"] = out["customer_id"].map(
                recent.groupby("customer_id").size()).fillna(0).astype(float)
    return out


@pytest.fixture(scope="module")
def world() -> tuple[pd.DataFrame, pd.DataFrame]:
    tx = _transactions(1500, seed=3)
    ids = [f"C{i:04d}" for i in range(1500)] + ["NEVER"]
    return tx, _features_from(tx, ids, AS_OF)


def test_baselines_are_aligned_with_feature_rows(world: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    tx, feats = world
    perm = np.random.default_rng(1).permutation(len(feats))
    full = bl.churn_baselines(feats, tx, horizon_days=90)
    shuffled = bl.churn_baselines(feats.iloc[perm].reset_index(drop=True), tx, horizon_days=90)
    for name in full:
        np.testing.assert_allclose(shuffled[name], full[name][perm], rtol=1e-8, err_msg=name)
    assert set(full) == {"days_since_last_order", "rfm_score", "bgnbd"}
    never = feats.index[feats["customer_id"] == "NEVER"][0]
    assert full["bgnbd"][never] == 1.0
    assert bl.value_baselines(feats, tx)["bgnbd_gamma_gamma"][never] == 0.0


def test_bgnbd_baseline_equals_the_models_on_the_summary(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    tx, feats = world
    summary = summary_from_transactions(tx, AS_OF, customer_ids=feats["customer_id"])
    churn, value = bl.bgnbd_scores(summary, 90)
    np.testing.assert_allclose(bl.churn_baselines(feats, tx, horizon_days=90)["bgnbd"], churn)
    np.testing.assert_allclose(bl.value_baselines(feats, tx, as_of=AS_OF)["bgnbd_gamma_gamma"],
                               value)
    assert ((churn >= 0) & (churn <= 1)).all()


def test_baselines_ignore_transactions_after_as_of(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    tx, feats = world
    future_junk = pd.DataFrame({"customer_id": ["C0000", "NEVER"] * 50,
                                "order_date": AS_OF + pd.Timedelta(days=1),
                                "amount": 1e6})
    a = bl.value_baselines(feats, tx)
    b = bl.value_baselines(feats, pd.concat([tx, future_junk], ignore_index=True))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_baselines_rank_the_future_better_than_chance(
    world: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    tx, feats = world
    window = tx[(tx["order_date"] > AS_OF) & (tx["order_date"] <= AS_OF + pd.Timedelta(days=90))]
    future = feats["customer_id"].map(window.groupby("customer_id")["amount"].sum()).fillna(0.0)
    churned = (future <= 0).astype(int).to_numpy()
    for name, score in bl.churn_baselines(feats, tx).items():
        assert roc_auc(churned, score) > 0.7, name
    for name, score in bl.value_baselines(feats, tx).items():
        assert capture_at(future.to_numpy(), score, 0.2) > 0.4, name


def test_recency_logistic_recovers_a_logistic_truth() -> None:
    rng = np.random.default_rng(8)
    days = rng.uniform(0, 400, 20_000)
    p = 1 / (1 + np.exp(-(-4.0 + 1.0 * np.log1p(days))))
    y = (rng.uniform(size=days.size) < p).astype(int)
    f = rating_features(days_since_last_order=list(days))
    model = clone(bl.RecencyLogistic()).fit(f, y)
    coef = model.model_.coef_[0, 0]
    assert coef == pytest.approx(1.0, abs=0.1)
    proba = model.predict_proba(f)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.abs(proba[:, 1] - p).max() < 0.05
