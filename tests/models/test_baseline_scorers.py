"""Baselines that serve: exact explanations, the same ranking as the gate's baselines, finite
scores for a customer with nothing on record."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from customer_tiering.models.baseline_scorers import (
    CHURN_SCORERS,
    VALUE_FLOOR,
    VALUE_SCORERS,
    BaselineChurnScorer,
    BaselineValueScorer,
    exact_shapley,
)
from customer_tiering.models.baselines import (
    last_period_value,
    recency_rule_value,
    rfm_quintile_score,
)
from tests.support.synthetic import make_snapshots


@pytest.fixture(scope="module")
def snapshots() -> pd.DataFrame:
    return make_snapshots(n_customers=800, n_snapshots=3, seed=4)


def test_exact_shapley_of_a_product_splits_the_interaction_evenly() -> None:
    X = np.array([[2.0, 3.0, 5.0], [1.0, -1.0, 0.5]])
    values = exact_shapley(lambda z: z[:, 0] * z[:, 1] + z[:, 2], X, np.zeros(3))
    np.testing.assert_allclose(values[:, 0], X[:, 0] * X[:, 1] / 2)
    np.testing.assert_allclose(values[:, 1], X[:, 0] * X[:, 1] / 2)
    np.testing.assert_allclose(values[:, 2], X[:, 2])
    np.testing.assert_allclose(values[:, 3], 0.0)


def test_exact_shapley_adds_up_to_the_score_against_any_reference() -> None:
    rng = np.random.default_rng(0)
    X, ref = rng.normal(size=(50, 4)), rng.normal(size=4)

    def score(z: np.ndarray) -> np.ndarray:
        return np.sin(z[:, 0]) * z[:, 1] ** 2 + np.exp(z[:, 2] - z[:, 3])

    np.testing.assert_allclose(exact_shapley(score, X, ref).sum(axis=1), score(X), atol=1e-12)


@pytest.mark.parametrize("kind", sorted(CHURN_SCORERS))
def test_churn_scorers_explain_exactly_and_stay_finite_without_data(kind: str,
                                                                     snapshots: pd.DataFrame
                                                                     ) -> None:
    model = BaselineChurnScorer(kind=kind, horizon_days=90).fit(snapshots, snapshots["churned"])
    latest = snapshots[snapshots["as_of"] == snapshots["as_of"].max()]
    p = model.predict_proba(latest)[:, 1]
    contrib = model.calibrated_contributions(latest)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), logit(p), atol=1e-9)
    assert list(contrib.columns) == [*CHURN_SCORERS[kind], "bias"]
    assert roc_auc_score(latest["churned"], p) > 0.6
    empty = pd.DataFrame([{c: np.nan for c in CHURN_SCORERS[kind]}])
    assert np.isfinite(model.predict_proba(empty)).all()
    assert set(model.reference_profile_) == {*CHURN_SCORERS[kind], "churn_probability"}
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(latest), model.predict_proba(latest))
    assert clone(model).get_params() == model.get_params()


def test_the_served_rfm_score_ranks_like_the_gates_rfm_score(snapshots: pd.DataFrame) -> None:
    latest = snapshots[snapshots["as_of"] == snapshots["as_of"].max()].reset_index(drop=True)
    model = BaselineChurnScorer(kind="rfm_score").fit(latest, latest["churned"])
    gate = 18.0 - rfm_quintile_score(latest)
    served = model.predict_proba(latest)[:, 1]
    assert roc_auc_score(latest["churned"], served) == pytest.approx(
        roc_auc_score(latest["churned"], gate), abs=0.01)
    assert model.platt_[0] > 0  # more RFM points (a better customer) is less churn


@pytest.mark.parametrize("kind", sorted(VALUE_SCORERS))
def test_value_scorers_explain_exactly_and_floor_at_a_tiny_positive_amount(
        kind: str, snapshots: pd.DataFrame) -> None:
    model = BaselineValueScorer(kind=kind, horizon_days=90).fit(snapshots,
                                                                snapshots["future_amount"])
    latest = snapshots[snapshots["as_of"] == snapshots["as_of"].max()]
    v = model.predict(latest)
    assert (v >= VALUE_FLOOR).all()
    contrib = model.contributions(latest)
    np.testing.assert_allclose(contrib.sum(axis=1).to_numpy(), np.log(v), atol=1e-9)
    empty = pd.DataFrame([{c: np.nan for c in VALUE_SCORERS[kind]}])
    assert np.isfinite(np.log(model.predict(empty))).all()


def test_rule_value_scorers_equal_the_gates_rules_above_the_floor(snapshots: pd.DataFrame) -> None:
    latest = snapshots[snapshots["as_of"] == snapshots["as_of"].max()].reset_index(drop=True)
    for kind, rule in (("last_period", last_period_value), ("recency_rule", recency_rule_value)):
        model = BaselineValueScorer(kind=kind, horizon_days=90).fit(latest, latest["future_amount"])
        np.testing.assert_allclose(model.predict(latest),
                                   np.maximum(rule(latest, 90), VALUE_FLOOR), rtol=1e-12)


def test_bgnbd_churn_scorer_carries_its_fitted_parameters(snapshots: pd.DataFrame) -> None:
    model = BaselineChurnScorer(kind="bgnbd").fit(snapshots, snapshots["churned"])
    described = model.describe()
    assert set(described["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert described["inputs"] == list(CHURN_SCORERS["bgnbd"])
    # customers with more repeat purchases and a recent last one are less likely to churn
    rows = pd.DataFrame({"repeat_purchase_days": [10.0, 0.0], "days_first_to_last_purchase":
                         [300.0, 0.0], "days_since_first_purchase": [310.0, 310.0]})
    p = model.predict_proba(rows)[:, 1]
    assert p[0] < p[1]
    assert expit(model.raw_score(rows)) == pytest.approx(p)


def test_an_unknown_kind_is_refused(snapshots: pd.DataFrame) -> None:
    with pytest.raises(Exception, match="must be one of"):
        BaselineChurnScorer(kind="oracle").fit(snapshots, snapshots["churned"])
