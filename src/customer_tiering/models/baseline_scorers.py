"""Baselines that can serve: each one a fitted scorer with the trees' serving interface.

The training gate compares the candidate model with every baseline on the untouched holdout
(:mod:`customer_tiering.models.baselines`). When a baseline scores best, the book is telling us
that a simple scorer ranks its customers better than the trees do, and that scorer should serve
rather than no one. These classes are those baselines as estimators (sklearn contract): fitted on
the snapshots the model learnt from, scoring from the feature columns alone, so the rating, the
what-if, hot reload and rollback treat them like any other champion.

Churn scorers give calibrated log-odds (a Platt map fitted on their own training scores);
value scorers give the log of the expected amount in the horizon (floored at
:data:`VALUE_FLOOR`, so a customer worth nothing still has a finite log). Each has a handful of
inputs, so its explanation is the exact Shapley decomposition over them with a single reference
customer (the inputs' medians on the latest snapshot it learnt from): ``2**k`` evaluations per row,
adding up to the score exactly, bias = the score of the reference customer.

References
----------
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting your customers" the easy way: an
alternative to the Pareto/NBD model. *Marketing Science* 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: using iso-value curves for
customer base analysis. *Journal of Marketing Research* 42(4), 415-430.
Platt, J. (1999). Probabilistic outputs for support vector machines and comparisons to
regularized likelihood methods. *Advances in Large Margin Classifiers*, 61-74.
Shapley, L. S. (1953). A value for n-person games. *Contributions to the Theory of Games* II,
307-317; with a single reference point as in Lundberg & Lee (2017), *NeurIPS* 30, 4765-4774.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.validation import check_is_fitted

from customer_tiering.core.columns import Columns
from customer_tiering.core.errors import TieringError
from customer_tiering.ingest.contract import WINDOWS_DAYS
from customer_tiering.models.churn import fit_platt
from customer_tiering.models.clv import BetaGeoModel, GammaGammaModel
from customer_tiering.models.drift import profile_column
from customer_tiering.models.modeling import Contributions

__all__ = ["CHURN_SCORERS", "VALUE_FLOOR", "VALUE_SCORERS", "BaselineChurnScorer",
           "BaselineValueScorer", "exact_shapley"]

TRIPLE = ("repeat_purchase_days", "days_first_to_last_purchase", "days_since_first_purchase")
RFM = ("days_since_last_order", "order_count_365d", "monetary_amount_365d")
CHURN_SCORERS: dict[str, tuple[str, ...]] = {
    "bgnbd": TRIPLE,
    "rfm_score": RFM,
    "days_since_last_order": ("days_since_last_order",),
}
VALUE_SCORERS: dict[str, tuple[str, ...]] = {
    "bgnbd_gamma_gamma": (*TRIPLE, "mean_repeat_purchase_amount"),
    "rfm_score": RFM,
    "recency_rule": ("days_since_last_order", "monetary_amount_365d"),
    "last_period": ("monetary_amount_90d", "monetary_amount_180d", "monetary_amount_365d"),
}
VALUE_FLOOR = 1e-6  # currency: the least expected amount a value scorer reports (log stays finite)
_P_CLIP = 1e-9


def exact_shapley(score: Any, X: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Exact Shapley values of ``score`` at each row of ``X`` against one reference row.

    Parameters
    ----------
    score
        A function of an ``(n, k)`` float matrix returning ``n`` scores (NaN inputs allowed).
    X
        The rows to explain, ``(n, k)``.
    reference
        The reference customer, ``(k,)``: absent inputs take its values.

    Returns
    -------
    ndarray
        ``(n, k + 1)``: one column per input, then the bias ``score(reference)``; each row adds up
        to ``score(X[row])`` (a telescoping sum, exact up to rounding).
    """
    n, k = X.shape
    values = {}
    for mask in itertools.product((False, True), repeat=k):
        z = np.where(np.asarray(mask)[None, :], X, reference[None, :])
        values[mask] = np.asarray(score(z), dtype=float)
    out = np.zeros((n, k + 1))
    for i in range(k):
        for mask, with_i in values.items():
            if not mask[i]:
                continue
            without = tuple(False if j == i else m for j, m in enumerate(mask))
            size = sum(without)
            weight = math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k)
            out[:, i] += weight * (with_i - values[without])
    out[:, k] = values[(False,) * k]
    return out


def _matrix(X: pd.DataFrame | Columns, names: Sequence[str]) -> np.ndarray:
    cols = Columns.of(X)
    missing = [n for n in names if n not in cols]
    if missing:
        raise TieringError(f"the baseline scorer needs the feature column(s) {missing}")
    return np.column_stack([cols.numeric(n) for n in names]).astype(float)


def _rfm_edges(values: np.ndarray) -> np.ndarray:
    """Quintile edges (4 inner cut points) of the non-missing values."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(4)
    return np.asarray(np.quantile(finite, [0.2, 0.4, 0.6, 0.8]), dtype=float)


class _BaselineScorer(BaseEstimator):  # type: ignore[misc]
    """Shared fitting, explanation and drift reference of the baseline scorers."""

    scorers: ClassVar[dict[str, tuple[str, ...]]] = {}

    def __init__(self, kind: str = "bgnbd", horizon_days: int = 90) -> None:
        self.kind = kind
        self.horizon_days = horizon_days

    # --- fitting -------------------------------------------------------------------------------
    def _check_kind(self) -> tuple[str, ...]:
        if self.kind not in self.scorers:
            raise TieringError(f"baseline scorer {self.kind!r}: must be one of "
                               f"{', '.join(self.scorers)}")
        return self.scorers[self.kind]

    def _fit_inputs(self, X: pd.DataFrame, as_of: Any) -> tuple[np.ndarray, np.ndarray]:
        """The inputs of every row and the mask of the latest snapshot's rows."""
        names = self._check_kind()
        dates = pd.to_datetime(pd.Series(np.asarray(X["as_of"] if as_of is None else as_of)))
        latest = (dates == dates.max()).to_numpy()
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.training_dates_ = np.sort(dates.unique())
        self.validation_dates_ = self.training_dates_[-1:]
        inputs = _matrix(X, names)
        self._fit_parameters(inputs[latest])
        ref = np.nanmedian(np.where(np.isfinite(inputs[latest]), inputs[latest], np.nan), axis=0)
        self.reference_ = np.where(np.isfinite(ref), ref, 0.0)
        return inputs, latest

    def _fit_parameters(self, latest_inputs: np.ndarray) -> None:
        """Learn the scorer's own parameters (BG/NBD, quintile edges) from the latest snapshot."""
        kind = self.kind
        if kind in ("bgnbd", "bgnbd_gamma_gamma"):
            summary = pd.DataFrame(latest_inputs[:, :3], columns=["frequency", "recency", "T"])
            if kind == "bgnbd_gamma_gamma":
                summary["monetary"] = latest_inputs[:, 3]
            summary = summary.dropna()
            if len(summary) < 2:
                raise TieringError(f"baseline {kind}: fewer than 2 customers with a purchase")
            self.bgnbd_ = BetaGeoModel().fit(summary)
            self.gamma_gamma_ = (GammaGammaModel().fit(summary) if kind == "bgnbd_gamma_gamma"
                                 else None)
        if kind == "rfm_score":
            days, count, amount = latest_inputs.T
            never = np.nanmax(days) + 1 if np.isfinite(days).any() else 1.0
            self.never_days_ = float(never)
            self.rfm_edges_ = np.vstack([_rfm_edges(-np.where(np.isnan(days), never, days)),
                                         _rfm_edges(np.nan_to_num(count)),
                                         _rfm_edges(np.nan_to_num(amount))])

    def _fit_reference_profile(self, inputs: np.ndarray, latest: np.ndarray, name: str,
                               served: np.ndarray) -> None:
        """Drift reference: the latest snapshot's inputs and the served score (``name``)."""
        names = [str(n) for n in self.feature_names_in_]
        profiles = {n: profile_column(pd.Series(inputs[latest, i])) for i, n in enumerate(names)}
        profiles[name] = profile_column(pd.Series(served))
        self.reference_profile_ = profiles

    # --- the scorer's own numbers ----------------------------------------------------------------
    def _rfm(self, inputs: np.ndarray) -> np.ndarray:
        days, count, amount = inputs.T
        parts = (-np.where(np.isnan(days), self.never_days_, days), np.nan_to_num(count),
                 np.nan_to_num(amount))
        total = np.zeros(len(inputs))
        for edges, part in zip(self.rfm_edges_, parts, strict=True):
            total += np.searchsorted(edges, part, side="left") + 1.0
        return total

    def _bgnbd_frame(self, inputs: np.ndarray) -> pd.DataFrame:
        frame = pd.DataFrame(inputs[:, :3], columns=["frequency", "recency", "T"])
        if inputs.shape[1] > 3:
            frame["monetary"] = inputs[:, 3]
        return frame

    def _output(self, inputs: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # --- serving -------------------------------------------------------------------------------
    def raw_score(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """The score on the explained scale (churn: calibrated log-odds; value: log amount)."""
        check_is_fitted(self, "reference_")
        return self._output(_matrix(X, [str(n) for n in self.feature_names_in_]))

    def contribution_values(self, X: pd.DataFrame | Columns) -> Contributions:
        """Exact Shapley values over the inputs, then the bias; rows add up to :meth:`raw_score`."""
        check_is_fitted(self, "reference_")
        names = [str(n) for n in self.feature_names_in_]
        values = exact_shapley(self._output, _matrix(X, names), self.reference_)
        return Contributions(names, values)

    def contributions(self, X: pd.DataFrame | Columns) -> pd.DataFrame:
        """:meth:`contribution_values` as a frame (one column per input, then ``bias``)."""
        index = X.index if isinstance(X, pd.DataFrame) else None
        return self.contribution_values(X).frame(index)

    def describe(self) -> dict[str, Any]:
        """The fitted parameters, for the run and the model card."""
        check_is_fitted(self, "reference_")
        out: dict[str, Any] = {"kind": self.kind, "inputs": [str(n) for n in self.feature_names_in_],
                               "reference": dict(zip([str(n) for n in self.feature_names_in_],
                                                     self.reference_.tolist(), strict=True))}
        if getattr(self, "bgnbd_", None) is not None:
            out["bgnbd"] = dict(self.bgnbd_.params_)
        gamma_gamma = getattr(self, "gamma_gamma_", None)
        if gamma_gamma is not None:
            out["gamma_gamma"] = dict(gamma_gamma.params_)
        if getattr(self, "rfm_edges_", None) is not None:
            out["rfm_quintile_edges"] = self.rfm_edges_.tolist()
        for name in ("platt_", "amount_by_score_"):
            if getattr(self, name, None) is not None:
                value = getattr(self, name)
                out[name.rstrip("_")] = value if isinstance(value, dict) else list(value)
        return out


class BaselineChurnScorer(ClassifierMixin, _BaselineScorer):  # type: ignore[misc]
    """A churn baseline that serves: BG/NBD, the RFM score or days since the last order.

    Parameters
    ----------
    kind
        ``"bgnbd"`` (P(no purchase in the horizon) from the BTYD triple), ``"rfm_score"`` (18 minus
        the RFM quintile score, with the quintile edges of the latest snapshot) or
        ``"days_since_last_order"`` (log1p of the days).
    horizon_days
        The churn horizon (BG/NBD's prediction window).
    """

    scorers: ClassVar[dict[str, tuple[str, ...]]] = CHURN_SCORERS

    def _uncalibrated(self, inputs: np.ndarray) -> np.ndarray:
        if self.kind == "bgnbd":
            p = np.ones(len(inputs))
            known = ~np.isnan(inputs).any(axis=1)
            if known.any():
                p[known] = self.bgnbd_.probability_no_purchase(
                    self._bgnbd_frame(inputs[known]), self.horizon_days)
            p = np.clip(p, _P_CLIP, 1 - _P_CLIP)
            return np.asarray(np.log(p / (1 - p)), dtype=float)
        if self.kind == "rfm_score":
            return 18.0 - self._rfm(inputs)
        days = inputs[:, 0]
        return np.asarray(np.log1p(np.where(np.isnan(days), self.never_days_,
                                            np.clip(days, 0, None))), dtype=float)

    def _output(self, inputs: np.ndarray) -> np.ndarray:
        a, b = self.platt_
        return np.asarray(a * self._uncalibrated(inputs) + b, dtype=float)

    def fit(self, X: pd.DataFrame, y: Any, as_of: Any = None) -> BaselineChurnScorer:
        """Fit the scorer on the latest snapshot and its Platt map on every snapshot's labels.

        Parameters
        ----------
        X
            Snapshot frame with the scorer's input columns (and ``as_of`` unless passed).
        y
            0/1 churn labels.
        as_of
            Snapshot date per row (default ``X["as_of"]``).
        """
        if self.kind == "days_since_last_order":
            days = pd.to_numeric(X["days_since_last_order"]).to_numpy(dtype=float)
            self.never_days_ = float(np.nanmax(days) + 1) if np.isfinite(days).any() else 1.0
        inputs, latest = self._fit_inputs(X, as_of)
        y_arr = np.asarray(y, dtype=float)
        if len(np.unique(y_arr)) < 2:
            raise TieringError("baseline churn scorer: the labels have a single class")
        self.platt_ = fit_platt(self._uncalibrated(inputs), y_arr)
        self.classes_ = np.array([0, 1])
        self._fit_reference_profile(inputs, latest, "churn_probability",
                                    expit(self._output(inputs[latest])))
        return self

    def predict_log_odds(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """Calibrated log-odds of churn."""
        return self.raw_score(X)

    def predict_proba(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """Columns (not churned, churned)."""
        p = expit(self.raw_score(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """1 where the churn probability is at least 0.5."""
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def calibrated_contribution_values(self, X: pd.DataFrame | Columns) -> Contributions:
        """Contributions on the calibrated log-odds scale (the scorer is already calibrated)."""
        return self.contribution_values(X)

    def calibrated_contributions(self, X: pd.DataFrame | Columns) -> pd.DataFrame:
        """:meth:`calibrated_contribution_values` as a frame."""
        return self.contributions(X)


class BaselineValueScorer(RegressorMixin, _BaselineScorer):  # type: ignore[misc]
    """A value baseline that serves: BG/NBD + Gamma-Gamma, last period, recency rule or RFM.

    Parameters
    ----------
    kind
        ``"bgnbd_gamma_gamma"`` (expected purchases times expected spend), ``"last_period"`` (the
        last window as long as the horizon, scaled), ``"recency_rule"`` (the 365-day run rate while
        the customer ordered within twice the horizon, else 0) or ``"rfm_score"`` (the mean future
        amount of the training customers with the same RFM score).
    horizon_days
        The value horizon in days.
    """

    scorers: ClassVar[dict[str, tuple[str, ...]]] = VALUE_SCORERS

    def _amount(self, inputs: np.ndarray) -> np.ndarray:
        h = float(self.horizon_days)
        if self.kind == "bgnbd_gamma_gamma":
            value = np.zeros(len(inputs))
            known = ~np.isnan(inputs).any(axis=1)
            if known.any():
                rows = self._bgnbd_frame(inputs[known])
                assert self.gamma_gamma_ is not None  # fitted with the kind
                value[known] = (self.bgnbd_.conditional_expected_purchases(rows, h)
                                * self.gamma_gamma_.conditional_expected_spend(rows))
            return value
        if self.kind == "last_period":
            window = min(WINDOWS_DAYS, key=lambda w: (abs(w - h), w))
            column = WINDOWS_DAYS.index(window)
            return np.asarray(np.clip(np.nan_to_num(inputs[:, column]), 0, None) * h / window,
                              dtype=float)
        if self.kind == "recency_rule":
            days, amount = inputs.T
            active = np.nan_to_num(days, nan=np.inf) <= 2 * h
            return np.asarray(np.where(active, np.clip(np.nan_to_num(amount), 0, None) * h / 365.0,
                                       0.0), dtype=float)
        scores = self._rfm(inputs).astype(int)
        table = np.asarray(self.amount_by_score_, dtype=float)
        return np.asarray(table[np.clip(scores, 3, 15) - 3], dtype=float)

    def _output(self, inputs: np.ndarray) -> np.ndarray:
        return np.asarray(np.log(np.maximum(self._amount(inputs), VALUE_FLOOR)), dtype=float)

    def fit(self, X: pd.DataFrame, y: Any, as_of: Any = None) -> BaselineValueScorer:
        """Fit the scorer's parameters on the latest snapshot (and RFM's amounts on every one).

        Parameters
        ----------
        X
            Snapshot frame with the scorer's input columns (and ``as_of`` unless passed).
        y
            Future net amounts (currency); only the RFM scorer learns from them.
        as_of
            Snapshot date per row (default ``X["as_of"]``).
        """
        inputs, latest = self._fit_inputs(X, as_of)
        if self.kind == "rfm_score":
            # quintile edges come from the latest snapshot (_fit_inputs); amounts from every one
            scores = self._rfm(inputs).astype(int)
            y_arr = np.clip(np.asarray(y, dtype=float), 0, None)
            overall = float(y_arr.mean()) if len(y_arr) else 0.0
            means = pd.Series(y_arr).groupby(scores).mean()
            # monotone in the score, as a rank must be: a running maximum over the scores
            table = np.maximum.accumulate([float(means.get(s, overall)) for s in range(3, 16)])
            self.amount_by_score_ = table.tolist()
        self._fit_reference_profile(inputs, latest, "expected_value_next_period",
                                    np.exp(self._output(inputs[latest])))
        return self

    def predict(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """Expected net amount in the horizon (currency, at least :data:`VALUE_FLOOR`)."""
        return np.asarray(np.exp(self.raw_score(X)), dtype=float)
