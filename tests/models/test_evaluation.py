"""Metrics: cross-checked against sklearn/scipy, capture/Gini/lift against hand-computed cases."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from scipy.stats import spearmanr
from sklearn.calibration import calibration_curve
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from customer_tiering.models import evaluation as ev
from customer_tiering.models.evaluation_plots import plot_calibration_curve, plot_capture_curve


@pytest.fixture
def churn_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    p = rng.uniform(0, 1, 2000)
    y = (rng.uniform(0, 1, p.size) < p).astype(int)
    # round so that many scores tie: the tie handling is what usually differs
    return y, np.round(p, 1)


def test_roc_auc_matches_sklearn_with_ties(churn_data: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = churn_data
    assert ev.roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)


def test_average_precision_matches_sklearn_with_ties(
    churn_data: tuple[np.ndarray, np.ndarray],
) -> None:
    y, s = churn_data
    assert ev.average_precision(y, s) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    rng = np.random.default_rng(1)
    raw = rng.normal(size=500)
    yy = (rng.uniform(size=500) < 0.2).astype(int)
    assert ev.average_precision(yy, raw) == pytest.approx(average_precision_score(yy, raw))


def test_brier_matches_sklearn(churn_data: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = churn_data
    assert ev.brier_score(y, s) == pytest.approx(brier_score_loss(y, s), abs=1e-12)


def test_roc_auc_of_hand_case_counts_ties_as_half() -> None:
    # pairs (pos, neg): (0.8,0.1)=1, (0.8,0.5)=1, (0.5,0.1)=1, (0.5,0.5)=0.5 -> 3.5/4
    assert ev.roc_auc([1, 0, 1, 0], [0.8, 0.1, 0.5, 0.5]) == pytest.approx(0.875)
    assert np.isnan(ev.roc_auc([1, 1], [0.2, 0.3]))


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_calibration_table_matches_sklearn_calibration_curve(
    churn_data: tuple[np.ndarray, np.ndarray], strategy: str,
) -> None:
    y, _ = churn_data
    p = np.random.default_rng(3).uniform(0, 1, y.size)
    table = ev.calibration_table(y, p, n_bins=8, strategy=strategy)  # type: ignore[arg-type]
    prob_true, prob_pred = calibration_curve(y, p, n_bins=8, strategy=strategy)
    np.testing.assert_allclose(table["observed_rate"], prob_true, atol=1e-12)
    np.testing.assert_allclose(table["mean_predicted"], prob_pred, atol=1e-12)
    assert table["count"].sum() == y.size


def test_calibration_table_and_ece_on_hand_case() -> None:
    y = [0, 0, 1, 1, 1, 0]
    p = [0.1, 0.1, 0.2, 0.9, 0.9, 0.9]
    table = ev.calibration_table(y, p, n_bins=2)
    # bin [0, .5]: mean p 0.4/3, rate 1/3; bin (.5, 1]: mean p .9, rate 2/3
    assert table["count"].tolist() == [3, 3]
    np.testing.assert_allclose(table["mean_predicted"], [0.4 / 3, 0.9])
    np.testing.assert_allclose(table["observed_rate"], [1 / 3, 2 / 3])
    ece = 0.5 * abs(1 / 3 - 0.4 / 3) + 0.5 * abs(2 / 3 - 0.9)
    assert ev.expected_calibration_error(y, p, n_bins=2) == pytest.approx(ece)


def test_perfectly_calibrated_scores_have_small_ece() -> None:
    rng = np.random.default_rng(11)
    p = rng.uniform(0, 1, 50_000)
    y = (rng.uniform(0, 1, p.size) < p).astype(int)
    assert ev.expected_calibration_error(y, p) < 0.01
    assert ev.expected_calibration_error(y, np.clip(p + 0.2, 0, 1)) > 0.1


def test_spearman_matches_scipy_with_ties() -> None:
    rng = np.random.default_rng(5)
    y = np.where(rng.uniform(size=800) < 0.4, 0.0, rng.lognormal(5, 1, 800))
    s = np.round(y * rng.lognormal(0, 0.5, 800), -2)
    assert ev.spearman(y, s) == pytest.approx(spearmanr(y, s).statistic, abs=1e-12)


def test_capture_gini_and_lift_on_hand_case() -> None:
    # amounts 10 customers; the score ranks them 100, 50, 0 (tie with 30), 30, 20, 0 ...
    y = np.array([100, 50, 0, 30, 20, 0, 0, 0, 0, 0], dtype=float)
    s = np.array([10, 9, 8, 8, 7, 6, 5, 4, 3, 2], dtype=float)
    # top 10% = customer 1 -> 100/200; top 20% adds 50 -> 0.75
    assert ev.capture_at(y, s, 0.1) == pytest.approx(0.5)
    assert ev.capture_at(y, s, 0.2) == pytest.approx(0.75)
    # top 30% takes one of the tied pair (0 or 30), expected 15 -> 165/200
    assert ev.capture_at(y, s, 0.3) == pytest.approx(0.825)
    assert ev.lift_at(y, s, 0.2) == pytest.approx(3.75)
    # capture curve (10% steps): .5 .75 [.825] .9 1 1 ... -> area by trapezoids
    pts = np.array([0, .5, .75, .825, .9, 1, 1, 1, 1, 1, 1])
    area = np.trapezoid(pts, np.linspace(0, 1, 11))
    oracle_pts = np.array([0, .5, .75, .9, 1, 1, 1, 1, 1, 1, 1])
    oracle_area = np.trapezoid(oracle_pts, np.linspace(0, 1, 11))
    assert ev.gini(y, s) == pytest.approx((2 * area - 1) / (2 * oracle_area - 1))
    assert ev.gini(y, y) == pytest.approx(1.0)


def test_ties_do_not_depend_on_row_order() -> None:
    y = np.array([5.0, 0.0, 3.0, 0.0, 2.0, 7.0])
    s = np.array([1.0, 1.0, 1.0, 0.0, 0.0, 0.0])
    perm = np.array([5, 3, 1, 0, 4, 2])
    for k in (0.1, 0.2, 0.5):
        assert ev.capture_at(y, s, k) == pytest.approx(ev.capture_at(y[perm], s[perm], k))
    assert ev.gini(y, s) == pytest.approx(ev.gini(y[perm], s[perm]))


def test_constant_score_is_random() -> None:
    y = np.random.default_rng(2).lognormal(size=300)
    const = np.zeros_like(y)
    assert ev.capture_at(y, const, 0.2) == pytest.approx(0.2)
    assert ev.gini(y, const) == pytest.approx(0.0, abs=1e-12)
    assert ev.roc_auc((y > 1).astype(int), const) == pytest.approx(0.5)


def test_compare_gives_one_row_per_scorer() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=400)
    y = (rng.uniform(size=400) < p).astype(int)
    table = ev.compare({"model": p, "days": rng.integers(0, 400, 400)}, y)
    assert list(table.index) == ["model", "days"]
    assert list(table.columns) == list(ev.CHURN_METRICS)
    assert table.loc["model", "roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert np.isnan(table.loc["days", "brier"])  # not a probability
    amount = rng.lognormal(size=400)
    vt = ev.compare({"oracle": amount, "noise": rng.normal(size=400)}, amount)
    assert list(vt.columns) == list(ev.VALUE_METRICS)
    assert vt.loc["oracle", "gini"] == pytest.approx(1.0)
    assert vt.loc["oracle", "capture_top20"] > vt.loc["noise", "capture_top20"]


def test_metrics_reject_misaligned_or_missing_input() -> None:
    with pytest.raises(ValueError, match="3 values but the score has 2"):
        ev.roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="missing"):
        ev.spearman([1.0, 2.0], [np.nan, 1.0])
    with pytest.raises(ValueError, match="0/1"):
        ev.brier_score([0, 2], [0.1, 0.2])


def test_plots_return_figures_with_one_line_per_scorer(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    p = rng.uniform(size=300)
    y = (rng.uniform(size=300) < p).astype(int)
    fig = plot_calibration_curve(y, {"model": p, "flat": np.full(300, y.mean())})
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].get_lines()) == 3  # diagonal + two scorers
    amount = pd.Series(rng.lognormal(size=300))
    fig2 = plot_capture_curve(amount, {"a": amount + rng.normal(size=300), "b": p})
    assert len(fig2.axes[0].get_lines()) == 2 + 2 + 2  # oracle, random, 2 scorers, 2 k-markers
    fig2.savefig(tmp_path / "capture.png")
    assert (tmp_path / "capture.png").stat().st_size > 1000
