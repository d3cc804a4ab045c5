"""RFMSegmenter: k search, value order, stable names across refits, no-purchase customers."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from customer_tiering.models.segments import (
    DEFAULT_NAMES,
    NO_PURCHASE,
    NO_PURCHASE_NAME,
    RFMSegmenter,
    adjusted_rand_index,
)

# (days since last order, orders in 365 d, amount in 365 d) at each true cluster's center
CENTERS = np.array([[7.0, 60.0, 2_000_000.0],
                    [30.0, 15.0, 150_000.0],
                    [120.0, 4.0, 20_000.0],
                    [300.0, 1.0, 1_500.0]])


def _blobs(n_per: int = 300, sd: float = 0.15, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Customers drawn around CENTERS with log-normal noise; returns the frame and true cluster."""
    rng = np.random.default_rng(seed)
    rows, truth = [], []
    for j, c in enumerate(CENTERS):
        rows.append(np.exp(np.log(c) + rng.normal(0, sd, (n_per, 3))))
        truth += [j] * n_per
    v = np.vstack(rows)
    frame = pd.DataFrame({"days_since_last_order": v[:, 0],
                          "order_count_365d": np.maximum(np.round(v[:, 1]), 1.0),
                          "monetary_amount_365d": v[:, 2]})
    return frame, np.array(truth)


@pytest.mark.parametrize("criterion", ["silhouette", "calinski_harabasz"])
def test_k_search_finds_the_true_number_of_blobs(criterion: str) -> None:
    frame, truth = _blobs()
    seg = RFMSegmenter(n_clusters=None, k_range=(2, 7), criterion=criterion, n_init=3).fit(frame)
    assert seg.n_clusters_ == 4
    assert sorted(seg.k_scores_) == [2, 3, 4, 5, 6, 7]
    assert max(seg.k_scores_, key=seg.k_scores_.get) == 4
    assert adjusted_rand_index(truth, seg.labels_) == pytest.approx(1.0)


def test_segments_are_numbered_and_named_by_value() -> None:
    frame, truth = _blobs(seed=1)
    seg = RFMSegmenter(n_clusters=4).fit(frame)
    # true clusters are listed from highest to lowest amount, so numbers must equal them
    np.testing.assert_array_equal(seg.labels_, truth)
    assert np.all(np.diff(seg.segment_value_) < 0)
    means = frame.groupby(seg.labels_)["monetary_amount_365d"].mean().to_numpy()
    np.testing.assert_allclose(means, seg.segment_value_)
    assert [seg.segment_names_[s] for s in range(4)] == list(DEFAULT_NAMES[:4])
    assert seg.predict_names(frame.head(1))[0] == DEFAULT_NAMES[0]
    np.testing.assert_array_equal(seg.predict(frame), seg.labels_)


def test_refits_on_bootstrap_resamples_keep_numbers_and_names() -> None:
    frame, _ = _blobs(sd=0.3, seed=2)
    rng = np.random.default_rng(7)
    first = RFMSegmenter(n_clusters=4).fit(frame.sample(len(frame), replace=True, random_state=1))
    boot = frame.iloc[rng.integers(0, len(frame), len(frame))]
    second = RFMSegmenter(n_clusters=4, random_state=5).fit(boot, previous=first)
    a, b = first.predict(frame), second.predict(frame)
    assert adjusted_rand_index(a, b) > 0.95
    assert second.agreement(first, frame) == pytest.approx(adjusted_rand_index(a, b))
    assert (a == b).mean() > 0.98
    assert second.segment_names_ == first.segment_names_
    # the same number points at (nearly) the same center, in raw units
    ca = np.expm1(first.scaler_.inverse_transform(first.cluster_centers_))
    cb = np.expm1(second.scaler_.inverse_transform(second.cluster_centers_))
    np.testing.assert_allclose(np.log(cb), np.log(ca), atol=0.15)


def test_alignment_to_previous_overrides_value_order() -> None:
    frame, _ = _blobs(seed=3)
    first = RFMSegmenter(n_clusters=4).fit(frame)
    # A previous fit whose numbering differs from value order (say, renumbered by hand).
    perm = np.array([2, 0, 3, 1])  # new number of old segment s is perm[s]
    renamed = copy.deepcopy(first)
    renamed.cluster_centers_ = first.cluster_centers_[np.argsort(perm)]
    renamed.segment_names_ = {int(perm[s]): first.segment_names_[s] for s in range(4)}
    renamed.segment_names_[NO_PURCHASE] = NO_PURCHASE_NAME
    refit = RFMSegmenter(n_clusters=4, random_state=9).fit(frame, previous=renamed)
    np.testing.assert_array_equal(refit.labels_, perm[first.labels_])
    np.testing.assert_array_equal(refit.predict_names(frame), first.predict_names(frame))


def test_customers_without_purchases_get_their_own_segment() -> None:
    frame, _ = _blobs(seed=4)
    extra = pd.DataFrame({"days_since_last_order": [np.nan, 400.0, np.nan],
                          "order_count_365d": [0.0, 0.0, np.nan],
                          "monetary_amount_365d": [0.0, 0.0, np.nan]})
    both = pd.concat([frame, extra], ignore_index=True)
    seg = RFMSegmenter(n_clusters=4).fit(both)
    assert list(seg.labels_[-3:]) == [NO_PURCHASE] * 3
    assert (seg.labels_[:-3] >= 0).all()
    assert list(seg.predict_names(extra)) == [NO_PURCHASE_NAME] * 3
    assert np.isnan(seg.transform(extra)).all()
    # the clustering of purchasers is what it is without them
    alone = RFMSegmenter(n_clusters=4).fit(frame)
    np.testing.assert_array_equal(seg.labels_[:-3], alone.labels_)


def test_net_returns_and_missing_amounts_of_buyers_are_handled() -> None:
    frame, _ = _blobs(seed=5)
    frame.loc[0, "monetary_amount_365d"] = -5_000.0  # returns exceeded purchases
    frame.loc[1, "monetary_amount_365d"] = np.nan
    seg = RFMSegmenter(n_clusters=4).fit(frame)
    d = seg.transform(frame.head(2))
    assert np.isfinite(d).all()
    assert seg.predict(frame.head(2)).min() >= 0


def test_contract_clone_and_unfitted() -> None:
    frame, _ = _blobs(n_per=50)
    seg = RFMSegmenter(n_clusters=3, scaler="standard")
    with pytest.raises(NotFittedError):
        seg.predict(frame)
    assert clone(seg).get_params() == seg.get_params()
    assert seg.set_params(n_clusters=2).n_clusters == 2


def test_adjusted_rand_index_hand_cases() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], [1, 1, 0, 0]) == pytest.approx(1.0)
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)


@pytest.mark.parametrize("k_new", [3, 5])
def test_refit_with_another_k_keeps_the_names_of_matched_segments(k_new: int) -> None:
    frame, _ = _blobs(seed=6)
    first = RFMSegmenter(n_clusters=4).fit(frame)
    refit = RFMSegmenter(n_clusters=k_new).fit(frame, previous=first)
    assert sorted(refit.segment_names_) == [NO_PURCHASE, *range(k_new)]
    assert len(set(refit.segment_names_.values())) == k_new + 1
    # with k grown, the four true blobs keep their numbers and names; with k shrunk, the top
    # blob (champions) keeps its name
    same = refit.predict(frame) == first.labels_
    if k_new > 4:
        assert [refit.segment_names_[s] for s in range(4)] == list(DEFAULT_NAMES[:4])
        assert same.mean() > 0.7
    assert refit.predict_names(frame.head(1))[0] == DEFAULT_NAMES[0]


@pytest.mark.parametrize("scaler", ["robust", "standard"])
def test_segment_distances_use_exactly_the_fitted_scalers_transform(scaler: str) -> None:
    frame, _ = _blobs(seed=4)
    frame.loc[::9, "monetary_amount_365d"] = np.nan  # missing amounts take the fill value
    seg = RFMSegmenter(n_clusters=4, scaler=scaler).fit(frame)
    values = frame[list(seg.features)].to_numpy(dtype=float)
    logged = np.sign(values) * np.log1p(np.abs(values))  # the signed log1p of the docstring
    scaled = seg.scaler_.transform(np.where(np.isnan(logged), seg.fill_values_, logged))
    expected = np.linalg.norm(scaled[:, None, :] - seg.cluster_centers_[None, :, :], axis=2)
    np.testing.assert_allclose(seg.transform(frame), expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(seg.predict(frame), expected.argmin(axis=1))
