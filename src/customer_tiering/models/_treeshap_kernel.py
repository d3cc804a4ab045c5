"""The per-row loop of the table TreeSHAP, compiled by numba (imported only when explaining).

Not public: :class:`customer_tiering.models.fast_treeshap.TreeShapTables` is the interface and
documents the arrays. The decisions repeat LightGBM 4's ``Tree::NumericalDecision`` and
``Tree::CategoricalDecision`` on the raw feature values, after the C API's dense-matrix reader,
which drops values within ``kZeroThreshold`` (1e-35f) of zero, so they are read as 0.

Rows go in blocks, and within a block tree after tree, leaf after leaf, with the rows innermost:
the tree's tables stay in cache for the whole block, and the loops over rows carry no
data-dependent branch, so the compiler vectorises them. Row after row instead (each row walking
every tree) measured 4-5 times slower: the random look-ups and the branch on each feature's bit
missed the cache and the predictor.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_ZERO = float(np.float32(1e-35))  # LightGBM's kZeroThreshold, a float widened to double
_INT_LIMIT = 2147483648.0  # at 2^31 and beyond the C++ cast to int overflows (negative on x86)
_FEW_ROWS = 8  # fewer rows than this go a row at a time (_explain_few)

# The helpers take scalars (and the bitset): passing numba arrays to a function that is not
# inlined costs reference-count updates per array per call, which made a decision per row
# three times slower than the whole rest of a row's work.


@njit(cache=True, nogil=True)
def _numeric_left(v: float, threshold: float, missing: int, default_left: int
                  ) -> int:  # pragma: no cover - compiled
    """1 when ``v`` goes left at a numerical split (``missing``: 0 None, 1 Zero, 2 NaN)."""
    if -_ZERO <= v <= _ZERO:
        v = 0.0
    if np.isnan(v):
        if missing == 2:  # NaN is the missing value: its default side
            return default_left
        v = 0.0  # otherwise NaN reads as zero
    if missing == 1 and v == 0.0:  # zero is the missing value
        return default_left
    return 1 if v <= threshold else 0


@njit(cache=True, nogil=True)
def _category_left(v: float, cat_bits: np.ndarray, start: int, words: int
                   ) -> int:  # pragma: no cover - compiled
    """1 when ``v`` is one of a categorical split's left categories (``cat_bits[start:start
    + words]``). NaN goes right, and so does a value whose int cast (toward zero) is negative."""
    if -_ZERO <= v <= _ZERO:
        v = 0.0
    if np.isnan(v) or not -1.0 < v < _INT_LIMIT:
        return 0
    c = int(v)
    if (c >> 5) >= words:
        return 0
    return int((cat_bits[start + (c >> 5)] >> np.uint32(c & 31)) & np.uint32(1))


@njit(cache=True, nogil=True)
def _decide(columns: np.ndarray, m: int, n: int, node_feature: np.ndarray,
            node_threshold: np.ndarray, node_kind: np.ndarray, node_missing: np.ndarray,
            node_default_left: np.ndarray, node_cat_start: np.ndarray,
            node_cat_words: np.ndarray, cat_bits: np.ndarray, left: np.ndarray, slot: int
            ) -> None:  # pragma: no cover - compiled
    """``left[slot, r] = 1`` where row ``r`` of the block goes to node ``n``'s left child.

    Indexes the 2-D arrays directly rather than through views: a view takes a reference on its
    array's memory, an atomic operation that threads sharing the array contend for."""
    f = node_feature[n]
    if node_kind[n] == 1:
        start = node_cat_start[n]
        words = node_cat_words[n]
        for r in range(m):
            left[slot, r] = _category_left(columns[f, r], cat_bits, start, words)
        return
    threshold = node_threshold[n]
    missing = int(node_missing[n])
    default = int(node_default_left[n])
    for r in range(m):
        left[slot, r] = _numeric_left(columns[f, r], threshold, missing, default)


@njit(cache=True, nogil=True)
def explain_rows(X: np.ndarray, out: np.ndarray, node_feature: np.ndarray,
                 node_threshold: np.ndarray, node_kind: np.ndarray, node_missing: np.ndarray,
                 node_default_left: np.ndarray, node_cat_start: np.ndarray,
                 node_cat_words: np.ndarray, cat_bits: np.ndarray, node_start: np.ndarray,
                 leaf_start: np.ndarray, path_start: np.ndarray, path_node: np.ndarray,
                 path_left: np.ndarray, path_bit: np.ndarray, feat_start: np.ndarray,
                 feat_index: np.ndarray, table_start: np.ndarray, table: np.ndarray,
                 block: int) -> None:  # pragma: no cover - compiled
    """Add every tree's SHAP values of each row of ``X`` to ``out`` (the feature columns)."""
    n_rows, n_features = X.shape
    n_trees = len(node_start) - 1
    widest = 1
    for t in range(n_trees):
        widest = max(widest, node_start[t + 1] - node_start[t])
    left = np.empty((widest, block), dtype=np.int64)
    q = np.empty(block, dtype=np.int64)
    if n_rows < _FEW_ROWS:
        _explain_few(X, out, node_feature, node_threshold, node_kind, node_missing,
                     node_default_left, node_cat_start, node_cat_words, cat_bits, node_start,
                     leaf_start, path_start, path_node, path_left, path_bit, feat_start,
                     feat_index, table_start, table, np.empty(widest, dtype=np.int64))
        return
    columns = np.empty((n_features, block))  # the block's X, one feature a row
    for r0 in range(0, n_rows, block):
        m = min(block, n_rows - r0)
        for f in range(n_features):
            for r in range(m):
                columns[f, r] = X[r0 + r, f]
        for t in range(n_trees):
            first = node_start[t]
            for n in range(first, node_start[t + 1]):
                _decide(columns, m, n, node_feature, node_threshold, node_kind, node_missing,
                        node_default_left, node_cat_start, node_cat_words, cat_bits, left,
                        n - first)
            for leaf in range(leaf_start[t], leaf_start[t + 1]):
                f0 = feat_start[leaf]
                k = feat_start[leaf + 1] - f0
                full = (1 << k) - 1
                for r in range(m):
                    q[r] = full
                for p in range(path_start[leaf], path_start[leaf + 1]):
                    slot = path_node[p]
                    want = path_left[p]
                    bit = path_bit[p]
                    for r in range(m):  # clear the feature's bit where the row goes the other way
                        q[r] &= ~((left[slot, r] ^ want) << bit)
                base = table_start[leaf]
                for r in range(m):
                    at = base + q[r] * k
                    for j in range(k):
                        out[r0 + r, feat_index[f0 + j]] += table[at + j]


@njit(cache=True, nogil=True)
def _explain_few(X: np.ndarray, out: np.ndarray, node_feature: np.ndarray,
                 node_threshold: np.ndarray, node_kind: np.ndarray, node_missing: np.ndarray,
                 node_default_left: np.ndarray, node_cat_start: np.ndarray,
                 node_cat_words: np.ndarray, cat_bits: np.ndarray, node_start: np.ndarray,
                 leaf_start: np.ndarray, path_start: np.ndarray, path_node: np.ndarray,
                 path_left: np.ndarray, path_bit: np.ndarray, feat_start: np.ndarray,
                 feat_index: np.ndarray, table_start: np.ndarray, table: np.ndarray,
                 left: np.ndarray) -> None:  # pragma: no cover - compiled
    """:func:`explain_rows` a row at a time: for a few rows the blocked loops cost more in
    set-up than they save (one row of a depth-5 model of 300 trees: 0.36 ms against 1.8 ms for
    the blocked loops, where ``pred_contrib`` took 1.05 ms)."""
    for r in range(X.shape[0]):
        for t in range(len(node_start) - 1):
            first = node_start[t]
            for n in range(first, node_start[t + 1]):
                v = X[r, node_feature[n]]
                if node_kind[n] == 1:
                    left[n - first] = _category_left(v, cat_bits, node_cat_start[n],
                                                     node_cat_words[n])
                else:
                    left[n - first] = _numeric_left(v, node_threshold[n], node_missing[n],
                                                    node_default_left[n])
            for leaf in range(leaf_start[t], leaf_start[t + 1]):
                f0 = feat_start[leaf]
                k = feat_start[leaf + 1] - f0
                q = (1 << k) - 1
                for p in range(path_start[leaf], path_start[leaf + 1]):
                    q &= ~((left[path_node[p]] ^ path_left[p]) << path_bit[p])
                at = table_start[leaf] + q * k
                for j in range(k):
                    out[r, feat_index[f0 + j]] += table[at + j]
