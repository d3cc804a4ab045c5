"""Grade schemes: total -> grade, by thresholds or by quotas, with optional hysteresis.

``serving/config/grades.yaml`` holds several schemes (presets from the seeds), grades listed from
the highest down:

* ``thresholds``: a grade's ``min_total`` is its inclusive lower bound; the last grade has none
  and takes everything below (seed 001: VIP >= 90, 骨干 75-90, 有效 60-75, 休眠 50-60, 潜在 < 50);
* ``rank_quota``: grades take ``share`` of the customers ranked by total (seed 003: the top 20% are
  A). Boundary counts are ``round(cumulative share x N)`` (halves up), so the shares add up to
  exactly N customers. Ties at a boundary follow ``tie_break``: ``customer_id`` (exact quota; the
  lower id wins), ``higher_grade`` (the whole tied group goes up; the quota may be exceeded) or
  ``lower_grade`` (the tied group goes down; the quota may be undershot);
* ``revenue_quota``: customers ranked by revenue; a grade with ``revenue_share`` 0.8 takes the
  customers making up the first 80% of revenue (the customer whose revenue crosses 80% included),
  the next grade the next share, the last grade the rest; customers without positive revenue get
  the last grade.

Hysteresis (thresholds only): with ``hysteresis_margin`` m and a customer's previous grade, the
customer keeps it while its total stays within ``[lower - m, upper + m)`` of that grade's band, so
a total wobbling around a threshold does not flap between grades every period.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from customer_tiering.core.config_io import StrictModel, Version
from customer_tiering.scoring.criteria import Label

__all__ = ["Grade", "GradeScheme", "GradesConfig", "SchemeChecks", "assign_grades"]

DEFAULT_MAX_GRADE_SHARE = 0.8  # a threshold scheme's grade holding more says little about anyone


class Grade(StrictModel):
    """One grade of a scheme."""

    id: str
    label: Label
    min_total: float | None = None
    share: float | None = Field(None, gt=0, le=1)
    revenue_share: float | None = Field(None, gt=0, lt=1)
    description: Label | None = None


class SchemeChecks(StrictModel):
    """Limits of the sanity checks every rating under a scheme runs (:mod:`rating.checks`)."""

    # largest share of customers one grade may hold; None: 0.8 for threshold schemes, and not
    # checked for quota schemes (their shares are set by the scheme)
    max_grade_share: float | None = Field(None, gt=0, le=1)
    # largest share of customers whose card points all come from missing-input policies
    max_policy_only_share: float = Field(0.2, ge=0, le=1)
    # grades with fewer customers are left out of the order checks (a mean of three says little)
    min_customers_for_order: int = Field(20, ge=1)

    def grade_share_limit(self, method: str) -> float | None:
        """The share limit that applies under ``method`` (None: not checked)."""
        if self.max_grade_share is not None:
            return self.max_grade_share
        return DEFAULT_MAX_GRADE_SHARE if method == "thresholds" else None


class GradeScheme(StrictModel):
    """Grades from the highest down, and how a total (or revenue) picks one."""

    label: Label
    method: Literal["thresholds", "rank_quota", "revenue_quota"]
    grades: list[Grade] = Field(min_length=2)
    tie_break: Literal["customer_id", "higher_grade", "lower_grade"] = "customer_id"
    hysteresis_margin: float = Field(0.0, ge=0)
    revenue_feature: str = "monetary_amount_365d"
    scorecard: str | None = None  # the card file this scheme is meant for (presets)
    checks: SchemeChecks = SchemeChecks()

    @model_validator(mode="after")
    def _covers_everything(self) -> GradeScheme:
        ids = [g.id for g in self.grades]
        for i, gid in enumerate(ids):
            if gid in ids[:i]:
                raise ValueError(f"@grades[{i}].id: {gid!r} is used twice")
        last = len(self.grades) - 1
        if self.method == "thresholds":
            for i, g in enumerate(self.grades[:-1]):
                if g.min_total is None:
                    raise ValueError(f"@grades[{i}].min_total: every grade but the last needs "
                                     "min_total")
                prev = self.grades[i - 1].min_total if i else None
                if prev is not None and g.min_total >= prev:
                    raise ValueError(f"@grades[{i}].min_total: {g.min_total:g} must be below "
                                     f"the grade above ({prev:g}); grades go from highest down")
            if self.grades[-1].min_total is not None:
                raise ValueError(f"@grades[{last}].min_total: the last grade takes everything "
                                 "below the others (leave min_total out) so every total has a "
                                 "grade")
        elif self.hysteresis_margin:
            raise ValueError("@hysteresis_margin: hysteresis applies to threshold schemes only")
        if self.method == "rank_quota":
            shares = [g.share for g in self.grades]
            if any(s is None for s in shares):
                i = shares.index(None)
                raise ValueError(f"@grades[{i}].share: every grade of a rank quota needs a share")
            total = sum(s for s in shares if s is not None)
            if abs(total - 1) > 1e-9:
                raise ValueError(f"@grades: shares add up to {total:g}, not 1, so some customers "
                                 "would have no grade")
        if self.method == "revenue_quota":
            shares = [g.revenue_share for g in self.grades[:-1]]
            if any(s is None for s in shares):
                i = shares.index(None)
                raise ValueError(f"@grades[{i}].revenue_share: needed for all but the last grade")
            if self.grades[-1].revenue_share is not None:
                raise ValueError(f"@grades[{last}].revenue_share: the last grade takes the rest")
            total = sum(s for s in shares if s is not None)
            if total >= 1:
                raise ValueError(f"@grades: revenue shares add up to {total:g}; they must stay "
                                 "below 1, the last grade taking the rest")
        return self

    @property
    def grade_ids(self) -> list[str]:
        """The grade ids, best first."""
        return [g.id for g in self.grades]


class GradesConfig(StrictModel):
    """The grade schemes file: a version, the default scheme and the schemes by name."""

    version: Version
    default_scheme: str
    schemes: dict[str, GradeScheme] = Field(min_length=1)

    @model_validator(mode="after")
    def _default_exists(self) -> GradesConfig:
        if self.default_scheme not in self.schemes:
            raise ValueError(f"@default_scheme: {self.default_scheme!r} is not one of the "
                             f"schemes ({', '.join(self.schemes)})")
        return self

    def scheme(self, name: str | None = None) -> GradeScheme:
        """The scheme named ``name``.

        Parameters
        ----------
        name : str, optional
            A scheme name (default: ``default_scheme``).

        Returns
        -------
        GradeScheme

        Raises
        ------
        TieringError
            When there is no such scheme (naming the schemes there are).
        """
        key = name or self.default_scheme
        if key not in self.schemes:
            from customer_tiering.core.errors import TieringError

            raise TieringError(f"grade scheme {key!r} does not exist "
                               f"(schemes: {', '.join(self.schemes)})")
        return self.schemes[key]


def _threshold_index(total: np.ndarray, scheme: GradeScheme) -> np.ndarray:
    mins = np.array([g.min_total for g in scheme.grades[:-1]], dtype=float)  # decreasing
    # the number of thresholds the total stays below is the grade index (0 = highest); a sum of
    # comparisons beats a binary search per customer for a handful of grades
    index = np.zeros(total.shape, dtype=np.int64)
    for threshold in mins:
        index += total < threshold
    return index


def _apply_hysteresis(index: np.ndarray, total: np.ndarray, previous: np.ndarray,
                      scheme: GradeScheme) -> np.ndarray:
    margin = scheme.hysteresis_margin
    known = previous >= 0
    if not margin or not known.any():
        return index
    mins = [g.min_total for g in scheme.grades[:-1]]
    lower = np.array([*mins, -np.inf], dtype=float)
    upper = np.array([np.inf, *mins], dtype=float)
    p = np.where(known, previous, 0)
    keep = known & (total >= lower[p] - margin) & (total < upper[p] + margin)
    return np.where(keep, previous, index)


def _rank_quota_index(total: np.ndarray, ids: np.ndarray, scheme: GradeScheme) -> np.ndarray:
    n = len(total)
    order = np.lexsort((ids, -total))  # total descending, then customer_id ascending
    position = np.empty(n, dtype=np.int64)
    position[order] = np.arange(n)
    if scheme.tie_break != "customer_id":
        sorted_total = total[order]
        starts = np.r_[0, np.flatnonzero(np.diff(sorted_total) != 0) + 1]
        group = np.cumsum(np.r_[0, np.diff(sorted_total) != 0])
        ends = np.r_[starts[1:], n] - 1
        pick = starts if scheme.tie_break == "higher_grade" else ends
        position[order] = pick[group]
    cumulative = np.cumsum([g.share for g in scheme.grades])
    bounds = np.floor(cumulative * n + 0.5).astype(np.int64)[:-1]
    return np.searchsorted(bounds, position, side="right")


def _revenue_quota_index(revenue: np.ndarray, ids: np.ndarray, scheme: GradeScheme) -> np.ndarray:
    n = len(revenue)
    positive = np.where(np.isnan(revenue), 0.0, np.clip(revenue, 0, None))
    order = np.lexsort((ids, -positive))
    total = positive.sum()
    before = np.cumsum(positive[order]) - positive[order]
    # rounded so that 0.8 + 0.15 meets 190/200 exactly (binary floating point would not)
    share_before = np.round(before / total, 12) if total > 0 else np.ones(n)
    bounds = np.round(np.cumsum([g.revenue_share for g in scheme.grades[:-1]]), 12)
    idx_sorted = np.searchsorted(bounds, share_before, side="right")
    idx_sorted = np.where(positive[order] > 0, idx_sorted, len(scheme.grades) - 1)
    index = np.empty(n, dtype=np.int64)
    index[order] = idx_sorted
    return index


def assign_grades(
    total: np.ndarray,
    scheme: GradeScheme,
    *,
    customer_id: np.ndarray | None = None,
    revenue: np.ndarray | None = None,
    previous_grade: np.ndarray | None = None,
) -> np.ndarray:
    """Each customer's grade id under ``scheme``.

    Parameters
    ----------
    total : numpy.ndarray
        Points totals, one per customer.
    scheme : GradeScheme
        The grade scheme.
    customer_id : numpy.ndarray, optional
        Tie-breaker for quota schemes (default: the position).
    revenue : numpy.ndarray, optional
        The revenue a ``revenue_quota`` scheme ranks by (e.g. ``monetary_amount_365d``).
    previous_grade : numpy.ndarray, optional
        Last period's grade ids in this scheme (``None``/unknown ids for new customers), for
        hysteresis.

    Returns
    -------
    numpy.ndarray
        Grade ids (object), one per customer.

    Raises
    ------
    TieringError
        When a ``revenue_quota`` scheme is given no revenue.
    """
    total = np.asarray(total, dtype=float)
    n = len(total)
    ids = np.arange(n) if customer_id is None else np.asarray(customer_id)
    if scheme.method == "thresholds":
        index = _threshold_index(total, scheme)
        if previous_grade is not None:
            lookup = {g: i for i, g in enumerate(scheme.grade_ids)}
            prev = np.array([lookup.get(g, -1) for g in previous_grade], dtype=np.int64)
            index = _apply_hysteresis(index, total, prev, scheme)
    elif scheme.method == "rank_quota":
        index = _rank_quota_index(total, ids, scheme)
    else:
        if revenue is None:
            from customer_tiering.core.errors import TieringError

            raise TieringError(f"the revenue_quota scheme needs revenue ({scheme.revenue_feature})")
        index = _revenue_quota_index(np.asarray(revenue, dtype=float), ids, scheme)
    grades: np.ndarray = np.asarray(scheme.grade_ids, dtype=object)[index]
    return grades
