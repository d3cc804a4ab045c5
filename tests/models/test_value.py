"""ValueModel: Tweedie regression on snapshots; beats last-period value; exact log-scale SHAP."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from customer_tiering.core.errors import TieringError
from customer_tiering.models.value import ValueModel
from tests.support.synthetic import make_snapshots

FAST = {"n_estimators": 200, "learning_rate": 0.1, "early_stopping_rounds": 20}


def _top_capture(y: np.ndarray, score: np.ndarray, share: float = 0.2) -> float:
    """Share of the total positive amount bought by the top ``share`` of customers by score."""
    n = round(share * len(y))
    top = np.argsort(-score, kind="stable")[:n]
    y = np.clip(y, 0, None)
    return float(y[top].sum() / y.sum())


@pytest.fixture(scope="module")
def split() -> tuple[pd.DataFrame, pd.DataFrame]:
    df = make_snapshots(n_customers=1000, n_snapshots=5, seed=11)
    last = df["as_of"].max()
    return df[df["as_of"] < last], df[df["as_of"] == last]


@pytest.fixture(scope="module")
def model(split: tuple[pd.DataFrame, pd.DataFrame]) -> ValueModel:
    train, _ = split
    return ValueModel(**FAST).fit(train, train["future_amount"])


def test_contract_and_defaults(split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    m = ValueModel(tweedie_variance_power=1.3)
    with pytest.raises(NotFittedError):
        m.predict(split[1])
    assert clone(m).get_params()["tweedie_variance_power"] == 1.3
    assert m.max_depth == 5


def test_negative_targets_are_clipped_and_counted(model: ValueModel,
                                                  split: tuple[pd.DataFrame, pd.DataFrame]
                                                  ) -> None:
    train, _ = split
    assert model.n_clipped_ == int((train["future_amount"] < 0).sum()) > 0


def test_predictions_are_positive_expected_amounts_near_the_mean(
        model: ValueModel, split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, test = split
    pred = model.predict(test)
    assert (pred > 0).all()
    # Tweedie with a log link is unbiased in total on data like its training data.
    ratio = pred.sum() / test["future_amount"].clip(lower=0).sum()
    assert 0.8 < ratio < 1.25, ratio


def test_beats_last_period_value_on_top_20_percent_capture(
        model: ValueModel, split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, test = split
    y = test["future_amount"].to_numpy()
    capture_model = _top_capture(y, model.predict(test))
    capture_last = _top_capture(y, test["monetary_amount_90d"].to_numpy())
    assert capture_model > capture_last + 0.01, (capture_model, capture_last)


def test_contributions_sum_to_log_prediction(model: ValueModel,
                                             split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, test = split
    contrib = model.contributions(test)
    np.testing.assert_allclose(contrib.sum(axis=1), model.raw_score(test), rtol=0, atol=1e-9)
    np.testing.assert_allclose(np.exp(model.raw_score(test)), model.predict(test), rtol=1e-12)


def test_additive_value_model_leaf_tables_match_pred_contrib(
        split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = split
    m = ValueModel(**FAST, additive=True).fit(train, train["future_amount"])
    np.testing.assert_allclose(m.contributions(test).to_numpy(), m.pred_contrib(test).to_numpy(),
                               rtol=0, atol=1e-9)


def test_same_seed_identical_and_round_trip_identical(
        model: ValueModel, split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = split
    again = ValueModel(**FAST).fit(train, train["future_amount"])
    np.testing.assert_array_equal(again.predict(test), model.predict(test))
    buf = io.BytesIO()
    joblib.dump(model, buf)
    buf.seek(0)
    np.testing.assert_array_equal(joblib.load(buf).predict(test), model.predict(test))


def test_variance_power_outside_tweedie_range_is_rejected(
        split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, _ = split
    with pytest.raises(TieringError, match="tweedie_variance_power"):
        ValueModel(tweedie_variance_power=2.5).fit(train, train["future_amount"])


def test_as_of_can_be_passed_instead_of_a_column(split: tuple[pd.DataFrame, pd.DataFrame],
                                                 model: ValueModel) -> None:
    train, test = split
    m = ValueModel(**FAST).fit(train.drop(columns=["as_of"]), train["future_amount"],
                               as_of=train["as_of"].to_numpy())
    np.testing.assert_array_equal(m.predict(test), model.predict(test))
