"""Churn model: LightGBM on stacked snapshots, early stopping and calibration on held-out time.

Label (:data:`~customer_tiering.ingest.contract.LABEL_COLUMNS`): ``churned`` = 1 when the customer
places no positive order within the horizon after ``as_of``.

Calibration choice: **Platt scaling** (Platt 1999, see :func:`fit_platt`) on the raw log-odds,
fitted on the validation window (the latest snapshot date(s), never seen by the trees). Why Platt
and not isotonic:

* it is an affine map of the log-odds, ``a * raw + b``, so an explanation stays exact and additive
  on the calibrated log-odds scale: multiply every contribution by ``a`` and give ``b`` (plus
  ``a * bias``) to the bias - see :meth:`ChurnModel.calibrated_contributions`;
* two parameters are stable on a one-snapshot window of a few thousand rows, where isotonic
  regression overfits and produces ties (customers with different scores get equal probabilities,
  which breaks ranking);
* the usual miscalibration here is a shift of base rate between training dates and later dates
  plus boosting's over-confidence, which an affine log-odds map fixes.

``calibration="isotonic"`` is available (a monotone but step-wise map; apportioning it needs the
explainer to split ``calibrate(raw) - calibrate(bias)`` in proportion, documented there), and
``calibration=None`` returns the raw sigmoid.

The same window serves early stopping and calibration: choosing one iteration count is a mild use,
and splitting an already small latest window in two costs more than it saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.base import ClassifierMixin
from sklearn.isotonic import IsotonicRegression
from sklearn.utils.validation import check_is_fitted

from customer_tiering.core.columns import Columns
from customer_tiering.core.errors import TieringError
from customer_tiering.models._lgbm import _LGBMSnapshotModel, frame_index
from customer_tiering.models.modeling import Contributions

__all__ = ["ChurnModel", "fit_platt"]

Calibration = Literal["platt", "isotonic"] | None


def fit_platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Fit ``P(y=1) = sigmoid(a * raw + b)`` by maximum likelihood (no regularisation).

    Platt's sigmoid fit [1]_ on a held-out window; unlike Platt we fit the plain 0/1 targets
    (his smoothed targets guard small samples, and a validation window has thousands of rows).

    Parameters
    ----------
    raw : raw log-odds scores.
    y : 0/1 outcomes.

    Returns
    -------
    (a, b).

    References
    ----------
    .. [1] Platt, J. C. (1999). Probabilistic outputs for support vector machines and comparisons
       to regularized likelihood methods. In A. J. Smola, P. Bartlett, B. Scholkopf and
       D. Schuurmans (eds.), *Advances in Large Margin Classifiers*, 61-74. MIT Press.
    """
    raw = np.asarray(raw, dtype="float64")
    y = np.asarray(y, dtype="float64")

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] * raw + theta[1]
        # log(1 + e^z) - y z, written stably
        nll = float(np.sum(np.logaddexp(0.0, z) - y * z))
        r = expit(z) - y
        return nll, np.array([np.dot(r, raw), r.sum()])

    res = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


class ChurnModel(ClassifierMixin, _LGBMSnapshotModel):  # type: ignore[misc]
    """LightGBM churn classifier on stacked (customer_id, as_of) snapshots.

    Parameters
    ----------
    features, categorical : columns used (default: the contract's FEATURE_COLUMNS and
        CATEGORICAL_FEATURES).
    n_estimators : maximum boosting rounds; early stopping picks the number used.
    learning_rate, num_leaves, min_child_samples, reg_lambda : LightGBM parameters.
    max_depth : bounded (default 5) because TreeSHAP cost grows with depth squared.
    early_stopping_rounds : patience on the validation window's log-loss.
    validation_snapshots : latest distinct ``as_of`` dates used to validate and calibrate.
    label_horizon_days : how far each label looks ahead; training dates whose label window
        overlaps the validation window are purged from the early-stopping fit (see
        :func:`customer_tiering.models.modeling.time_split`). The training job sets it to the horizon.
    refit : after early stopping, learn the chosen number of rounds from every snapshot
        (validation and purged dates included); calibration stays fitted on held-out scores.
    fixed_rounds : when set, no early stopping: exactly this many rounds (the training job's
        serving refit repeats the rounds its gated fit chose); the validation window is still held
        out from the calibration booster.
    additive : one feature per tree, so explanations are a leaf-table lookup at predict speed.
    calibration : ``"platt"`` (default), ``"isotonic"`` or ``None``.
    random_state, num_threads : fixed for bit-identical refits.
    extra_params : more LightGBM parameters (override the above).
    """

    def __init__(
        self,
        *,
        features: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        max_depth: int = 5,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        reg_lambda: float = 0.0,
        early_stopping_rounds: int = 50,
        validation_snapshots: int = 1,
        label_horizon_days: int = 0,
        refit: bool = True,
        fixed_rounds: int | None = None,
        validation_split: str = "auto",
        additive: bool = False,
        calibration: Calibration = "platt",
        random_state: int = 0,
        num_threads: int = 2,
        extra_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            features=features, categorical=categorical, n_estimators=n_estimators,
            learning_rate=learning_rate, max_depth=max_depth, num_leaves=num_leaves,
            min_child_samples=min_child_samples, reg_lambda=reg_lambda,
            early_stopping_rounds=early_stopping_rounds,
            validation_snapshots=validation_snapshots, label_horizon_days=label_horizon_days,
            refit=refit, fixed_rounds=fixed_rounds, validation_split=validation_split,
            additive=additive,
            random_state=random_state, num_threads=num_threads, extra_params=extra_params,
        )
        self.calibration = calibration

    def _objective_params(self) -> dict[str, Any]:
        return {"objective": "binary", "metric": "binary_logloss"}

    def _prepare_target(self, y: np.ndarray) -> np.ndarray:
        bad = ~np.isin(y, (0.0, 1.0))
        if bad.any():
            raise TieringError(f"churn label must be 0/1; found {sorted(set(y[bad].tolist()))[:5]}")
        return y

    def fit(self, X: pd.DataFrame, y: Any, as_of: Any = None) -> ChurnModel:
        """Stop early and calibrate on the latest snapshot(s), then learn from all (``refit``).

        The calibration map is fitted on the validation window's scores from the booster that
        did not learn from it; the refit booster has the same rounds and learning rate, so its
        log-odds are on the same scale, and every training run checks the calibration again on
        the later holdout (Brier score, calibration table).

        Parameters
        ----------
        X : snapshot frame with the feature columns (and ``as_of`` unless passed).
        y : 0/1 churn labels.
        as_of : snapshot date per row (default ``X["as_of"]``).

        Returns
        -------
        ChurnModel
            ``self``.

        Raises
        ------
        TieringError
            When a label is not 0/1, the time split leaves nothing to train on, the validation
            window holds a single class, or ``calibration`` is unknown.
        """
        split = self._fit_booster(X, y, as_of)
        valid, raw_valid = split.valid, split.valid_raw
        self.classes_ = np.array([0, 1])
        y_valid = np.asarray(y, dtype="float64")[valid]
        if len(np.unique(y_valid)) < 2 and self.calibration is not None:
            raise TieringError("the validation window has a single class; cannot calibrate "
                               f"(dates {[str(d)[:10] for d in self.validation_dates_]})")
        self.platt_: tuple[float, float] | None = None
        self.isotonic_: IsotonicRegression | None = None
        if self.calibration == "platt":
            self.platt_ = fit_platt(raw_valid, y_valid)
        elif self.calibration == "isotonic":
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
            self.isotonic_ = iso.fit(raw_valid, y_valid)
        elif self.calibration is not None:
            raise TieringError(f"calibration must be 'platt', 'isotonic' or None, "
                               f"got {self.calibration!r}")
        self._profile_reference(X.iloc[np.flatnonzero(valid)], "churn_probability",
                                self.calibrate(raw_valid))
        return self

    # --- scores ---------------------------------------------------------------------------------
    def predict_log_odds(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """Uncalibrated log-odds (same as :meth:`raw_score`).

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        numpy.ndarray
        """
        return self.raw_score(X)

    def calibrate(self, raw: np.ndarray) -> np.ndarray:
        """Map raw log-odds to calibrated churn probabilities (monotone non-decreasing).

        Parameters
        ----------
        raw : raw log-odds (:meth:`raw_score`).

        Returns
        -------
        numpy.ndarray
            Probabilities in [0, 1]; the raw sigmoid when ``calibration=None``.
        """
        check_is_fitted(self, "booster_")
        raw = np.asarray(raw, dtype="float64")
        if self.platt_ is not None:
            a, b = self.platt_
            return np.asarray(expit(a * raw + b))
        if self.isotonic_ is not None:
            return np.asarray(self.isotonic_.predict(raw))
        return np.asarray(expit(raw))

    def predict_proba(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """Calibrated probabilities.

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        numpy.ndarray
            Two columns: not churned, churned.
        """
        p = self.calibrate(self.raw_score(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """1 where the calibrated churn probability is at least 0.5.

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        numpy.ndarray of int
        """
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def calibrated_contributions(self, X: pd.DataFrame | Columns) -> pd.DataFrame:
        """Contributions on the calibrated log-odds scale (Platt only): exact and additive.

        Row sums equal ``logit(predict_proba(X)[:, 1])``.

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        pandas.DataFrame
            One column per feature and ``bias``.

        Raises
        ------
        TieringError
            When the model is not Platt-calibrated.
        """
        return self.calibrated_contribution_values(X).frame(frame_index(X))

    def calibrated_contribution_values(self, X: pd.DataFrame | Columns) -> Contributions:
        """:meth:`calibrated_contributions` without the frame (the scoring path's form).

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        Contributions

        Raises
        ------
        TieringError
            When the model is not Platt-calibrated.
        """
        if self.platt_ is None:
            raise TieringError("calibrated_contributions needs calibration='platt'; with "
                               f"{self.calibration!r} apportion calibrate(raw) in the explainer")
        a, b = self.platt_
        raw = self.contribution_values(X)
        values = raw.values * a  # a times every term, and b once, on the bias
        values[:, -1] += b
        return Contributions(raw.features, values)
