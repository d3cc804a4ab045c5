"""Value model: LightGBM Tweedie regression of the net amount bought in the horizon.

Tweedie (variance power between 1 and 2) is a compound Poisson-gamma loss: an exact mass at zero
(customers who buy nothing) plus a right-skewed positive part, which is what ``future_amount`` looks
like. The raw score is the log of the expected amount, so contributions add up on the log scale.

Negative targets (returns exceeding purchases in the horizon) are clipped at 0 before fitting: the
Tweedie likelihood is undefined below zero, and the model's job is to rank the purchases a customer
will bring; net returns are a separate risk (``return_share_365d`` feeds the scorecard). The count
of clipped rows is kept in ``n_clipped_``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import RegressorMixin

from customer_tiering.core.columns import Columns
from customer_tiering.core.errors import TieringError
from customer_tiering.models._lgbm import _LGBMSnapshotModel

__all__ = ["ValueModel"]


class ValueModel(RegressorMixin, _LGBMSnapshotModel):  # type: ignore[misc]
    """LightGBM Tweedie regressor of ``future_amount`` on stacked snapshots.

    Parameters
    ----------
    tweedie_variance_power : in (1, 2); near 1 is Poisson-like, near 2 gamma-like. Default 1.5.
    Other parameters as :class:`customer_tiering.models.churn.ChurnModel`.
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
        tweedie_variance_power: float = 1.5,
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
        self.tweedie_variance_power = tweedie_variance_power

    def _objective_params(self) -> dict[str, Any]:
        p = self.tweedie_variance_power
        if not 1.0 <= p < 2.0:
            raise TieringError(f"tweedie_variance_power must be in [1, 2), got {p}")
        return {"objective": "tweedie", "tweedie_variance_power": p, "metric": "tweedie"}

    def _prepare_target(self, y: np.ndarray) -> np.ndarray:
        self.n_clipped_ = int((y < 0).sum())
        return np.asarray(np.clip(y, 0.0, None))

    def fit(self, X: pd.DataFrame, y: Any, as_of: Any = None) -> ValueModel:
        """Stop early on the latest snapshot(s), then learn from every snapshot (``refit``).

        Parameters
        ----------
        X : snapshot frame with the feature columns (and ``as_of`` unless passed).
        y : future_amount (negative values clipped at 0).
        as_of : snapshot date per row (default ``X["as_of"]``).

        Returns
        -------
        ValueModel
            ``self``.

        Raises
        ------
        TieringError
            When ``tweedie_variance_power`` is outside [1, 2) or the time split leaves nothing to
            train on.
        """
        split = self._fit_booster(X, y, as_of)
        self._profile_reference(X.iloc[np.flatnonzero(split.valid)], "expected_value_next_period",
                                np.exp(split.valid_raw))
        return self

    def predict(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """Expected net amount in the horizon (``exp`` of the raw log score).

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        numpy.ndarray
            Currency, one value per row.
        """
        return np.asarray(np.exp(self.raw_score(X)))
