"""Exact TreeSHAP for bounded-depth LightGBM boosters from per-leaf tables (FastTreeSHAP v2).

LightGBM's ``pred_contrib`` runs path-dependent TreeSHAP [1]_ for every row: per tree, a walk of
every path with the extend/unwind polynomial, O(leaves x depth^2) a row. FastTreeSHAP v2 [2]_
moves the work that does not depend on the row into a table built once per model, so that a row
only decides which split conditions it satisfies and looks its values up.

The maths (a leaf ``l`` of value ``v`` whose path splits on the distinct features ``U``, ``k =
|U|``; a feature split on twice along the path counts once, as TreeSHAP's unwinding merges it):
the leaf's part of the path-dependent value function of a coalition ``S`` is ``v * prod_{j in S}
o_j * prod_{j in U - S} z_j``, where ``z_j`` is the product of ``cover(child on path) /
cover(node)`` over the path's splits on ``j`` (covers are LightGBM's ``internal_count`` /
``leaf_count``) and ``o_j`` is 1 when the row follows every one of them, else 0. Let ``Q`` be the
set of path features whose splits the row follows. Only coalitions inside ``Q`` have a non-zero
value, and the Shapley sum ``phi_j = sum_{S <= U - {j}} w(|S|, k) (v(S + j) - v(S))`` with ``w(s,
k) = s! (k - s - 1)! / k!`` collapses to

* ``j`` not in ``Q``: ``phi_j = -v P(Q) G(Q)``,
* ``j`` in ``Q``:     ``phi_j = v (1 - z_j) P(Q) G(Q - {j})``,

with ``P(Q) = prod_{i in U - Q} z_i`` and ``G(Q) = sum_{S <= Q} w(|S|, k) prod_{i in Q - S} z_i =
sum_m w(|Q| - m, k) e_m(z_Q)`` (``e_m``: elementary symmetric polynomials). So a table of ``2^k x
k`` numbers per leaf, indexed by the row's ``Q`` as a bitmask, holds the leaf's part of every
path feature's SHAP value: a row decides each split once per tree, and a leaf costs its path's
bit operations plus ``k`` additions. The tables are built here in NumPy; the per-row kernel is
numba (:mod:`customer_tiering.models._treeshap_kernel`). The bias is LightGBM's
``ExpectedValue``: per tree, the leaf values weighted by ``leaf_count / internal_count`` of the
root, summed in LightGBM's order.

Shapes the tables do not cover are refused with the reason (:class:`Unsupported`) and the caller
falls back to ``pred_contrib``: several trees per iteration (multiclass), ``average_output``
(random forest), linear trees, a node without training rows (LightGBM's own shares would be
0/0), or tables beyond the memory budget (``k 2^k`` numbers per leaf grow with the distinct
features on a path: depth-5 trees of 31 leaves need at most 160 a leaf, 12 MB for 300 trees).

References
----------
.. [1] Lundberg, S. M. et al. (2020). From local explanations to global understanding with
   explainable AI for trees. *Nature Machine Intelligence* 2, 56-67 (Algorithm 2).
.. [2] Yang, J. (2022). Fast TreeSHAP: Accelerating SHAP value computation for trees.
   arXiv:2109.09847 (FastTreeSHAP v2: weights per leaf and pattern of satisfied splits,
   pre-computed once per model; the closed form above is ours, with the same tables).
"""

from __future__ import annotations

import math
import os
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np

from customer_tiering.core.errors import TieringError
from customer_tiering.models._treeshap_trees import read_trees
from customer_tiering.models.modeling import predict_threads

__all__ = ["TABLE_BUDGET_BYTES", "TreeShapTables", "Unsupported", "build_tables",
           "treeshap_tables"]

TABLE_BUDGET_BYTES = 256 * 2**20
"""Largest total size of the leaf tables (8 bytes x k 2^k per leaf) built for one model."""

_MAX_PATH_FEATURES = 20  # one leaf's table alone (20 x 2^20 x 8 B) is past the budget
_BLOCK_ROWS = 256  # rows explained together: a tree's tables stay in cache across them


@dataclass(frozen=True)
class Unsupported:
    """Why a booster's contributions cannot come from the tables (``pred_contrib`` then)."""

    reason: str


@dataclass(frozen=True)
class TreeShapTables:
    """A booster's trees and leaf tables, flattened for the kernel.

    Internal nodes of all trees are numbered consecutively (tree ``t`` owns
    ``node_start[t]:node_start[t+1]``), so are leaves (``leaf_start``). A leaf's path is
    ``path_start[l]:path_start[l+1]`` into ``path_node`` (the node, local to its tree),
    ``path_left`` (1 when the leaf lies left of it) and ``path_bit`` (which distinct path feature
    the split is on). Its distinct features are ``feat_start[l]:feat_start[l+1]`` into
    ``feat_index``, and its part of the ``j``-th one's SHAP value for pattern ``Q`` is ``table[
    table_start[l] + Q * k + j]``.
    """

    n_features: int
    bias: float
    node_feature: np.ndarray  # int32
    node_threshold: np.ndarray  # float64; categorical: unused
    node_kind: np.ndarray  # int8: 0 numerical, 1 categorical
    node_missing: np.ndarray  # int8: 0 None, 1 Zero, 2 NaN
    node_default_left: np.ndarray  # int8
    node_cat_start: np.ndarray  # int64: first word of the node's category bitset
    node_cat_words: np.ndarray  # int32: its number of 32-bit words
    cat_bits: np.ndarray  # uint32: categories that go left, as bitsets
    node_start: np.ndarray  # int64, trees + 1
    leaf_start: np.ndarray  # int64, trees + 1
    path_start: np.ndarray  # int64, leaves + 1
    path_node: np.ndarray  # int32
    path_left: np.ndarray  # int64 (0/1)
    path_bit: np.ndarray  # int64
    feat_start: np.ndarray  # int64, leaves + 1
    feat_index: np.ndarray  # int32
    table_start: np.ndarray  # int64, leaves
    table: np.ndarray  # float64

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(v.nbytes for v in vars(self).values() if isinstance(v, np.ndarray))

    def contributions(self, X: np.ndarray, threads: int | None = None) -> np.ndarray:
        """SHAP values of every row: ``(rows, n_features + 1)``, the bias last.

        Parameters
        ----------
        X : float matrix in the booster's feature order (NaN for missing).
        threads : worker threads (default: one below 2,000 rows, else every core).

        Returns
        -------
        numpy.ndarray
        """
        from customer_tiering.models._treeshap_kernel import explain_rows

        X = np.ascontiguousarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise TieringError(f"X has shape {X.shape}; the model has {self.n_features} features")
        out = np.zeros((X.shape[0], self.n_features + 1))
        arrays = (self.node_feature, self.node_threshold, self.node_kind, self.node_missing,
                  self.node_default_left, self.node_cat_start, self.node_cat_words,
                  self.cat_bits, self.node_start, self.leaf_start, self.path_start,
                  self.path_node, self.path_left, self.path_bit, self.feat_start,
                  self.feat_index, self.table_start, self.table)
        if threads is None:  # as LightGBM's predict here: one thread for few rows, else all
            threads = predict_threads(len(X)) or _cores()
        # whole blocks per thread; the kernel releases the GIL
        blocks = -(-len(X) // _BLOCK_ROWS)
        bounds = np.minimum(np.linspace(0, blocks, max(1, min(threads, blocks)) + 1)
                            .astype(int) * _BLOCK_ROWS, len(X))
        if len(bounds) <= 2:
            explain_rows(X, out, *arrays, _BLOCK_ROWS)
        else:
            with ThreadPoolExecutor(len(bounds) - 1) as pool:
                list(pool.map(lambda a, b: explain_rows(X[a:b], out[a:b], *arrays, _BLOCK_ROWS),
                              bounds[:-1], bounds[1:]))
        out[:, -1] = self.bias
        return out


def warm_up(booster: Any, num_iteration: int | None = None) -> str | None:
    """Build a booster's tables and run the compiled kernel once, before the first real call.

    The kernel is compiled with ``cache=True`` (machine code kept beside the module, so a process
    loads it instead of compiling), but loading it and building the tables still cost 0.5-2 s
    on the first call: a rating or a served request would pay it inside its timed path.
    Champions call this when they load (:func:`customer_tiering.rating.champions.load_champions`).

    Parameters
    ----------
    booster : a fitted ``lightgbm.Booster``.
    num_iteration : the rounds its contributions use (as later calls pass them).

    Returns
    -------
    str or None
        None when warmed; why the tables refuse this booster otherwise (its contributions then
        come from ``pred_contrib``, which needs no warm-up).
    """
    tables = treeshap_tables(booster, num_iteration)
    if isinstance(tables, Unsupported):
        return tables.reason
    tables.contributions(np.zeros((1, tables.n_features)), threads=1)
    return None


def _cores() -> int:
    affinity = getattr(os, "sched_getaffinity", None)  # the cores this process may use (Linux)
    return len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)


def shapley_weights(k: int) -> np.ndarray:
    """``w[s] = s! (k - s - 1)! / k!`` for ``s = 0..k`` (``w[k] = 0``: no coalition is bigger).

    Parameters
    ----------
    k : number of players (distinct features on a path).

    Returns
    -------
    numpy.ndarray
    """
    w = [math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)]
    return np.array([*w, 0.0])


def leaf_tables(values: np.ndarray, z: np.ndarray) -> np.ndarray:
    """The tables of leaves that share ``k`` distinct path features.

    Parameters
    ----------
    values : ``(leaves,)`` leaf values.
    z : ``(leaves, k)`` zero fractions (cover shares) of each leaf's distinct path features.

    Returns
    -------
    numpy.ndarray
        ``(leaves, 2^k, k)``: entry ``[l, Q, j]`` is leaf ``l``'s part of the SHAP value of its
        ``j``-th distinct path feature for a row that follows the splits of exactly the
        features in ``Q`` (bit ``j`` = the ``j``-th feature).
    """
    n, k = z.shape
    size = 1 << k
    masks = np.arange(size)
    bits = (masks[:, None] >> np.arange(k)) & 1  # (2^k, k)
    # elementary symmetric polynomials of the z's of each Q: multiply in (1 + z_j t) per bit
    e = np.zeros((n, size, k + 1))
    e[:, :, 0] = 1.0
    for j in range(k):
        has = bits[:, j] == 1
        e[:, has, 1:] = e[:, has, 1:] + z[:, j, None, None] * e[:, has, :-1]
    w = shapley_weights(k)
    # G(Q) = sum_m w(|Q| - m, k) e_m: gather w at |Q| - m (zero where m > |Q|)
    idx = bits.sum(axis=1)[:, None] - np.arange(k + 1)[None, :]
    wq = np.where(idx >= 0, w[np.clip(idx, 0, k)], 0.0)  # (2^k, k + 1)
    g = np.einsum("nqm,qm->nq", e, wq)
    vp = values[:, None] * np.where(bits[None, :, :] == 1, 1.0, z[:, None, :]).prod(axis=2)
    # j in Q: v (1 - z_j) P(Q) G(Q - {j});  j not in Q: -v P(Q) G(Q)
    without = masks[:, None] ^ (1 << np.arange(k))[None, :]  # (2^k, k): Q with bit j flipped
    inside = vp[:, :, None] * (1.0 - z[:, None, :]) * g[:, without]
    outside = -(vp * g)[:, :, None]
    return np.asarray(np.where(bits[None, :, :] == 1, inside, outside))


_CACHE: weakref.WeakKeyDictionary[Any, dict[tuple[int | None, int], TreeShapTables | Unsupported]] = (
    weakref.WeakKeyDictionary())


def treeshap_tables(booster: Any, num_iteration: int | None = None,
                    budget_bytes: int | None = None) -> TreeShapTables | Unsupported:
    """The booster's tables, built once (dumping and tabulating cost far more than a row).

    Kept beside the booster (a weak reference), not on it, so that pickling a model never carries
    (or trusts) a stale cache: the champion is loaded once per rating, and a served model once per
    process, so the tables are built once each.

    Parameters
    ----------
    booster : a fitted ``lightgbm.Booster``.
    num_iteration : iterations to explain (as ``predict``'s; None: all).
    budget_bytes : refuse tables larger than this (default :data:`TABLE_BUDGET_BYTES`).

    Returns
    -------
    TreeShapTables or Unsupported
    """
    if budget_bytes is None:
        budget_bytes = TABLE_BUDGET_BYTES
    cache = _CACHE.setdefault(booster, {})
    key = (num_iteration, budget_bytes)
    if key not in cache:
        cache[key] = build_tables(booster.dump_model(num_iteration=num_iteration), budget_bytes)
    return cache[key]


# --- reading dump_model() ---------------------------------------------------------------------
def build_tables(dump: dict[str, Any], budget_bytes: int | None = None
                 ) -> TreeShapTables | Unsupported:
    """Tabulate a ``Booster.dump_model()``; :class:`Unsupported` for shapes it does not cover.

    Parameters
    ----------
    dump : the booster's JSON dump.
    budget_bytes : largest total table size (default :data:`TABLE_BUDGET_BYTES`).

    Returns
    -------
    TreeShapTables or Unsupported
    """
    budget_bytes = TABLE_BUDGET_BYTES if budget_bytes is None else budget_bytes
    if dump.get("num_tree_per_iteration", 1) != 1:
        return Unsupported(f"{dump['num_tree_per_iteration']} trees per iteration (multiclass)")
    if dump.get("average_output"):
        return Unsupported("average_output (random forest) models")
    trees = read_trees(dump["tree_info"])
    if isinstance(trees, str):
        return Unsupported(trees)
    k_max = max((len(f) for f in trees.leaf_features), default=0)
    table_bytes = 8 * sum(len(f) << len(f) for f in trees.leaf_features)
    if k_max > _MAX_PATH_FEATURES or table_bytes > budget_bytes:
        return Unsupported(f"a path splits on up to {k_max} distinct features: the leaf tables "
                           f"would take {table_bytes / 2**20:,.0f} MB (budget "
                           f"{budget_bytes / 2**20:,.0f} MB)")
    sizes = np.array([len(f) << len(f) for f in trees.leaf_features], dtype=np.int64)
    table_start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    table = np.zeros(int(sizes.sum()))
    leaf_values = np.asarray(trees.leaf_value)
    by_k: dict[int, list[int]] = {}
    for leaf, feats in enumerate(trees.leaf_features):
        by_k.setdefault(len(feats), []).append(leaf)
    for k, leaves in by_k.items():
        size = k << k
        chunk = max(1, 2**21 // (size + 1))  # bounds the (leaves, 2^k, k) work arrays
        for start in range(0, len(leaves), chunk):
            part = np.asarray(leaves[start:start + chunk])
            z = np.array([trees.leaf_z[i] for i in part], dtype=float).reshape(len(part), k)
            where = table_start[part][:, None] + np.arange(size)[None, :]
            table[where] = leaf_tables(leaf_values[part], z).reshape(len(part), size)
    return TreeShapTables(
        n_features=int(dump["max_feature_idx"]) + 1,
        bias=trees.bias,
        node_feature=np.asarray(trees.node_feature, dtype=np.int32),
        node_threshold=np.asarray(trees.node_threshold, dtype=np.float64),
        node_kind=np.asarray(trees.node_kind, dtype=np.int8),
        node_missing=np.asarray(trees.node_missing, dtype=np.int8),
        node_default_left=np.asarray(trees.node_default_left, dtype=np.int8),
        node_cat_start=np.asarray(trees.node_cat_start, dtype=np.int64),
        node_cat_words=np.asarray(trees.node_cat_words, dtype=np.int32),
        cat_bits=np.asarray(trees.cat_bits, dtype=np.uint32),
        node_start=np.asarray(trees.node_start, dtype=np.int64),
        leaf_start=np.asarray(trees.leaf_start, dtype=np.int64),
        path_start=_starts([len(p) for p in trees.leaf_path_node]),
        path_node=np.asarray([n for p in trees.leaf_path_node for n in p], dtype=np.int32),
        path_left=np.asarray([b for p in trees.leaf_path_left for b in p], dtype=np.int64),
        path_bit=np.asarray([b for p in trees.leaf_path_bit for b in p], dtype=np.int64),
        feat_start=_starts([len(f) for f in trees.leaf_features]),
        feat_index=np.asarray([f for fs in trees.leaf_features for f in fs], dtype=np.int32),
        table_start=table_start,
        table=table,
    )


def _starts(lengths: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]).astype(np.int64)
