"""Metrics shared by training and promotion: pure functions on arrays.

Churn metrics take ``y`` = 1 for a customer who churned (no positive order in the horizon) and a
score where *higher means more likely to churn*. Ranking metrics (ROC AUC, PR AUC) accept any real
score; probability metrics (Brier score, calibration, ECE) need probabilities in [0, 1].

Value metrics take ``y`` = the actual future amount per customer (currency units, net, may contain
zeros) and a score where *higher means more future value*; only the ranking of the score matters.

Ties in a score are handled by averaging over every order of the tied customers (the expected value
under a random tie-break), never by row order. So the result does not depend on how the rows are
sorted, and a constant score gets exactly the "random" result (AUC 0.5, capture k, Gini 0). This is
what ``sklearn.metrics.roc_auc_score`` does for ties and what ``average_precision_score`` does by
treating a tied group as one threshold.

The plots of these metrics are in :mod:`customer_tiering.models.evaluation_plots`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.stats import rankdata

__all__ = [
    "CHURN_METRICS",
    "VALUE_METRICS",
    "average_precision",
    "brier_score",
    "calibration_table",
    "capture_at",
    "capture_curve",
    "compare",
    "expected_calibration_error",
    "gini",
    "lift_at",
    "roc_auc",
    "spearman",
]

ArrayLike = npt.ArrayLike
FloatArray = npt.NDArray[np.float64]
BinStrategy = Literal["uniform", "quantile"]

CHURN_METRICS: tuple[str, ...] = ("roc_auc", "pr_auc", "brier", "ece", "base_rate")
VALUE_METRICS: tuple[str, ...] = (
    "spearman", "capture_top10", "capture_top20", "gini", "lift_top10", "lift_top20",
)


# --- input checks ----------------------------------------------------------------------------
def _as_pair(y: ArrayLike, score: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return ``y`` and ``score`` as 1-D float arrays of equal length without NaN."""
    y_arr = np.asarray(y, dtype=np.float64).ravel()
    s_arr = np.asarray(score, dtype=np.float64).ravel()
    if y_arr.shape != s_arr.shape:
        raise ValueError(f"y has {y_arr.size} values but the score has {s_arr.size}")
    if y_arr.size == 0:
        raise ValueError("no rows to evaluate")
    if np.isnan(y_arr).any():
        raise ValueError(f"y has {int(np.isnan(y_arr).sum())} missing value(s)")
    if np.isnan(s_arr).any():
        raise ValueError(f"the score has {int(np.isnan(s_arr).sum())} missing value(s)")
    return y_arr, s_arr


def _binary(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y must be 0/1 (1 = churned)")
    return y


def _probabilities(p: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    if (p < 0).any() or (p > 1).any():
        raise ValueError("probabilities must lie in [0, 1]")
    return p


# --- churn: ranking and probability quality --------------------------------------------------
def roc_auc(y: ArrayLike, score: ArrayLike) -> float:
    """Area under the ROC curve (unitless, 0.5 = random, 1 = perfect ranking).

    Computed as the Mann-Whitney statistic: the probability that a random churner scores higher
    than a random non-churner, ties counting one half.

    Parameters
    ----------
    y : 0/1 per customer, 1 = churned.
    score : any real number per customer; higher = more likely to churn.

    Returns
    -------
    float, or NaN when ``y`` holds only one class.
    """
    y_arr, s = _as_pair(y, score)
    _binary(y_arr)
    n_pos = float(y_arr.sum())
    n_neg = float(y_arr.size - n_pos)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s, method="average")
    return float((ranks[y_arr == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(y: ArrayLike, score: ArrayLike) -> float:
    """PR AUC as average precision: ``sum_n (R_n - R_{n-1}) P_n`` over distinct score thresholds.

    Unitless in [0, 1]; a random score gets about the churn rate. Same definition as
    ``sklearn.metrics.average_precision_score`` (step-wise, no interpolation; a tied group of scores
    is one threshold).

    Parameters
    ----------
    y : 0/1 per customer, 1 = churned.
    score : any real number per customer; higher = more likely to churn.

    Returns
    -------
    float, or NaN when there is no churner.
    """
    y_arr, s = _as_pair(y, score)
    _binary(y_arr)
    n_pos = y_arr.sum()
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y_arr[order]
    # last index of each group of equal scores = one threshold
    ends = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s_sorted.size - 1]
    tp = np.cumsum(y_sorted)[ends]
    precision = tp / (ends + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def brier_score(y: ArrayLike, probability: ArrayLike) -> float:
    """Mean squared difference between the churn probability and the outcome (0 best, unitless).

    Parameters
    ----------
    y : 0/1 per customer, 1 = churned.
    probability : churn probability per customer, in [0, 1].

    Returns
    -------
    float in [0, 1].

    Raises
    ------
    ValueError
        When ``y`` is not 0/1, a probability is outside [0, 1], or the two differ in length or
        hold missing values.
    """
    y_arr, p = _as_pair(y, probability)
    _binary(y_arr)
    _probabilities(p)
    return float(np.mean((p - y_arr) ** 2))


def _bin_index(p: npt.NDArray[np.float64], n_bins: int, strategy: BinStrategy
               ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]]:
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    elif strategy == "quantile":
        # duplicate quantiles (many equal predictions) would make empty bins; drop them
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, n_bins + 1)))
        if edges.size == 1:
            edges = np.r_[edges, edges]
    else:
        raise ValueError(f"strategy must be 'uniform' or 'quantile', got {strategy!r}")
    # bins are [e0, e1], (e1, e2], ...: a value on an inner edge goes to the lower bin, as in
    # sklearn.calibration.calibration_curve, so the two agree bin for bin
    idx = np.clip(np.searchsorted(edges[1:-1], p, side="left"), 0, edges.size - 2)
    return idx.astype(np.intp), edges


def calibration_table(y: ArrayLike, probability: ArrayLike, n_bins: int = 10,
                      strategy: BinStrategy = "uniform") -> pd.DataFrame:
    """Predicted against observed churn rate per bin of predicted probability.

    Parameters
    ----------
    y : 0/1 per customer, 1 = churned.
    probability : churn probability per customer, in [0, 1].
    n_bins : number of bins (fewer when quantile edges coincide).
    strategy : ``uniform`` = equal-width bins on [0, 1]; ``quantile`` = about equal counts.

    Returns
    -------
    DataFrame, one row per non-empty bin, columns ``bin`` (0-based), ``lower`` and ``upper``
    (bin edges, probability), ``mean_predicted`` (mean probability in the bin), ``observed_rate``
    (share of churners in the bin) and ``count`` (customers).
    """
    y_arr, p = _as_pair(y, probability)
    _binary(y_arr)
    _probabilities(p)
    idx, edges = _bin_index(p, n_bins, strategy)
    n_edges = edges.size - 1
    count = np.bincount(idx, minlength=n_edges)
    sum_p = np.bincount(idx, weights=p, minlength=n_edges)
    sum_y = np.bincount(idx, weights=y_arr, minlength=n_edges)
    keep = count > 0
    return pd.DataFrame({
        "bin": np.arange(n_edges)[keep],
        "lower": edges[:-1][keep],
        "upper": edges[1:][keep],
        "mean_predicted": sum_p[keep] / count[keep],
        "observed_rate": sum_y[keep] / count[keep],
        "count": count[keep].astype(np.int64),
    })


def expected_calibration_error(y: ArrayLike, probability: ArrayLike, n_bins: int = 10,
                               strategy: BinStrategy = "uniform") -> float:
    """ECE: ``sum_bins count/N * |observed_rate - mean_predicted|`` (probability units, 0 best).

    Parameters are those of :func:`calibration_table`.

    Returns
    -------
    float in [0, 1].

    Raises
    ------
    ValueError
        As :func:`calibration_table`.
    """
    table = calibration_table(y, probability, n_bins=n_bins, strategy=strategy)
    weights = table["count"].to_numpy() / table["count"].sum()
    gap = np.abs(table["observed_rate"].to_numpy() - table["mean_predicted"].to_numpy())
    return float(np.sum(weights * gap))


# --- value: ranking of future amount ---------------------------------------------------------
def spearman(y: ArrayLike, score: ArrayLike) -> float:
    """Spearman rank correlation between actual future amount and score (ties get average ranks).

    Returns NaN when either side is constant.

    Parameters
    ----------
    y, score : actual future amount and predicted value per customer (only ranks matter).
    """
    y_arr, s = _as_pair(y, score)
    ry, rs = rankdata(y_arr), rankdata(s)
    if ry.std() == 0 or rs.std() == 0:
        return float("nan")
    return float(np.corrcoef(ry, rs)[0, 1])


def capture_curve(y: ArrayLike, score: ArrayLike) -> pd.DataFrame:
    """The cumulative share of actual future amount captured by the customers ranked first.

    Customers are ranked by score, highest first. Within a group of equal scores every order is
    equally likely, so the curve is a straight line across the group (its expected value); its
    points are the group boundaries. Read it between points by linear interpolation (exact).

    Parameters
    ----------
    y : actual future amount per customer (currency; the total must be positive).
    score : predicted value per customer; higher = more value.

    Returns
    -------
    DataFrame with ``customer_share`` (0 .. 1, the top share of customers) and ``amount_share``
    (0 .. 1 when no amount is negative, their share of the total actual amount), starting at (0, 0).

    Raises
    ------
    ValueError
        When the total actual amount is not positive.
    """
    y_arr, s = _as_pair(y, score)
    total = y_arr.sum()
    if not total > 0:
        raise ValueError(f"the total actual amount must be positive to share it out, got {total}")
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y_arr[order]
    ends = np.r_[np.flatnonzero(np.diff(s_sorted) != 0), s_sorted.size - 1]
    cum = np.cumsum(y_sorted)[ends]
    return pd.DataFrame({
        "customer_share": np.r_[0.0, (ends + 1) / y_arr.size],
        "amount_share": np.r_[0.0, cum / total],
    })


def capture_at(y: ArrayLike, score: ArrayLike, k: float) -> float:
    """Share of the actual future amount captured by the top ``k`` share of customers by score.

    ``k`` = 0.2 gives the top-20% revenue capture. When ``k * n`` is not a whole number the curve is
    interpolated, which is the expected capture when the boundary customer is taken in part.

    Parameters
    ----------
    y, score : as in :func:`capture_curve`.
    k : the top share of customers, in (0, 1].

    Returns
    -------
    float, the share of the total actual amount (0 .. 1 when no amount is negative).

    Raises
    ------
    ValueError
        When ``k`` is outside (0, 1] or the total actual amount is not positive.
    """
    if not 0 < k <= 1:
        raise ValueError(f"k must be in (0, 1], got {k}")
    curve = capture_curve(y, score)
    return float(np.interp(k, curve["customer_share"], curve["amount_share"]))


def lift_at(y: ArrayLike, score: ArrayLike, k: float) -> float:
    """Lift at ``k``: capture of the top ``k`` share divided by ``k`` (1 = random, unitless).

    Parameters
    ----------
    y, score, k : as in :func:`capture_at`.

    Returns
    -------
    float, :func:`capture_at` divided by ``k`` (at most ``1 / k`` when no amount is negative).

    Raises
    ------
    ValueError
        When ``k`` is outside (0, 1] or the total actual amount is not positive.
    """
    return capture_at(y, score, k) / k


def _area_under(curve: pd.DataFrame) -> float:
    return float(np.trapezoid(curve["amount_share"], curve["customer_share"]))


def gini(y: ArrayLike, score: ArrayLike) -> float:
    """Normalised Gini of a value ranking: 0 = random, 1 = the order of the actual amounts.

    Gini of a ranking = 2 x (area under its capture curve) - 1; normalised by the Gini of the
    perfect ranking (customers sorted by their actual amount). Can be negative for a ranking worse
    than random.

    Parameters
    ----------
    y, score : as in :func:`capture_curve`.

    Returns
    -------
    float, or NaN when the perfect ranking's Gini is 0 (every customer has the same amount).

    Raises
    ------
    ValueError
        When the total actual amount is not positive.
    """
    y_arr, s = _as_pair(y, score)
    model = 2 * _area_under(capture_curve(y_arr, s)) - 1
    oracle = 2 * _area_under(capture_curve(y_arr, y_arr)) - 1
    if oracle == 0:
        return float("nan")
    return model / oracle


# --- side-by-side table ----------------------------------------------------------------------
def _churn_row(y: npt.NDArray[np.float64], s: npt.NDArray[np.float64]) -> dict[str, float]:
    is_prob = bool(((s >= 0) & (s <= 1)).all())
    return {
        "roc_auc": roc_auc(y, s),
        "pr_auc": average_precision(y, s),
        "brier": brier_score(y, s) if is_prob else float("nan"),
        "ece": expected_calibration_error(y, s) if is_prob else float("nan"),
        "base_rate": float(y.mean()),
    }


def _value_row(y: npt.NDArray[np.float64], s: npt.NDArray[np.float64]) -> dict[str, float]:
    top10, top20 = capture_at(y, s, 0.1), capture_at(y, s, 0.2)
    return {
        "spearman": spearman(y, s),
        "capture_top10": top10,
        "capture_top20": top20,
        "gini": gini(y, s),
        "lift_top10": top10 / 0.1,
        "lift_top20": top20 / 0.2,
    }


def compare(scores: Mapping[str, ArrayLike], y: ArrayLike,
            task: Literal["auto", "churn", "value"] = "auto") -> pd.DataFrame:
    """Metrics of several scorers (model and baselines) on the same customers, side by side.

    Parameters
    ----------
    scores : scorer name -> one score per customer, aligned with ``y``. Churn scores: higher =
        more likely to churn; value scores: higher = more future value.
    y : churn: 0/1 (1 = churned); value: actual future amount.
    task : ``auto`` takes ``churn`` when ``y`` holds only 0 and 1, else ``value``.

    Returns
    -------
    DataFrame indexed by scorer (in the order given), columns :data:`CHURN_METRICS` or
    :data:`VALUE_METRICS`. Brier and ECE are NaN for a churn score that is not a probability.

    Raises
    ------
    ValueError
        When ``scores`` is empty, ``task`` is unknown, or a score and ``y`` differ in length
        or hold missing values.
    """
    if not scores:
        raise ValueError("no scores to compare")
    y_arr = np.asarray(y, dtype=np.float64).ravel()
    if task == "auto":
        task = "churn" if np.isin(y_arr, (0.0, 1.0)).all() else "value"
    if task not in ("churn", "value"):
        raise ValueError(f"task must be 'auto', 'churn' or 'value', got {task!r}")
    row = _churn_row if task == "churn" else _value_row
    rows = {}
    for name, score in scores.items():
        y_checked, s = _as_pair(y_arr, score)
        rows[name] = row(y_checked, s)
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "scorer"
    return table
