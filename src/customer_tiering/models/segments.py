"""RFM segments: KMeans on log-transformed, scaled recency/frequency/monetary features.

Segments are numbered by value (0 = highest mean ``value_feature``) and carry business names from
``names`` in that order, so a report reads the same after a refit. A refit given ``previous=`` maps
its clusters to the previous fit's by Hungarian matching of centers (in the previous fit's scaled
space) and inherits their numbers and names; :func:`adjusted_rand_index` measures agreement.

Customers without a purchase in the window (``order_count_365d`` null or 0, or
``days_since_last_order`` null) are not clustered: they get the fixed segment ``NO_PURCHASE``
(-1, "无购买 no purchase"). Imputing them would put them in a real cluster's center and drag it;
they are a business state of their own. Remaining nulls in the other features (rare) are filled
with the fit-time median of purchasers. Monetary amounts can be negative (net returns); the
transform is the signed ``log1p``: ``sign(x) * log1p(|x|)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, calinski_harabasz_score, silhouette_score
from sklearn.preprocessing import RobustScaler, StandardScaler
from sklearn.utils.validation import check_is_fitted

from customer_tiering.core.columns import Columns
from customer_tiering.core.errors import TieringError

__all__ = ["DEFAULT_NAMES", "NO_PURCHASE", "NO_PURCHASE_NAME", "RFMSegmenter",
           "adjusted_rand_index"]

NO_PURCHASE = -1
NO_PURCHASE_NAME = "无购买 no purchase"
DEFAULT_FEATURES: tuple[str, ...] = ("days_since_last_order", "order_count_365d",
                                     "monetary_amount_365d")
# In value order: the highest-value segment first.
DEFAULT_NAMES: tuple[str, ...] = (
    "高价值活跃 champions",
    "忠诚 loyal",
    "潜力 potential",
    "一般 regular",
    "沉睡 dormant",
    "流失风险 at risk",
)


def adjusted_rand_index(previous_labels: Sequence[int] | np.ndarray,
                        new_labels: Sequence[int] | np.ndarray) -> float:
    """Agreement of two segmentations of the same customers (1 = identical, ~0 = chance).

    Parameters
    ----------
    previous_labels, new_labels : one segment number per customer, in the same order.

    Returns
    -------
    float
    """
    return float(adjusted_rand_score(np.asarray(previous_labels), np.asarray(new_labels)))


class RFMSegmenter(ClusterMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """KMeans RFM segmentation with value-ordered, stable names.

    Parameters
    ----------
    features : RFM-type columns clustered (recency, frequency, monetary by default).
    value_feature : column whose cluster mean orders segments (highest first).
    scaler : ``"robust"`` (median/IQR; heavy tails) or ``"standard"``.
    n_clusters : fixed k, or None to search ``k_range`` by ``criterion``.
    k_range : inclusive (min, max) k searched when ``n_clusters`` is None.
    criterion : ``"silhouette"`` (on a sample of ``sample_size`` rows) or ``"calinski_harabasz"``.
    sample_size : rows used by the silhouette (its cost is quadratic).
    names : business names by value rank; ranks beyond the list are named ``segment_<rank>``.
    n_init, random_state : KMeans (lloyd) restarts and seed.
    """

    def __init__(
        self,
        features: Sequence[str] = DEFAULT_FEATURES,
        value_feature: str = "monetary_amount_365d",
        scaler: Literal["robust", "standard"] = "robust",
        n_clusters: int | None = 5,
        k_range: tuple[int, int] = (2, 8),
        criterion: Literal["silhouette", "calinski_harabasz"] = "silhouette",
        sample_size: int = 5000,
        names: Sequence[str] = DEFAULT_NAMES,
        n_init: int = 10,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.value_feature = value_feature
        self.scaler = scaler
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.criterion = criterion
        self.sample_size = sample_size
        self.names = names
        self.n_init = n_init
        self.random_state = random_state

    # --- helpers --------------------------------------------------------------------------------
    def _purchasers(self, X: pd.DataFrame | Columns) -> np.ndarray:
        columns = Columns.of(X)
        missing = [c for c in (*self.features, self.value_feature) if c not in columns]
        if missing:
            raise TieringError(f"segment frame lacks column(s) {missing}")
        mask = np.ones(columns.n_rows, dtype=bool)
        if "order_count_365d" in columns:
            mask &= np.nan_to_num(columns.numeric("order_count_365d"), nan=0.0) > 0
        if "days_since_last_order" in columns:
            mask &= ~pd.isna(columns["days_since_last_order"])
        return mask

    def _log(self, X: pd.DataFrame | Columns) -> np.ndarray:
        columns = Columns.of(X)
        values = np.column_stack([columns.numeric(c) for c in self.features])
        return np.asarray(np.sign(values) * np.log1p(np.abs(values)))

    def _scaled(self, X: pd.DataFrame | Columns) -> np.ndarray:
        logged = self._log(X)
        logged = np.where(np.isnan(logged), self.fill_values_, logged)
        # The fitted scaler's own centre and scale: its transform() validates the array again
        # on every call, a third of the cost of segmenting one customer (same numbers).
        scaler = self.scaler_
        centre = scaler.center_ if isinstance(scaler, RobustScaler) else scaler.mean_
        return np.asarray((logged - centre) / scaler.scale_)

    def _kmeans(self, Z: np.ndarray, k: int) -> KMeans:
        return KMeans(n_clusters=k, algorithm="lloyd", n_init=self.n_init,
                      random_state=self.random_state).fit(Z)

    def _score(self, Z: np.ndarray, labels: np.ndarray) -> float:
        if self.criterion == "silhouette":
            n = min(self.sample_size, len(Z))
            return float(silhouette_score(Z, labels, sample_size=n,
                                          random_state=self.random_state))
        if self.criterion == "calinski_harabasz":
            return float(calinski_harabasz_score(Z, labels))
        raise TieringError(f"criterion must be 'silhouette' or 'calinski_harabasz', "
                           f"got {self.criterion!r}")

    # --- fit ------------------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y: None = None,
            previous: RFMSegmenter | None = None) -> RFMSegmenter:
        """Cluster the purchasers; number segments by value, or like ``previous`` when given.

        Parameters
        ----------
        X : frame with ``features`` and ``value_feature``.
        previous : an earlier fitted segmenter whose segment numbers and names to keep.

        Returns
        -------
        RFMSegmenter
            ``self``.

        Raises
        ------
        TieringError
            When a column is missing, ``scaler`` or ``criterion`` is unknown, or there are too few
            purchasing customers for the number of segments.
        """
        buyers = self._purchasers(X)
        Xb = X.iloc[np.flatnonzero(buyers)]
        logged = self._log(Xb)
        self.fill_values_ = np.nanmedian(logged, axis=0)
        logged = np.where(np.isnan(logged), self.fill_values_, logged)
        if self.scaler == "robust":
            scaler: RobustScaler | StandardScaler = RobustScaler()
        elif self.scaler == "standard":
            scaler = StandardScaler()
        else:
            raise TieringError(f"scaler must be 'robust' or 'standard', got {self.scaler!r}")
        self.scaler_ = scaler.fit(logged)
        Z = np.asarray(self.scaler_.transform(logged))

        if self.n_clusters is not None:
            ks = [int(self.n_clusters)]
        else:
            lo, hi = self.k_range
            ks = list(range(int(lo), int(hi) + 1))
        if len(Z) <= max(ks):
            raise TieringError(f"{len(Z)} purchasing customers cannot form {max(ks)} segments")
        self.k_scores_: dict[int, float] = {}
        fits: dict[int, KMeans] = {}
        for k in ks:
            km = self._kmeans(Z, k)
            fits[k] = km
            if len(ks) > 1:
                self.k_scores_[k] = self._score(Z, km.labels_)
        k_best = max(self.k_scores_, key=lambda k: self.k_scores_[k]) if len(ks) > 1 else ks[0]
        km = fits[k_best]
        self.n_clusters_ = k_best

        value = pd.to_numeric(Xb[self.value_feature], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan)
        cluster_value = np.array([np.nanmean(value[km.labels_ == j]) for j in range(k_best)])
        # rank_of[j] = segment number of KMeans cluster j
        rank_of = np.empty(k_best, dtype=int)
        rank_of[np.argsort(-cluster_value, kind="stable")] = np.arange(k_best)
        inherited: dict[int, str] = {}
        if previous is not None:
            prev_of = self._match(previous, km.cluster_centers_)
            k_prev = len(previous.segment_names_) - 1  # all but NO_PURCHASE
            rank_of = self._renumber(prev_of, rank_of, k_prev)
            inherited = {int(rank_of[j]): previous.segment_names_[int(prev_of[j])]
                         for j in range(k_best) if prev_of[j] >= 0}
        order = np.argsort(rank_of)
        self.cluster_centers_ = km.cluster_centers_[order]
        self.segment_value_ = cluster_value[order]
        self.kmeans_ = km
        self.segment_names_: dict[int, str] = dict(inherited)
        for s in range(k_best):
            if s not in self.segment_names_:
                name = self.names[s] if s < len(self.names) else f"segment_{s}"
                taken = set(self.segment_names_.values())
                self.segment_names_[s] = name if name not in taken else f"segment_{s}"
        self.segment_names_ = dict(sorted(self.segment_names_.items()))
        self.segment_names_[NO_PURCHASE] = NO_PURCHASE_NAME
        labels = np.full(len(X), NO_PURCHASE, dtype=int)
        labels[buyers] = rank_of[km.labels_]
        self.labels_ = labels
        return self

    def _match(self, previous: RFMSegmenter, centers: np.ndarray) -> np.ndarray:
        """Previous segment number matched to each new cluster (-1 if none), by Hungarian matching.

        Centers are compared in the previous fit's scaled space: new centers go back to log space
        through this fit's scaler, then forward through the previous one.
        """
        check_is_fitted(previous, "cluster_centers_")
        logged = np.asarray(self.scaler_.inverse_transform(centers))
        mine = np.asarray(previous.scaler_.transform(logged))
        cost = ((mine[:, None, :] - previous.cluster_centers_[None, :, :]) ** 2).sum(axis=2)
        rows, cols = linear_sum_assignment(cost)
        prev_of = np.full(len(centers), -1, dtype=int)
        prev_of[rows] = cols  # previous segment numbers are its center indices
        return prev_of

    @staticmethod
    def _renumber(prev_of: np.ndarray, rank_of: np.ndarray, k_prev: int) -> np.ndarray:
        """Segment numbers: the matched previous number; new clusters after them, by value."""
        out = prev_of.copy()
        spare = [j for j in np.argsort(rank_of) if out[j] < 0]  # k grew
        for i, j in enumerate(spare):
            out[j] = k_prev + i
        if len(out) < k_prev:  # k shrank: close the gaps, keeping the previous order
            out = np.argsort(np.argsort(out))
        return out

    # --- predict --------------------------------------------------------------------------------
    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """Distances to each segment's center (NaN rows for customers without purchases).

        Parameters
        ----------
        X : frame with the segment ``features`` (and ``value_feature``).

        Returns
        -------
        numpy.ndarray
            ``(rows, segments)`` distances in the scaled space.
        """
        check_is_fitted(self, "cluster_centers_")
        Z = self._scaled(X)
        d = np.sqrt(((Z[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(axis=2))
        d[~self._purchasers(X)] = np.nan
        return np.asarray(d)

    def predict(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """Segment number per row: 0 = highest value, ``NO_PURCHASE`` (-1) without purchases.

        Parameters
        ----------
        X : frame with the segment ``features`` (and ``value_feature``).

        Returns
        -------
        numpy.ndarray of int
        """
        check_is_fitted(self, "cluster_centers_")
        columns = Columns.of(X)
        buyers = self._purchasers(columns)
        labels = np.full(columns.n_rows, NO_PURCHASE, dtype=int)
        if buyers.any():
            Z = self._scaled(columns.take(np.flatnonzero(buyers)))
            d = ((Z[:, None, :] - self.cluster_centers_[None, :, :]) ** 2).sum(axis=2)
            labels[buyers] = d.argmin(axis=1)
        return labels

    def predict_names(self, X: pd.DataFrame | Columns) -> np.ndarray:
        """Business name of each row's segment.

        Parameters
        ----------
        X : frame with the segment ``features`` (and ``value_feature``).

        Returns
        -------
        numpy.ndarray of str
        """
        return np.array([self.segment_names_[int(s)] for s in self.predict(X)], dtype=object)

    def agreement(self, previous: RFMSegmenter, X: pd.DataFrame) -> float:
        """Adjusted Rand index between ``previous`` and this fit on the same customers ``X``.

        The number to log after a refit: 1 means every customer kept its segment partition.

        Parameters
        ----------
        previous : the earlier fitted segmenter.
        X : frame with the segment ``features`` (and ``value_feature``).

        Returns
        -------
        float
        """
        return adjusted_rand_index(previous.predict(X), self.predict(X))

    def fit_predict(self, X: pd.DataFrame, y: None = None,
                    previous: RFMSegmenter | None = None) -> np.ndarray:
        """Fit and return the training labels.

        Parameters
        ----------
        X : frame with ``features`` and ``value_feature``.
        y : ignored (sklearn's signature).
        previous : an earlier fitted segmenter whose segment numbers and names to keep.

        Returns
        -------
        numpy.ndarray of int
        """
        return self.fit(X, previous=previous).labels_
