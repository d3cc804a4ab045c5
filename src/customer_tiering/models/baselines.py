"""What a model must beat: simple scorers computed from the same point-in-time inputs.

Every baseline reads only what is known at ``as_of``: the features frame (columns of
:data:`~customer_tiering.ingest.contract.NUMERIC_FEATURES`, one row per customer and snapshot)
and, for BG/NBD, the transactions on or before ``as_of``. Scores come back aligned with the rows of
the features frame, so a training job can hand them to
:func:`customer_tiering.models.evaluation.compare` beside the model's scores.

Churn scores: higher = more likely to churn. Value scores: the expected net amount in the horizon
(currency), or for the RFM score a rank (higher = more value).

- ``days_since_last_order``: the recency rule. Its ranking is all a rule has; a probability on the
  same footing is :class:`RecencyLogistic`, a one-feature logistic fitted on training snapshots.
- ``rfm_score``: R, F and M quintiles (1-5) within each snapshot, summed to 3-15.
- ``last_period``: the amount of the last period as long as the horizon, scaled to the horizon.
- ``bgnbd``: BG/NBD + Gamma-Gamma (see :mod:`customer_tiering.models.clv`), fitted per snapshot date on
  every customer with a purchase by then.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from customer_tiering.ingest.contract import DEFAULT_HORIZON_DAYS, WINDOWS_DAYS
from customer_tiering.models.clv import BetaGeoModel, GammaGammaModel, summary_from_transactions

__all__ = [
    "RecencyLogistic",
    "bgnbd_scores",
    "churn_baselines",
    "last_period_value",
    "recency_churn_score",
    "recency_rule_value",
    "rfm_quintile_score",
    "value_baselines",
]

FloatArray = npt.NDArray[np.float64]


def _column(features: pd.DataFrame, name: str) -> FloatArray:
    if name not in features.columns:
        raise ValueError(f"the features frame lacks column {name!r} (see schemas.NUMERIC_FEATURES)")
    return pd.to_numeric(features[name]).to_numpy(dtype=np.float64, na_value=np.nan)


def _days(features: pd.DataFrame, never: float | None = None) -> FloatArray:
    """days_since_last_order; never-ordered customers (NaN) get ``never`` (default: past everyone
    else in the frame, one day more than the largest value)."""
    days = _column(features, "days_since_last_order")
    if never is None:
        finite = days[~np.isnan(days)]
        never = (finite.max() if finite.size else 0.0) + 1.0
    return np.where(np.isnan(days), never, days)


def recency_churn_score(features: pd.DataFrame) -> FloatArray:
    """Churn score of the recency rule: ``days_since_last_order`` (days; higher = more churn).

    A customer who never ordered gets one day more than the largest value in the frame.

    Parameters
    ----------
    features : features frame (one row per customer and snapshot).

    Returns
    -------
    numpy.ndarray
        Days, one per row.
    """
    return _days(features)


def recency_rule_value(features: pd.DataFrame, horizon_days: int = DEFAULT_HORIZON_DAYS,
                       threshold_days: float | None = None) -> FloatArray:
    """Value of the recency rule: a lapsed customer is worth 0, an active one its recent run rate.

    ``monetary_amount_365d * horizon_days / 365`` when ``days_since_last_order <= threshold_days``
    (default: twice the horizon), else 0. Negative amounts (net returns) count as 0.

    Parameters
    ----------
    features : features frame (one row per customer and snapshot).
    horizon_days : length of the prediction window (days).
    threshold_days : days since the last order beyond which a customer counts as lapsed.

    Returns
    -------
    numpy.ndarray
        Currency, one per row.
    """
    threshold = 2 * horizon_days if threshold_days is None else threshold_days
    run_rate = np.clip(np.nan_to_num(_column(features, "monetary_amount_365d")), 0, None)
    return np.where(_days(features) <= threshold, run_rate * horizon_days / 365.0, 0.0)


def _quintile(values: FloatArray, groups: FloatArray | None) -> FloatArray:
    """Quintile 1-5 of each value within its group; tied values share a quintile.

    The quintile is ``ceil(5 * average rank / n)``: with average ranks a tie never splits across
    quintiles, and the result does not depend on row order.
    """
    frame = pd.DataFrame({"v": values, "g": 0 if groups is None else groups})
    pct = frame.groupby("g")["v"].rank(method="average", pct=True).to_numpy(dtype=np.float64)
    return np.clip(np.ceil(5 * pct - 1e-12), 1, 5)


def _snapshot_groups(features: pd.DataFrame) -> FloatArray | None:
    if "as_of" not in features.columns:
        return None
    codes, _ = pd.factorize(features["as_of"])
    return codes.astype(np.float64)


def rfm_quintile_score(features: pd.DataFrame) -> FloatArray:
    """RFM score 3-15: R + F + M quintiles, each 1-5, computed within each ``as_of`` snapshot.

    R from ``days_since_last_order`` (fewer days = 5), F from ``order_count_365d``, M from
    ``monetary_amount_365d`` (more = 5). Missing counts and amounts count as 0; a customer who never
    ordered is least recent. Higher = more value (for churn use ``18 - score``).

    Parameters
    ----------
    features : features frame (one row per customer and snapshot).

    Returns
    -------
    numpy.ndarray
        Scores 3-15, one per row.
    """
    groups = _snapshot_groups(features)
    r = _quintile(-_days(features), groups)
    f = _quintile(np.nan_to_num(_column(features, "order_count_365d")), groups)
    m = _quintile(np.nan_to_num(_column(features, "monetary_amount_365d")), groups)
    return r + f + m


def last_period_value(features: pd.DataFrame,
                      horizon_days: int = DEFAULT_HORIZON_DAYS) -> FloatArray:
    """Expected amount in the horizon = the amount of the last period as long as the horizon.

    Uses ``monetary_amount_{w}d`` for the feature window ``w`` closest to ``horizon_days`` (90, 180
    or 365; exact for a 90-day horizon), scaled by ``horizon_days / w``; net returns count as 0.

    Parameters
    ----------
    features : features frame (one row per customer and snapshot).
    horizon_days : length of the prediction window (days).

    Returns
    -------
    numpy.ndarray
        Currency, one per row.
    """
    window = min(WINDOWS_DAYS, key=lambda w: (abs(w - horizon_days), w))
    amount = np.clip(np.nan_to_num(_column(features, f"monetary_amount_{window}d")), 0, None)
    return amount * horizon_days / window


def bgnbd_scores(summary: pd.DataFrame, horizon_days: int = DEFAULT_HORIZON_DAYS,
                 fit_summary: pd.DataFrame | None = None) -> tuple[FloatArray, FloatArray]:
    """Fit BG/NBD and Gamma-Gamma and score each summary row over the horizon.

    Parameters
    ----------
    summary : rows to score, columns of :func:`customer_tiering.models.clv.summary_from_transactions`;
        rows of NaN (no purchase by ``as_of``) get churn 1 and value 0.
    horizon_days : length of the prediction window (days).
    fit_summary : rows to fit on (default: the non-missing rows of ``summary``).

    Returns
    -------
    (churn, value): ``P(no purchase in (as_of, as_of + horizon])`` and the expected purchases in
    the horizon times the expected amount per purchase (currency).
    """
    known = summary["frequency"].notna().to_numpy()
    fit_on = summary[known] if fit_summary is None else fit_summary.dropna()
    churn = np.ones(len(summary))
    value = np.zeros(len(summary))
    if not known.any():
        return churn, value
    bg = BetaGeoModel().fit(fit_on)
    gg = GammaGammaModel().fit(fit_on)
    rows = summary[known]
    churn[known] = bg.probability_no_purchase(rows, horizon_days)
    value[known] = (bg.conditional_expected_purchases(rows, horizon_days)
                    * gg.conditional_expected_spend(rows))
    return churn, value


def _bgnbd_for_frame(features: pd.DataFrame, transactions: pd.DataFrame | None, as_of: Any,
                     horizon_days: int, summary: pd.DataFrame | None = None
                     ) -> tuple[FloatArray, FloatArray]:
    """BG/NBD scores for every features row, fitting once per snapshot date.

    ``summary``: the population's purchase summary at the one snapshot date of ``features``
    (:func:`customer_tiering.models.clv_summary.summary_from_parquet`), instead of ``transactions``.
    """
    if "customer_id" not in features.columns:
        raise ValueError("the features frame needs a customer_id column to join the transactions")
    if as_of is not None:
        dates = pd.Series(pd.Timestamp(as_of), index=features.index)
    elif "as_of" in features.columns:
        dates = pd.to_datetime(features["as_of"])
    else:
        raise ValueError("give as_of, or a features frame with an as_of column")
    churn = np.ones(len(features))
    value = np.zeros(len(features))
    if summary is not None and len(pd.unique(dates)) > 1:
        raise ValueError("a precomputed summary is for one snapshot date; the frame has several")
    for date in pd.unique(dates):
        rows = (dates == date).to_numpy()
        population = (summary if summary is not None
                      else summary_from_transactions(transactions, date))
        summary = population.reindex(pd.Index(features["customer_id"].to_numpy()[rows]))
        churn[rows], value[rows] = bgnbd_scores(summary, horizon_days, fit_summary=population)
    return churn, value


def churn_baselines(features: pd.DataFrame, transactions: pd.DataFrame | None = None,
                    as_of: Any = None,
                    horizon_days: int = DEFAULT_HORIZON_DAYS, *,
                    summary: pd.DataFrame | None = None) -> dict[str, FloatArray]:
    """Churn scores of every baseline, aligned with the rows of ``features`` (higher = churn).

    Parameters
    ----------
    features : features frame (the contract's ``NUMERIC_FEATURES``; ``customer_id`` and ``as_of``
        for BG/NBD).
    transactions : canonical transactions; without them (or ``summary``) the BG/NBD baseline
        is left out.
    as_of : the snapshot date for every row (default: the frame's ``as_of`` column).
    horizon_days : churn horizon in days.
    summary : instead of ``transactions``, the population's purchase summary at the frame's one
        snapshot date (:func:`customer_tiering.models.clv_summary.summary_from_parquet`: a large book's
        transactions are not read into memory).

    Returns
    -------
    dict with ``days_since_last_order`` (days), ``rfm_score`` (18 - RFM score, 3-15) and, with
    transactions, ``bgnbd`` (P(no purchase in the horizon)).
    """
    scores = {
        "days_since_last_order": recency_churn_score(features),
        "rfm_score": 18.0 - rfm_quintile_score(features),
    }
    if transactions is not None or summary is not None:
        scores["bgnbd"] = _bgnbd_for_frame(features, transactions, as_of, horizon_days,
                                           summary)[0]
    return scores


def value_baselines(features: pd.DataFrame, transactions: pd.DataFrame | None = None,
                    as_of: Any = None,
                    horizon_days: int = DEFAULT_HORIZON_DAYS, *,
                    summary: pd.DataFrame | None = None) -> dict[str, FloatArray]:
    """Value scores of every baseline, aligned with the rows of ``features`` (higher = more value).

    Parameters are those of :func:`churn_baselines`.

    Returns
    -------
    dict with ``recency_rule``, ``last_period`` and, with transactions, ``bgnbd_gamma_gamma`` (all
    expected net amount in the horizon, currency) and ``rfm_score`` (3-15, a rank only).
    """
    scores = {
        "recency_rule": recency_rule_value(features, horizon_days),
        "rfm_score": rfm_quintile_score(features),
        "last_period": last_period_value(features, horizon_days),
    }
    if transactions is not None or summary is not None:
        scores["bgnbd_gamma_gamma"] = _bgnbd_for_frame(features, transactions, as_of,
                                                       horizon_days, summary)[1]
    return scores


class RecencyLogistic(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Churn probability from days since the last order alone: ``logit P = w0 + w1 log1p(days)``.

    The probability counterpart of the recency rule, so that Brier score and calibration of a model
    can be compared with it. Fit on training snapshots, score the holdout.

    Parameters
    ----------
    C : inverse L2 regularisation strength of the logistic regression.

    Attributes
    ----------
    model_ : the fitted ``LogisticRegression`` on ``log1p(days_since_last_order)``.
    never_ordered_days_ : days given to a customer who never ordered (largest training value + 1
        if any training customer never ordered, else the largest value).
    """

    def __init__(self, C: float = 1e6) -> None:
        self.C = C

    def _design(self, X: pd.DataFrame) -> FloatArray:
        return np.log1p(_days(X, never=self.never_ordered_days_)).reshape(-1, 1)

    def fit(self, X: pd.DataFrame, y: npt.ArrayLike) -> RecencyLogistic:
        """Fit on a features frame and 0/1 churn labels.

        Parameters
        ----------
        X : features frame with ``days_since_last_order``.
        y : 0/1 churn labels.

        Returns
        -------
        RecencyLogistic
            ``self``.
        """
        # fixed at fit time so that a holdout frame maps never-ordered customers to the same value
        self.never_ordered_days_ = float(_days(X).max())
        self.model_ = LogisticRegression(C=self.C).fit(self._design(X), np.asarray(y))
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> FloatArray:
        """Churn probabilities.

        Parameters
        ----------
        X : features frame with ``days_since_last_order``.

        Returns
        -------
        numpy.ndarray
            Two columns: P(not churn), P(churn).
        """
        check_is_fitted(self, "model_")
        return np.asarray(self.model_.predict_proba(self._design(X)), dtype=np.float64)

    def predict(self, X: pd.DataFrame) -> npt.NDArray[Any]:
        """Label with the higher probability.

        Parameters
        ----------
        X : features frame with ``days_since_last_order``.

        Returns
        -------
        numpy.ndarray
        """
        return np.asarray(self.classes_[np.argmax(self.predict_proba(X), axis=1)])
