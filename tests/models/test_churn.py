"""ChurnModel: sklearn contract, time split, calibration on held-out time, exact contributions."""

from __future__ import annotations

import io

import joblib
import numpy as np
import pandas as pd
import pytest
from scipy.special import logit
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import brier_score_loss, roc_auc_score

from customer_tiering.core.errors import TieringError
from customer_tiering.models.churn import ChurnModel, fit_platt
from customer_tiering.models.modeling import BIAS_COLUMN, feature_matrix, prepare_features, time_split
from tests.support.synthetic import make_snapshots

FAST = {"n_estimators": 150, "learning_rate": 0.1, "early_stopping_rounds": 20}


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_snapshots(n_customers=1000, n_snapshots=5, seed=3)


@pytest.fixture(scope="module")
def split(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    last = frame["as_of"].max()
    return frame[frame["as_of"] < last], frame[frame["as_of"] == last]


@pytest.fixture(scope="module")
def model(split: tuple[pd.DataFrame, pd.DataFrame]) -> ChurnModel:
    train, _ = split
    return ChurnModel(**FAST).fit(train, train["churned"])


def _ece(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    edges = np.quantile(p, np.linspace(0, 1, bins + 1))
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    return float(sum(abs(y[idx == b].mean() - p[idx == b].mean()) * (idx == b).mean()
                     for b in range(bins) if (idx == b).any()))


def test_unfitted_model_refuses_to_predict_and_clone_keeps_params(frame: pd.DataFrame) -> None:
    m = ChurnModel(max_depth=4, additive=True, calibration="isotonic")
    with pytest.raises(NotFittedError):
        m.predict_proba(frame)
    c = clone(m)
    assert c.get_params() == m.get_params()
    assert c.set_params(max_depth=3).max_depth == 3
    assert m.max_depth == 4


def test_defaults_bound_tree_depth_for_explanation_cost() -> None:
    m = ChurnModel()
    assert m.max_depth == 5 and m.num_leaves == 31


def test_time_split_validates_only_on_dates_after_every_training_date() -> None:
    rng = np.random.default_rng(0)
    dates = pd.to_datetime(rng.choice(pd.date_range("2024-01-31", periods=6, freq="ME"), 500))
    train, valid = time_split(pd.Series(dates), validation_snapshots=2)
    assert train.sum() + valid.sum() == 500 and not (train & valid).any()
    assert dates[valid].min() > dates[train].max()
    assert len(np.unique(dates[valid])) == 2


def test_time_split_needs_a_date_to_train_on() -> None:
    with pytest.raises(TieringError, match="distinct as_of"):
        time_split(pd.Series(pd.to_datetime(["2024-01-31"] * 3)))


def test_time_split_purges_dates_whose_labels_overlap_the_validation_window() -> None:
    months = pd.date_range("2024-01-31", periods=6, freq="ME")
    dates = pd.Series(np.repeat(months, 10))
    train, valid = time_split(dates, purge_days=62)
    # validation 2024-06-30: labels of 05-31 and 04-30 look into it (04-30 + 62 days = 07-01);
    # 03-31's window ends on 06-01; a window ending on the validation date itself would be kept
    assert list(np.unique(dates[train])) == list(months[:3])
    assert list(np.unique(dates[valid])) == [months[-1]]
    assert train.sum() + valid.sum() == 40


def test_time_split_says_when_the_purge_leaves_nothing_to_train_on() -> None:
    dates = pd.Series(pd.date_range("2024-01-31", periods=3, freq="ME"))
    with pytest.raises(TieringError, match="labels look 90 days ahead"):
        time_split(dates, purge_days=90)


def test_rounds_are_chosen_without_the_purged_dates(split: tuple[pd.DataFrame, pd.DataFrame]
                                                    ) -> None:
    train, test = split
    validation = train["as_of"].max()
    overlapping = (train["as_of"] < validation) & (
        train["as_of"] + pd.Timedelta(days=45) > validation)
    assert overlapping.any()
    purged = ChurnModel(**FAST, label_horizon_days=45, refit=False).fit(train, train["churned"])
    kept = train[~overlapping]
    without = ChurnModel(**FAST, refit=False).fit(kept, kept["churned"])
    np.testing.assert_array_equal(purged.predict_proba(test), without.predict_proba(test))


def test_refit_learns_from_every_date_and_keeps_the_held_out_calibration(
        split: tuple[pd.DataFrame, pd.DataFrame], model: ChurnModel) -> None:
    train, test = split
    selection = ChurnModel(**FAST, refit=False).fit(train, train["churned"])
    assert model.platt_ == selection.platt_ and model.best_iteration_ == selection.best_iteration_
    assert model.booster_.num_trees() == model.best_iteration_
    assert list(model.training_dates_) == sorted(train["as_of"].unique())
    assert list(selection.training_dates_) == sorted(train["as_of"].unique())[:-1]
    # the refit model learnt something the selection booster did not: the validation window
    assert not np.array_equal(model.raw_score(test), selection.raw_score(test))


def test_fit_validates_on_the_latest_snapshot(model: ChurnModel,
                                               split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, _ = split
    assert list(model.validation_dates_) == [train["as_of"].max()]
    assert list(model.feature_names_in_[:2]) == ["days_since_last_order", "order_count_90d"]
    assert 1 <= model.best_iteration_ <= FAST["n_estimators"]


def test_same_seed_gives_identical_predictions(split: tuple[pd.DataFrame, pd.DataFrame],
                                               model: ChurnModel) -> None:
    train, test = split
    again = ChurnModel(**FAST).fit(train, train["churned"])
    np.testing.assert_array_equal(again.predict_proba(test), model.predict_proba(test))


def test_beats_recency_rule_on_a_later_window(model: ChurnModel,
                                              split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, test = split
    auc_model = roc_auc_score(test["churned"], model.predict_proba(test)[:, 1])
    auc_rule = roc_auc_score(test["churned"], test["days_since_last_order"].fillna(10_000))
    assert auc_model >= auc_rule + 0.02, (auc_model, auc_rule)


def test_contributions_sum_to_raw_log_odds(model: ChurnModel,
                                           split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, test = split
    contrib = model.contributions(test)
    assert list(contrib.columns) == [*model.feature_names_in_, BIAS_COLUMN]
    np.testing.assert_allclose(contrib.sum(axis=1), model.raw_score(test), rtol=0, atol=1e-9)
    np.testing.assert_allclose(model.raw_score(test), model.predict_log_odds(test), atol=0)


def test_platt_contributions_sum_to_calibrated_log_odds(
        model: ChurnModel, split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, test = split
    p = model.predict_proba(test)[:, 1]
    np.testing.assert_allclose(model.calibrated_contributions(test).sum(axis=1), logit(p),
                               rtol=0, atol=1e-9)


def test_platt_recovers_known_slope_and_intercept() -> None:
    rng = np.random.default_rng(1)
    raw = rng.normal(0, 2, 20_000)
    y = (rng.random(raw.size) < 1 / (1 + np.exp(-(0.5 * raw - 1.0)))).astype(float)
    a, b = fit_platt(raw, y)
    assert a == pytest.approx(0.5, abs=0.05) and b == pytest.approx(-1.0, abs=0.06)


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_calibration_on_held_out_time_fixes_an_overconfident_model(method: str) -> None:
    # Up-weighting churners inflates raw probabilities; calibration on the (untouched by trees)
    # validation window must repair them on a still later window.
    df = make_snapshots(n_customers=1000, n_snapshots=6, seed=5)
    last = df["as_of"].max()
    train, test = df[df["as_of"] < last], df[df["as_of"] == last]
    m = ChurnModel(**FAST, calibration=method, extra_params={"scale_pos_weight": 6.0})
    m.fit(train, train["churned"])
    y = test["churned"].to_numpy()
    raw_p = 1 / (1 + np.exp(-m.raw_score(test)))
    cal_p = m.predict_proba(test)[:, 1]
    assert brier_score_loss(y, cal_p) < brier_score_loss(y, raw_p) - 0.005
    assert _ece(y, cal_p) < 0.5 * _ece(y, raw_p)
    # monotone: calibration never reverses the ranking
    order = np.argsort(m.raw_score(test))
    assert np.all(np.diff(cal_p[order]) >= -1e-12)


def test_additive_model_contributions_equal_leaf_tables(
        split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, test = split
    m = ChurnModel(**FAST, additive=True).fit(train, train["churned"])
    tables = m.leaf_table_contributions(test)
    np.testing.assert_allclose(tables.to_numpy(), m.pred_contrib(test).to_numpy(),
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(tables.sum(axis=1), m.raw_score(test), rtol=0, atol=1e-9)
    trees = m.booster_.dump_model()["tree_info"]
    assert all("split_feature" not in t["tree_structure"]
               or _features_of(t["tree_structure"]) == {t["tree_structure"]["split_feature"]}
               for t in trees)


def _features_of(node: dict) -> set[int]:
    if "split_feature" not in node:
        return set()
    return {node["split_feature"]} | _features_of(node["left_child"]) | _features_of(
        node["right_child"])


def test_unseen_category_scores_like_a_missing_one(model: ChurnModel,
                                                   split: tuple[pd.DataFrame, pd.DataFrame]
                                                   ) -> None:
    _, test = split
    rows = test.head(50)
    unseen = rows.assign(customer_type="veterinary_clinic")
    missing = rows.assign(customer_type=pd.array([None] * len(rows), dtype="str"))
    np.testing.assert_array_equal(model.predict_proba(unseen), model.predict_proba(missing))
    prepared = prepare_features(unseen, list(model.feature_names_in_), model.categories_)
    assert prepared["customer_type"].isna().all()
    assert list(prepared["customer_type"].cat.categories) == model.categories_["customer_type"]


def test_joblib_round_trip_gives_identical_predictions(
        model: ChurnModel, split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, test = split
    buf = io.BytesIO()
    joblib.dump(model, buf)
    buf.seek(0)
    loaded = joblib.load(buf)
    np.testing.assert_array_equal(loaded.predict_proba(test), model.predict_proba(test))
    pd.testing.assert_frame_equal(loaded.contributions(test), model.contributions(test))


def test_missing_feature_column_is_named(model: ChurnModel,
                                         split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, test = split
    with pytest.raises(TieringError, match="nps"):
        model.predict_proba(test.drop(columns=["nps"]))


def test_non_binary_label_is_rejected(split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, _ = split
    with pytest.raises(TieringError, match="0/1"):
        ChurnModel(**FAST).fit(train, train["churned"] * 2)


def test_float_matrix_scores_exactly_like_lightgbms_own_pandas_conversion(
        model: ChurnModel, split: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # The models predict on feature_matrix (category codes as floats) instead of handing LightGBM
    # the categorical frame; LightGBM's own conversion of that frame must give the same scores,
    # for known, unseen and missing categories alike, on one row and on many.
    _, test = split
    rows = pd.concat([test.head(300), test.head(3).assign(customer_type="veterinary_clinic"),
                      test.head(3).assign(region=pd.array([None] * 3, dtype="str"))])
    prepared = prepare_features(rows, list(model.feature_names_in_), model.categories_)
    matrix = feature_matrix(rows, list(model.feature_names_in_), model.categories_)
    assert matrix.dtype == np.float64 and matrix.shape == prepared.shape
    for part in (slice(0, 1), slice(0, len(rows))):
        theirs = model.booster_.predict(prepared.iloc[part], raw_score=True,
                                        num_iteration=model.best_iteration_)
        np.testing.assert_array_equal(model.raw_score(rows.iloc[part]), theirs)
        contrib = model.booster_.predict(prepared.iloc[part], pred_contrib=True,
                                         num_iteration=model.best_iteration_)
        np.testing.assert_allclose(model.pred_contrib(rows.iloc[part]).to_numpy(), contrib,
                                   rtol=0, atol=1e-12)
