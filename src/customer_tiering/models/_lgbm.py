"""Fit/predict plumbing shared by the churn and value LightGBM estimators.

Not public: :class:`churn.ChurnModel` and :class:`value.ValueModel` are the interface. The base
class owns the time split (purged of training dates whose labels overlap the validation window),
early stopping, the refit on every snapshot, the category handling and the contributions on the
raw scale; subclasses choose the objective and how a raw score becomes a prediction. Why purge and
refit: docs/decisions.md, "Early stopping on a purged window".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from customer_tiering.core.columns import Columns
from customer_tiering.core.errors import TieringError
from customer_tiering.ingest import contract as schemas
from customer_tiering.models.fast_treeshap import Unsupported, treeshap_tables, warm_up
from customer_tiering.models.modeling import (
    Contributions,
    additive_contributions,
    customer_split,
    feature_matrix,
    fit_categories,
    predict_threads,
    prepare_features,
    time_split,
)


class _FitSplit(NamedTuple):
    """What a fit hands its subclass: the time split and held-out scores on validation."""

    train: np.ndarray  # rows the selection booster learnt from (purged dates excluded)
    valid: np.ndarray  # rows of the validation window
    valid_raw: np.ndarray  # selection booster's raw scores on the validation rows


def frame_index(X: pd.DataFrame | Columns) -> pd.Index | None:
    """The row labels of a frame (results keep them); columns have none.

    Parameters
    ----------
    X : a feature frame or :class:`~customer_tiering.core.columns.Columns`.

    Returns
    -------
    pandas.Index or None
    """
    return X.index if isinstance(X, pd.DataFrame) else None


class _LGBMSnapshotModel(BaseEstimator):  # type: ignore[misc]
    """LightGBM on stacked snapshots with early stopping on the latest snapshot date(s)."""

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
        random_state: int = 0,
        num_threads: int = 2,
        extra_params: dict[str, Any] | None = None,
    ) -> None:
        self.features = features
        self.categorical = categorical
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_snapshots = validation_snapshots
        self.label_horizon_days = label_horizon_days
        self.refit = refit
        self.fixed_rounds = fixed_rounds
        self.validation_split = validation_split
        self.additive = additive
        self.random_state = random_state
        self.num_threads = num_threads
        self.extra_params = extra_params

    # --- subclass hooks -------------------------------------------------------------------------
    def _objective_params(self) -> dict[str, Any]:
        raise NotImplementedError

    def _prepare_target(self, y: np.ndarray) -> np.ndarray:
        return y

    # --- fitting --------------------------------------------------------------------------------
    def _lgb_params(self, n_features: int) -> dict[str, Any]:
        params: dict[str, Any] = {
            "learning_rate": self.learning_rate,
            "max_depth": self.max_depth,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "lambda_l2": self.reg_lambda,
            "seed": self.random_state,
            # Same seed and same thread count give bit-identical trees (LightGBM docs).
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": self.num_threads,
            "verbosity": -1,
            **self._objective_params(),
        }
        if self.additive:
            # One feature per tree: each tree's SHAP value is a leaf-table lookup
            # (customer_tiering.models.modeling.additive_contributions).
            params["interaction_constraints"] = [[i] for i in range(n_features)]
        params.update(self.extra_params or {})
        return params

    def _fit_booster(self, X: pd.DataFrame, y: Any, as_of: Any) -> _FitSplit:
        """Fit ``booster_``: choose the rounds on held-out time, then (``refit``) learn from all.

        1. The selection booster learns from the training dates (purged of those whose label
           window overlaps the validation window) and stops early on the validation window.
        2. With ``refit``, the final booster learns ``best_iteration_`` rounds from every row,
           validation and purged dates included, so the model knows the latest months. Without
           it, the selection booster is the model.

        Returns the masks and the selection booster's raw scores on the validation rows: scores
        of a model that never learnt from them, for calibration and the drift reference.
        """
        features = list(self.features) if self.features is not None else list(
            schemas.FEATURE_COLUMNS)
        categorical = [c for c in (self.categorical if self.categorical is not None
                                   else schemas.CATEGORICAL_FEATURES) if c in features]
        if as_of is None:
            if "as_of" not in X.columns:
                raise TieringError("fit needs the snapshot dates: pass as_of= or an 'as_of' column")
            as_of = X["as_of"]
        y_arr = np.asarray(y, dtype="float64")
        if len(y_arr) != len(X) or len(np.asarray(as_of)) != len(X):
            raise TieringError(f"X has {len(X)} rows but y has {len(y_arr)} and as_of "
                               f"{len(np.asarray(as_of))}")
        if np.isnan(y_arr).any():
            raise TieringError(f"target has {int(np.isnan(y_arr).sum())} null value(s)")
        train, valid = self._split(X, as_of)
        learnt_from = np.ones(len(X), dtype=bool) if self.refit else train
        self.categories_ = fit_categories(X.iloc[np.flatnonzero(learnt_from)], categorical)
        self.feature_names_in_ = np.asarray(features, dtype=object)
        self.n_features_in_ = len(features)
        Xp = prepare_features(X, features, self.categories_)
        target = self._prepare_target(y_arr)
        params = self._lgb_params(len(features))
        dtrain = lgb.Dataset(Xp[train], target[train], categorical_feature=categorical,
                             free_raw_data=False)
        dvalid = lgb.Dataset(Xp[valid], target[valid], reference=dtrain,
                             categorical_feature=categorical, free_raw_data=False)
        if self.fixed_rounds is not None:
            # rounds chosen elsewhere (the serving refit repeats the gated fit's rounds): no early
            # stopping, but the validation window is still held out for calibration and drift
            selection = lgb.train(params, dtrain, num_boost_round=self.fixed_rounds)
            self.best_iteration_ = int(self.fixed_rounds)
        else:
            selection = lgb.train(
                params, dtrain, num_boost_round=self.n_estimators, valid_sets=[dvalid],
                valid_names=["valid"],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            self.best_iteration_ = int(selection.best_iteration or selection.current_iteration())
        valid_raw = np.asarray(selection.predict(Xp[valid], num_iteration=self.best_iteration_,
                                                 raw_score=True))
        if self.refit:
            everything = lgb.Dataset(Xp, target, categorical_feature=categorical)
            self.booster_ = lgb.train(params, everything, num_boost_round=self.best_iteration_)
        else:
            self.booster_ = selection
        dates = pd.to_datetime(pd.Series(np.asarray(as_of)))
        self.validation_dates_ = np.sort(dates[valid].unique())
        self.training_dates_ = np.sort(dates[learnt_from].unique())
        return _FitSplit(train, valid, valid_raw)

    def _split(self, X: pd.DataFrame, as_of: Any) -> tuple[np.ndarray, np.ndarray]:
        """Validation by time (purged) when the dates allow it, else by held-out customers."""
        if self.validation_split not in ("auto", "time", "customers"):
            raise TieringError(f"validation_split must be 'auto', 'time' or 'customers', got "
                               f"{self.validation_split!r}")
        how = self.validation_split
        if how in ("auto", "time"):
            try:
                self.validation_split_ = "time"
                return time_split(as_of, self.validation_snapshots, self.label_horizon_days)
            except TieringError:
                if how == "time":
                    raise
        if "customer_id" not in X.columns:
            raise TieringError("validation by customers needs a customer_id column")
        self.validation_split_ = "customers"
        return customer_split(X["customer_id"], as_of, seed=self.random_state)

    def _profile_reference(self, X_valid: pd.DataFrame, score_name: str, scores: np.ndarray
                           ) -> None:
        """Keep ``reference_profile_``: the validation window's feature and score distributions.

        The validation window is the latest snapshot the model learnt from, so it is the
        reference a rating's drift (PSI, :mod:`customer_tiering.models.drift`) is measured against.
        """
        from customer_tiering.models.drift import profile_column, profile_frame

        profiles = profile_frame(X_valid, [str(c) for c in self.feature_names_in_])
        profiles[score_name] = profile_column(pd.Series(np.asarray(scores, dtype=float)))
        self.reference_profile_ = profiles

    # --- prediction -----------------------------------------------------------------------------
    def _prepared(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """The booster's input: columns in fit order, category codes fixed at fit, as floats."""
        check_is_fitted(self, "booster_")
        return feature_matrix(X, list(self.feature_names_in_), self.categories_)

    def _feature_names(self) -> list[str]:
        return [str(f) for f in self.feature_names_in_]

    def _predict(self, Xp: np.ndarray, **kind: bool) -> np.ndarray:
        return np.asarray(self.booster_.predict(Xp, num_iteration=self.best_iteration_,
                                                num_threads=predict_threads(len(Xp)), **kind))

    def raw_score(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """The booster's raw score (log-odds for churn, log of the mean for value).

        This is the scale on which :meth:`contributions` add up exactly.

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        numpy.ndarray
            One raw score per row.
        """
        return self._predict(self._prepared(X), raw_score=True)

    def contributions(self, X: pd.DataFrame | Columns) -> pd.DataFrame:
        """Exact TreeSHAP contributions on the raw scale, one column per feature + ``bias``.

        Each row sums to :meth:`raw_score`. The numbers are LightGBM ``pred_contrib``'s
        (TreeSHAP [1]_), computed faster: from per-leaf tables built once per model
        (:mod:`customer_tiering.models.fast_treeshap`, FastTreeSHAP v2 [2]_), or for
        ``additive=True`` from ``pred_leaf`` and one table per tree; ``pred_contrib`` itself
        for the shapes the tables refuse (:meth:`contribution_method` says which).

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        pandas.DataFrame
            Indexed like ``X`` when it is a frame.

        References
        ----------
        .. [1] Lundberg, S. M., Erion, G., Chen, H., DeGrave, A., Prutkin, J. M., Nair, B.,
           Katz, R., Himmelfarb, J., Bansal, N. and Lee, S.-I. (2020). From local explanations
           to global understanding with explainable AI for trees. *Nature Machine Intelligence*
           2, 56-67 (TreeSHAP, Algorithm 2; LightGBM's ``pred_contrib`` implements it).
        .. [2] Yang, J. (2022). Fast TreeSHAP: Accelerating SHAP value computation for trees.
           arXiv:2109.09847.
        """
        return self.contribution_values(X).frame(frame_index(X))

    def contribution_values(self, X: pd.DataFrame | Columns) -> Contributions:
        """:meth:`contributions` without the frame (the scoring path's form).

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        Contributions
        """
        Xp = self._prepared(X)
        if self.additive:
            values = additive_contributions(self.booster_, Xp, self.best_iteration_)
        else:
            tables = treeshap_tables(self.booster_, self.best_iteration_)
            values = (self._predict(Xp, pred_contrib=True) if isinstance(tables, Unsupported)
                      else tables.contributions(Xp))
        return Contributions(self._feature_names(), values)

    def warm_up(self) -> None:
        """Build the TreeSHAP tables and load the compiled kernel now, not at the first
        :meth:`contributions` (champions call it when they load; additive trees need nothing)."""
        check_is_fitted(self, "booster_")
        if not self.additive:
            warm_up(self.booster_, self.best_iteration_)

    def contribution_method(self) -> str:
        """How :meth:`contributions` computes: ``leaf tables (additive trees)``, ``TreeSHAP
        tables (N MB)``, or ``pred_contrib: <why the tables refuse this model>``.

        Returns
        -------
        str
        """
        check_is_fitted(self, "booster_")
        if self.additive:
            return "leaf tables (additive trees)"
        tables = treeshap_tables(self.booster_, self.best_iteration_)
        if isinstance(tables, Unsupported):
            return f"pred_contrib: {tables.reason}"
        return f"TreeSHAP tables ({tables.nbytes / 2**20:.1f} MB)"

    def leaf_table_contributions(self, X: pd.DataFrame | Columns) -> pd.DataFrame:
        """Contributions from ``pred_leaf`` + per-tree tables; only for ``additive=True`` models.

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        pandas.DataFrame
            As :meth:`contributions`.

        Raises
        ------
        TieringError
            When a tree splits on more than one feature.
        """
        values = additive_contributions(self.booster_, self._prepared(X), self.best_iteration_)
        return Contributions(self._feature_names(), values).frame(frame_index(X))

    def pred_contrib(self, X: pd.DataFrame | Columns) -> pd.DataFrame:
        """Contributions from LightGBM ``pred_contrib`` whatever the tree shape.

        Parameters
        ----------
        X : rows with the model's feature columns.

        Returns
        -------
        pandas.DataFrame
            As :meth:`contributions`.
        """
        values = self._predict(self._prepared(X), pred_contrib=True)
        return Contributions(self._feature_names(), values).frame(frame_index(X))
