"""Shared pieces of the LightGBM estimators: feature frames, the time split, leaf tables.

Pure functions only; the estimators in :mod:`churn` and :mod:`value` use them so both models see
the same columns in the same order with the same category codes.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.core.columns import Columns
from customer_tiering.core.errors import TieringError

__all__ = [
    "BIAS_COLUMN",
    "Contributions",
    "additive_contributions",
    "category_codes",
    "customer_split",
    "feature_matrix",
    "fit_categories",
    "predict_threads",
    "prepare_features",
    "time_split",
]

BIAS_COLUMN = "bias"


@dataclass(frozen=True)
class Contributions:
    """SHAP contributions on a model's raw scale: one column per feature, then the bias.

    The scoring path's form of a contributions frame (:meth:`frame` gives that frame): building
    a frame costs more than scoring one customer.
    """

    features: list[str]
    values: np.ndarray  # (rows, len(features) + 1); each row sums to the raw score

    @classmethod
    def of(cls, table: pd.DataFrame | Contributions) -> Contributions:
        """``table`` itself, or a frame with one column per feature and ``bias`` (anywhere).

        Parameters
        ----------
        table : a contributions frame or :class:`Contributions`.

        Returns
        -------
        Contributions
        """
        if isinstance(table, Contributions):
            return table
        features = [str(c) for c in table.columns if c != BIAS_COLUMN]
        return cls(features, table[[*features, BIAS_COLUMN]].to_numpy(dtype=float))

    @property
    def bias(self) -> np.ndarray:
        """The bias (the model's expected raw score) of each row."""
        return self.values[:, -1]

    @property
    def feature_values(self) -> np.ndarray:
        """The features' contributions, rows x features."""
        return self.values[:, :-1]

    def frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """As a frame: one column per feature, then ``bias``.

        Parameters
        ----------
        index : the row labels (default: 0..n-1).

        Returns
        -------
        pandas.DataFrame
        """
        return pd.DataFrame(self.values, columns=[*self.features, BIAS_COLUMN], index=index)


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
    # The frame of feature_matrix's numbers: one place decides codes (and unseen -> NaN).
    matrix = feature_matrix(X, feature_names, categories)
    cols: dict[str, Any] = {}
    for j, c in enumerate(feature_names):
        if c in categories:
            codes = np.nan_to_num(matrix[:, j], nan=-1.0).astype(np.int64)
            cols[c] = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories[c]))
        else:
            cols[c] = matrix[:, j]
    return pd.DataFrame(cols, index=X.index)


def feature_matrix(
    X: pd.DataFrame | Columns,
    feature_names: Sequence[str],
    categories: dict[str, list[str]],
) -> np.ndarray:
    """The float matrix LightGBM predicts on: :func:`prepare_features` without the frame.

    Same columns, same order, same category codes (the levels fixed at fit; an unseen or missing
    level is NaN), as float64. It is what LightGBM itself makes of the categorical frame on every
    ``predict``, without building that frame and without LightGBM's checks and copies, which
    are most of the cost of a one-customer what-if.

    Parameters
    ----------
    X : rows with at least ``feature_names``.
    feature_names : column order used at fit.
    categories : levels per categorical column, from :func:`fit_categories`.

    Returns
    -------
    numpy.ndarray
        ``(rows, len(feature_names))`` float64.

    Raises
    ------
    TieringError
        Naming every missing column.
    """
    columns = Columns.of(X)
    missing = [c for c in feature_names if c not in columns]
    if missing:
        raise TieringError(
            f"feature frame lacks column(s) {missing}; expected {list(feature_names)}")
    out = np.empty((columns.n_rows, len(feature_names)))
    for j, c in enumerate(feature_names):
        if c in categories:
            out[:, j] = category_codes(columns.text(c), categories[c])
        else:
            out[:, j] = columns.numeric(c)
    return out


def category_codes(values: np.ndarray, levels: Sequence[str]) -> np.ndarray:
    """Position of each value's text among ``levels`` as float, NaN for missing or unseen.

    Parameters
    ----------
    values : object array of category values (None for missing).
    levels : the levels fixed at fit.

    Returns
    -------
    numpy.ndarray
        float64 codes.
    """
    if len(values) <= 64:  # a dict beats building an index for a few rows
        where = {level: float(i) for i, level in enumerate(levels)}
        return np.array([np.nan if v is None else where.get(str(v), np.nan) for v in values],
                        dtype="float64")
    labels = pd.Index(values, dtype=object)
    labels = labels.where(labels.isna(), labels.astype(str))  # text of each level, None stays
    codes = pd.Index(list(levels), dtype=object).get_indexer(labels).astype("float64")
    codes[codes < 0] = np.nan  # unseen level or missing: LightGBM's missing branch
    return codes


def predict_threads(n_rows: int) -> int:
    """Threads for a ``predict`` call: one for a few rows (starting OpenMP's threads costs more
    than the work), all cores (0) for many.

    Parameters
    ----------
    n_rows : rows to predict.

    Returns
    -------
    int
        LightGBM's ``num_threads``.
    """
    return 1 if n_rows < 2_000 else 0


def customer_split(customer_ids: Sequence[Any] | pd.Series, as_of: Sequence[Any] | pd.Series,
                   share: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split stacked snapshots by customer: a held-out share of customers validates.

    For books too short for :func:`time_split` (its purge would leave no training date): the
    validation rows are the held-out customers on the latest date, and training never sees those
    customers on any date, so no label is shared between the two. Which customers are held out
    depends only on their id and ``seed`` (a hash), not on row order.

    Parameters
    ----------
    customer_ids : customer of each row.
    as_of : snapshot date of each row.
    share : share of customers held out (0 < share < 1).
    seed : salt of the hash.

    Returns
    -------
    (train_mask, valid_mask) boolean arrays.

    Raises
    ------
    TieringError
        When either side would be empty.
    """
    ids = pd.Series(customer_ids).astype(str).reset_index(drop=True)
    dates = pd.to_datetime(pd.Series(as_of).reset_index(drop=True))
    bucket = pd.util.hash_array(ids.to_numpy(dtype=object), hash_key=f"{seed:016d}"[:16]) % 10_000
    held = bucket < int(share * 10_000)
    valid = held & (dates == dates.max()).to_numpy()
    train = ~held
    if not valid.any() or not train.any():
        raise TieringError(f"customer split: {int(train.sum())} training and {int(valid.sum())} "
                           f"validation rows; the book needs more customers")
    return train, valid


def time_split(as_of: Sequence[Any] | pd.Series, validation_snapshots: int = 1,
               purge_days: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split stacked snapshots by time: the latest ``validation_snapshots`` dates validate.

    Never random: every validation date is later than every training date, so early stopping and
    calibration see the future the way production will.

    A label looks ``purge_days`` ahead of its snapshot. A training snapshot whose label window
    reaches past the first validation date shares outcomes with the validation rows (the same
    customer's orders in the overlap decide both labels), so it is purged: in neither mask.
    Without the purge, early stopping rewards trees that memorise customers and keeps adding
    them while a later, untouched window gets worse (BENCHMARKS.md, "Early stopping was fooled
    by overlapping labels"). This is the purging of [1]_: drop training observations whose label
    interval overlaps the test interval.

    Parameters
    ----------
    as_of : snapshot date of each row.
    validation_snapshots : how many of the latest distinct dates form the validation window.
    purge_days : label horizon in days; training keeps dates with ``date + purge_days <=`` the
        first validation date (0: keep every earlier date).

    Returns
    -------
    (train_mask, valid_mask) boolean arrays; purged rows are False in both.

    Raises
    ------
    TieringError
        When no date is left to train on, or a date is null.

    References
    ----------
    .. [1] Lopez de Prado, M. (2018). *Advances in Financial Machine Learning*. Wiley, ch. 7
       (cross-validation in finance: purging and embargo).
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
    if purge_days < 0:
        raise TieringError(f"purge_days must be >= 0, got {purge_days}")
    cutoff = distinct[-validation_snapshots]
    valid = (dates >= cutoff).to_numpy()
    last_train = cutoff - np.timedelta64(purge_days, "D")
    train = ((dates < cutoff) & (dates <= last_train)).to_numpy()
    if not train.any():
        raise TieringError(
            f"no snapshot to train on: labels look {purge_days} days ahead, so training needs a "
            f"date on or before {str(last_train)[:10]} (validation starts {str(cutoff)[:10]}); "
            f"got {[str(d)[:10] for d in distinct]}. Add snapshots or widen step_days")
    return train, valid


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


def additive_contributions(booster: Any, X: np.ndarray, num_iteration: int | None = None
                           ) -> np.ndarray:
    """Exact TreeSHAP values of a one-feature-per-tree booster at plain predict speed.

    For a tree that splits on a single feature, that feature's SHAP value is the leaf value minus
    the tree's cover-weighted mean leaf value, and the mean goes to the bias. ``pred_leaf`` plus a
    per-tree table therefore reproduces ``pred_contrib`` at plain predict speed.

    Parameters
    ----------
    booster : a fitted ``lightgbm.Booster`` trained with one feature per tree.
    X : prepared feature matrix (see :func:`prepare_features` and :func:`feature_matrix`).
    num_iteration : iterations to use (default: the booster's best iteration).

    Returns
    -------
    Array of shape (n_rows, n_features + 1); the last column is the bias.
    """
    tables = _leaf_tables(booster, num_iteration)
    out = np.empty((len(X), tables.n_features + 1))
    # Rows in blocks: the leaf index matrix is rows x trees (600 trees x 1M rows x 4 bytes).
    for start in range(0, len(X), _LEAF_BLOCK_ROWS):
        stop = min(start + _LEAF_BLOCK_ROWS, len(X))
        leaf_idx = np.asarray(booster.predict(
            X[start:stop], pred_leaf=True, num_iteration=num_iteration,
            num_threads=predict_threads(stop - start))).reshape(stop - start, -1)
        trees = leaf_idx.shape[1]
        # one gather of every tree's leaf value, then one product that sums the trees of each
        # feature: no Python loop over trees, which would dominate a single customer's request
        values = tables.values[leaf_idx + tables.offsets[:trees]]
        out[start:stop, :-1] = values @ tables.feature_of_tree[:trees]
        out[start:stop, -1] = tables.cumulative_mean[trees - 1] if trees else 0.0
    return out


_LEAF_BLOCK_ROWS = 20_000


@dataclass(frozen=True)
class _LeafTables:
    """All trees' leaf tables, flattened for vectorised lookups."""

    n_features: int
    values: np.ndarray  # every tree's (leaf value - mean), tree after tree
    offsets: np.ndarray  # where each tree's leaves start in ``values``
    feature_of_tree: np.ndarray  # trees x features, 1.0 at the tree's split feature
    cumulative_mean: np.ndarray  # sum of the means of trees 0..t (the bias with t+1 trees)


_LEAF_TABLES: weakref.WeakKeyDictionary[Any, dict[int | None, _LeafTables]] = (
    weakref.WeakKeyDictionary())


def _leaf_tables(booster: Any, num_iteration: int | None) -> _LeafTables:
    """Per-tree leaf tables, computed once per booster: dumping the trees to JSON costs far more
    than a one-customer what-if request may pay every time. Kept beside the booster, not on it, so
    that pickling a model never carries (or trusts) a stale cache."""
    cache = _LEAF_TABLES.setdefault(booster, {})
    if num_iteration not in cache:
        dump = booster.dump_model(num_iteration=num_iteration)
        n_features = len(dump["feature_names"])
        per_tree = [_tree_leaf_table(tree) for tree in dump["tree_info"]]
        sizes = np.array([len(table) for _, table, _ in per_tree], dtype=np.int64)
        onehot = np.zeros((len(per_tree), n_features))
        for t, (feature, _, _) in enumerate(per_tree):
            if feature is not None:
                onehot[t, feature] = 1.0
        cache[num_iteration] = _LeafTables(
            n_features,
            np.concatenate([table for _, table, _ in per_tree]) if per_tree else np.zeros(0),
            np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
            onehot,
            np.cumsum([mean for _, _, mean in per_tree]))
    return cache[num_iteration]
