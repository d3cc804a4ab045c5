"""Shared pieces of the LightGBM estimators: feature frames, the time split, leaf tables.

Pure functions only; the estimators in :mod:`churn` and :mod:`value` use them so both models see
the same columns in the same order with the same category codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.errors import TieringError

__all__ = [
    "BIAS_COLUMN",
    "additive_contributions",
    "fit_categories",
    "prepare_features",
    "time_split",
]

BIAS_COLUMN = "bias"


def fit_categories(X: pd.DataFrame, categorical: Sequence[str]) -> dict[str, list[str]]:
    """Return the sorted observed levels of each categorical column (nulls excluded).

    Parameters
    ----------
    X : frame holding the columns.
    categorical : names of the categorical columns.

    Returns
    -------
    dict mapping column name to its sorted list of levels, fixed at fit time.
    """
    out: dict[str, list[str]] = {}
    for c in categorical:
        levels = pd.Series(X[c]).dropna().astype(str).unique().tolist()
        out[c] = sorted(levels)
    return out


def prepare_features(
    X: pd.DataFrame,
    feature_names: Sequence[str],
    categories: dict[str, list[str]],
) -> pd.DataFrame:
    """Build the model's input frame: fixed column order, floats, categories fixed at fit.

    A level not seen at fit becomes NaN (LightGBM sends it down the missing-value branch) rather
    than a new code, so codes mean the same thing at fit and at predict time.

    Parameters
    ----------
    X : frame with at least ``feature_names``.
    feature_names : column order used at fit.
    categories : levels per categorical column, from :func:`fit_categories`.

    Returns
    -------
    A new frame with exactly ``feature_names``.

    Raises
    ------
    TieringError
        Naming every missing column.
    """
    missing = [c for c in feature_names if c not in X.columns]
    if missing:
        raise TieringError(
            f"feature frame lacks column(s) {missing}; expected {list(feature_names)}")
    cols: dict[str, Any] = {}
    for c in feature_names:
        if c in categories:
            values = pd.Series(X[c], copy=False)
            as_str = values.astype(object).where(values.notna(), None)
            as_str = as_str.map(lambda v: None if v is None else str(v))
            known = as_str.isin(categories[c])  # unseen levels -> NaN explicitly, not by coercion
            cols[c] = pd.Categorical(as_str.where(known, None), categories=categories[c])
        else:
            cols[c] = pd.to_numeric(pd.Series(X[c], copy=False), errors="coerce").astype("float64")
    return pd.DataFrame(cols, index=X.index)


def time_split(as_of: Sequence[Any] | pd.Series, validation_snapshots: int = 1) -> tuple[
    np.ndarray, np.ndarray
]:
    """Split stacked snapshots by time: the latest ``validation_snapshots`` dates validate.

    Never random: every validation date is later than every training date, so early stopping and
    calibration see the future the way production will.

    Parameters
    ----------
    as_of : snapshot date of each row.
    validation_snapshots : how many of the latest distinct dates form the validation window.

    Returns
    -------
    (train_mask, valid_mask) boolean arrays.

    Raises
    ------
    TieringError
        When there are not at least ``validation_snapshots + 1`` distinct dates, or a date is null.
    """
    dates = pd.to_datetime(pd.Series(as_of).reset_index(drop=True))
    if dates.isna().any():
        raise TieringError(
            f"as_of has {int(dates.isna().sum())} null value(s); every row needs a date")
    if validation_snapshots < 1:
        raise TieringError(f"validation_snapshots must be >= 1, got {validation_snapshots}")
    distinct = np.sort(dates.unique())
    if len(distinct) <= validation_snapshots:
        raise TieringError(
            f"time split needs more than {validation_snapshots} distinct as_of date(s) "
            f"(one or more to train on); got {len(distinct)}: {[str(d)[:10] for d in distinct]}"
        )
    cutoff = distinct[-validation_snapshots]
    valid = (dates >= cutoff).to_numpy()
    return ~valid, valid


def _tree_leaf_table(tree: dict[str, Any]) -> tuple[int | None, np.ndarray, float]:
    """Return (split feature or None, leaf value minus cover-weighted mean, mean) of a tree."""
    leaves: dict[int, tuple[float, float]] = {}
    features: set[int] = set()

    def walk(node: dict[str, Any]) -> None:
        if "leaf_index" in node:
            leaves[int(node["leaf_index"])] = (float(node["leaf_value"]), float(node["leaf_count"]))
            return
        if "split_feature" not in node:  # a tree with a single leaf
            leaves[0] = (float(node["leaf_value"]), 1.0)
            return
        features.add(int(node["split_feature"]))
        walk(node["left_child"])
        walk(node["right_child"])

    walk(tree["tree_structure"])
    if len(features) > 1:
        raise TieringError(f"tree {tree.get('tree_index')} splits on {len(features)} features; "
                           "the leaf table is exact only for one-feature trees (additive=True)")
    n = max(leaves) + 1
    values = np.array([leaves[i][0] for i in range(n)])
    counts = np.array([leaves[i][1] for i in range(n)])
    mean = float(np.dot(values, counts) / counts.sum())
    return (next(iter(features)) if features else None), values - mean, mean


def additive_contributions(booster: Any, X: pd.DataFrame, num_iteration: int | None = None
                           ) -> np.ndarray:
    """Exact TreeSHAP values of a one-feature-per-tree booster at plain predict speed.

    For a tree that splits on a single feature, that feature's SHAP value is the leaf value minus
    the tree's cover-weighted mean leaf value, and the mean goes to the bias. ``pred_leaf`` plus a
    per-tree table therefore reproduces ``pred_contrib`` (architecture.md: 168k rows/s vs ~2k).

    Parameters
    ----------
    booster : a fitted ``lightgbm.Booster`` trained with one feature per tree.
    X : prepared feature frame (see :func:`prepare_features`).
    num_iteration : iterations to use (default: the booster's best iteration).

    Returns
    -------
    Array of shape (n_rows, n_features + 1); the last column is the bias.
    """
    n_features, tables = _leaf_tables(booster, num_iteration)
    out = np.zeros((len(X), n_features + 1))
    # Rows in blocks: the leaf index matrix is rows x trees (600 trees x 1M rows = 2.4 GB).
    for start in range(0, len(X), _LEAF_BLOCK_ROWS):
        stop = min(start + _LEAF_BLOCK_ROWS, len(X))
        leaf_idx = np.asarray(booster.predict(X.iloc[start:stop], pred_leaf=True,
                                              num_iteration=num_iteration)).reshape(stop - start, -1)
        block = out[start:stop]
        for t, (feature, table, mean) in enumerate(tables[: leaf_idx.shape[1]]):
            block[:, -1] += mean
            if feature is not None:
                block[:, feature] += table[leaf_idx[:, t]]
    return out


_LEAF_BLOCK_ROWS = 100_000


def _leaf_tables(booster: Any, num_iteration: int | None) -> tuple[int, list[Any]]:
    """Per-tree leaf tables, computed once per booster: dumping 600 trees to JSON takes about
    half a second, which a one-customer what-if request must not pay every time."""
    cache: dict[int | None, tuple[int, list[Any]]] = getattr(booster, "_tiering_leaf_tables", {})
    if num_iteration not in cache:
        dump = booster.dump_model(num_iteration=num_iteration)
        cache[num_iteration] = (len(dump["feature_names"]),
                                [_tree_leaf_table(tree) for tree in dump["tree_info"]])
        booster._tiering_leaf_tables = cache
    return cache[num_iteration]

