"""The blend: scorecard points + model points -> the final total, kept additive.

``serving/config/blend.yaml`` (versioned) says how many of the 100 points each part carries:

* the scorecard's total times ``scorecard_weight`` (each criterion's points scaled by it);
* **retention** points from the churn model: ``max_points * (1 - churn_probability)``;
* **value** points from the value model's expected amount, put on a 30-day basis
  (``expected_value_next_period * 30 / horizon_days``) and mapped log-linearly: 0 points at or below
  ``zero_points_at``, ``max_points`` at or above ``full_points_at``;
* an optional **segment** adjustment: points per segment name.

The parts' maxima must add up to ``total`` (checked against the card on load), so the default
stays the 100-point scale of the seed-001 card.

Why these maps. A model explains itself additively on its raw scale: calibrated log-odds for churn
(:meth:`ChurnModel.calibrated_contributions`), log of the expected amount for value. The value map
is linear in that scale between its anchors; the retention map is a sigmoid of it. Neither is
linear everywhere, so each model's points are apportioned to its features by the **secant rule**
(:func:`apportion`): with ``b`` the model's baseline (SHAP bias) and ``s`` the customer's raw score,
the baseline row gets ``f(b)`` and feature ``i`` gets ``c_i * (f(s) - f(b)) / (s - b)``. The rows
add up to ``f(s)`` exactly (up to rounding), every feature keeps its SHAP sign and its share of the
move, and where ``f`` is linear the rule is plain scaling. (When ``s == b`` the slope is ``f'(b)``.)

The secant rule is DeepLIFT's *rescale* rule [1]_ (multiplier ``(f(s) - f(b)) / (s - b)`` for a
one-input non-linearity, falling back to the gradient when the move is too small to divide by),
applied after exact TreeSHAP values; composing multipliers this way is how Deep SHAP [2]_ carries
SHAP values through a non-linear output layer while keeping them additive.

Pure: configs and arrays in, arrays out.

References
----------
.. [1] Shrikumar, A., Greenside, P. and Kundaje, A. (2017). Learning important features through
   propagating activation differences. *Proceedings of the 34th International Conference on
   Machine Learning*, PMLR 70, 3145-3153.
.. [2] Lundberg, S. M. and Lee, S.-I. (2017). A unified approach to interpreting model
   predictions. *Advances in Neural Information Processing Systems* 30, 4765-4774.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import Field, model_validator
from scipy.special import expit

from customer_tiering.core.config_io import StrictModel, Version
from customer_tiering.core.errors import ConfigError
from customer_tiering.models.modeling import Contributions
from customer_tiering.scoring.criteria import Label, ScorecardConfig
from customer_tiering.scoring.scorecard import Scores

__all__ = [
    "BlendConfig",
    "Blended",
    "ModelPoints",
    "RetentionPoints",
    "SegmentPoints",
    "ValuePoints",
    "apportion",
    "blend",
    "check_blend_fits_card",
]

_DAYS_PER_PERIOD = 30.0


class RetentionPoints(StrictModel):
    """Points from the churn model: ``max_points * (1 - churn_probability)``."""

    label: Label = Label(zh="留存（流失模型）", en="Retention (churn model)")
    max_points: float = Field(gt=0)

    def points(self, log_odds: np.ndarray) -> np.ndarray:
        """Points for calibrated churn log-odds.

        Parameters
        ----------
        log_odds : numpy.ndarray
            Calibrated churn log-odds.

        Returns
        -------
        numpy.ndarray
            ``max_points * (1 - churn_probability)``.
        """
        return np.asarray(self.max_points * expit(-np.asarray(log_odds, dtype=float)))

    def slope(self, log_odds: np.ndarray) -> np.ndarray:
        """Derivative of :meth:`points` with respect to the log-odds.

        Parameters
        ----------
        log_odds : numpy.ndarray
            Calibrated churn log-odds.

        Returns
        -------
        numpy.ndarray
            ``-max_points * p * (1 - p)``, never positive.
        """
        p = expit(np.asarray(log_odds, dtype=float))
        return np.asarray(-self.max_points * p * (1.0 - p))


class ValuePoints(StrictModel):
    """Points from the value model's expected amount per 30 days, log-linear between anchors."""

    label: Label = Label(zh="价值（价值模型）", en="Value (value model)")
    max_points: float = Field(gt=0)
    zero_points_at: float = Field(gt=0, description="amount per 30 days scoring 0 points")
    full_points_at: float = Field(gt=0, description="amount per 30 days scoring max_points")
    # where the anchors sit in the book they were set for: the share of customers whose revenue
    # per 30 days (last 365 days x 30/365) lies below each; `tiering scorecard fit` keeps them
    anchor_quantiles: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _anchors_ordered(self) -> ValuePoints:
        if self.anchor_quantiles is not None:
            low, high = self.anchor_quantiles
            if not 0 <= low < high <= 1:
                raise ValueError(f"@anchor_quantiles: {list(self.anchor_quantiles)} must be two "
                                 "shares 0 <= low < high <= 1")
        if self.full_points_at <= self.zero_points_at:
            raise ValueError(f"@full_points_at: {self.full_points_at:g} must be above "
                             f"zero_points_at {self.zero_points_at:g}")
        return self

    def _position(self, log_amount: np.ndarray, horizon_days: int) -> np.ndarray:
        per_period = np.asarray(log_amount, dtype=float) + math.log(_DAYS_PER_PERIOD / horizon_days)
        lo, hi = math.log(self.zero_points_at), math.log(self.full_points_at)
        return np.asarray((per_period - lo) / (hi - lo))

    def points(self, log_amount: np.ndarray, horizon_days: int) -> np.ndarray:
        """Points for the log of the expected amount over ``horizon_days``.

        Parameters
        ----------
        log_amount : numpy.ndarray
            Log of the expected amount over ``horizon_days``.
        horizon_days : int
            The value model's label horizon (days); the amount is put on a 30-day basis.

        Returns
        -------
        numpy.ndarray
            0 at or below ``zero_points_at`` per 30 days, ``max_points`` at or above
            ``full_points_at``, linear in the log amount between.
        """
        return np.asarray(self.max_points * np.clip(self._position(log_amount, horizon_days), 0, 1))

    def slope(self, log_amount: np.ndarray, horizon_days: int) -> np.ndarray:
        """Derivative of :meth:`points` (0 outside the anchors).

        Parameters
        ----------
        log_amount : numpy.ndarray
            Log of the expected amount over ``horizon_days``.
        horizon_days : int
            The value model's label horizon (days); the amount is put on a 30-day basis.

        Returns
        -------
        numpy.ndarray
            Never negative.
        """
        t = self._position(log_amount, horizon_days)
        width = math.log(self.full_points_at) - math.log(self.zero_points_at)
        return np.where((t > 0) & (t < 1), self.max_points / width, 0.0)


class SegmentPoints(StrictModel):
    """A fixed adjustment per segment name (names from the segments model)."""

    label: Label = Label(zh="客户细分", en="Segment")
    points: dict[str, float] = Field(default_factory=dict)
    default: float = 0.0

    @property
    def max_points(self) -> float:
        """The most points a segment can give (the largest of ``points`` and ``default``)."""
        return max([self.default, *self.points.values()])

    @model_validator(mode="after")
    def _not_negative(self) -> SegmentPoints:
        for name, value in self.points.items():
            if value < 0:
                raise ValueError(f"@points.{name}: {value:g} is negative; points are 0..max")
        if self.default < 0:
            raise ValueError(f"@default: {self.default:g} is negative")
        return self


class BlendConfig(StrictModel):
    """How the final total is made from the scorecard and the models."""

    version: Version
    name: Label
    total: float = Field(100.0, gt=0)
    scorecard_weight: float = Field(gt=0, le=1)
    retention: RetentionPoints | None = None
    value: ValuePoints | None = None
    segment: SegmentPoints | None = None
    top_features: int = Field(5, ge=1, le=50, description="model features shown per customer")

    def model_max_points(self) -> float:
        """Points the models (and the segment adjustment) can give at most.

        Returns
        -------
        float
        """
        return sum(p.max_points for p in (self.retention, self.value, self.segment) if p)


def check_blend_fits_card(blend_cfg: BlendConfig, card: ScorecardConfig, file: str) -> None:
    """The weighted card plus the model parts must add up to the blend's ``total``.

    Parameters
    ----------
    blend_cfg : BlendConfig
        The blend.
    card : ScorecardConfig
        The scorecard it weights.
    file : str
        The blend file's name, for the error.

    Raises
    ------
    ConfigError
        Naming ``scorecard_weight`` and the numbers that do not add up.
    """
    weighted = blend_cfg.scorecard_weight * card.total
    together = weighted + blend_cfg.model_max_points()
    if not math.isclose(together, blend_cfg.total, abs_tol=1e-9):
        raise ConfigError(
            file, "scorecard_weight",
            f"the scorecard's {card.total:g} points x {blend_cfg.scorecard_weight:g} = "
            f"{weighted:g} plus the model parts' {blend_cfg.model_max_points():g} make "
            f"{together:g}, not the declared total {blend_cfg.total:g}")


@dataclass(frozen=True)
class ModelPoints:
    """One model criterion's points, apportioned to the model's features.

    ``base + feature_points.sum(axis=1) == points`` for every customer (to rounding).
    """

    name: str
    label: Label
    features: list[str]
    base: np.ndarray
    feature_points: np.ndarray
    points: np.ndarray
    raw_score: np.ndarray


def apportion(contributions: pd.DataFrame | Contributions, f: Callable[[np.ndarray], np.ndarray],
              f_slope: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray, np.ndarray]:
    """Spread ``f(raw score)`` over the features by the secant rule (module docstring).

    Parameters
    ----------
    contributions : pandas.DataFrame or Contributions
        SHAP contributions on the raw scale, one column per feature and ``bias``; each row sums
        to the raw score.
    f, f_slope : callable
        The points map and its derivative. ``f`` must be monotone; ``f_slope`` gives the slope
        where the score equals the baseline and bounds the secant over a move too small to
        divide by (below 1e-9).

    Returns
    -------
    base : numpy.ndarray
        ``f(bias)`` per row.
    feature_points : numpy.ndarray
        ``(rows, features)``: each contribution times the row's secant slope, so each feature
        keeps its SHAP value's sign (turned over by a falling map).
    points : numpy.ndarray
        ``f(raw score)``; ``base + feature_points.sum(axis=1)`` equals it to rounding.
    raw_score : numpy.ndarray
        ``bias`` plus the contributions.
    """
    found = Contributions.of(contributions)
    values = found.feature_values
    bias = found.bias
    move = values.sum(axis=1)
    raw = bias + move
    base = f(bias)
    points = f(raw)
    still = move == 0
    slope = (points - base) / np.where(still, 1.0, move)
    close = np.flatnonzero(np.abs(move) < 1e-9)
    if close.size:
        # Over so small a move the secant is a ratio of rounding errors, and the slope at the
        # baseline alone misses the points by up to move x the map's jump in slope where the
        # move crosses a kink (the value map's anchors). The secant of a monotone map over an
        # interval shorter than its pieces lies between the slopes at the two ends: bound it
        # there, so the rows still add up to the points and keep their signs.
        at_bias, at_score = f_slope(bias[close]), f_slope(raw[close])
        bounded = np.clip(slope[close], np.minimum(at_bias, at_score),
                          np.maximum(at_bias, at_score))
        slope[close] = np.where(still[close], at_bias, bounded)
    feature_points = values * slope[:, None]
    return base, feature_points, points, raw


@dataclass(frozen=True)
class Blended:
    """Every customer's points by part; ``total`` is their sum."""

    config: BlendConfig
    customer_id: np.ndarray
    scorecard: Scores
    scorecard_points: np.ndarray  # (n, criteria) weighted
    models: dict[str, ModelPoints]
    segment: np.ndarray | None
    segment_points: np.ndarray | None
    horizon_days: int

    def subset(self, rows: slice) -> Blended:
        """The same blend for the customers in ``rows`` only.

        Parameters
        ----------
        rows : slice
            Positions of the customers.

        Returns
        -------
        Blended
        """
        models = {name: ModelPoints(p.name, p.label, p.features, p.base[rows],
                                    p.feature_points[rows], p.points[rows], p.raw_score[rows])
                  for name, p in self.models.items()}
        return Blended(
            config=self.config, customer_id=self.customer_id[rows],
            scorecard=self.scorecard.subset(rows), scorecard_points=self.scorecard_points[rows],
            models=models, segment=None if self.segment is None else self.segment[rows],
            segment_points=None if self.segment_points is None else self.segment_points[rows],
            horizon_days=self.horizon_days)

    @property
    def total(self) -> np.ndarray:
        """Each customer's total: the weighted scorecard points plus every model part."""
        total = self.scorecard_points.sum(axis=1)
        for part in self.models.values():
            total = total + part.points
        if self.segment_points is not None:
            total = total + self.segment_points
        return np.asarray(total)


def blend(
    scorecard: Scores,
    cfg: BlendConfig,
    *,
    churn_contributions: pd.DataFrame | Contributions | None = None,
    value_contributions: pd.DataFrame | Contributions | None = None,
    segment: np.ndarray | None = None,
    horizon_days: int,
) -> Blended:
    """Combine the scorecard's points with the model points configured in ``cfg``.

    Parameters
    ----------
    scorecard : Scores
        The card's points per customer (:func:`customer_tiering.scoring.scorecard.score`).
    cfg : BlendConfig
        The blend.
    churn_contributions : pandas.DataFrame or Contributions, optional
        Calibrated log-odds contributions (+ ``bias``) of the churn model, rows aligned with
        ``scorecard``; needed when ``cfg.retention`` is set.
    value_contributions : pandas.DataFrame or Contributions, optional
        Log-amount contributions (+ ``bias``) of the value model; needed when ``cfg.value`` is
        set.
    segment : numpy.ndarray, optional
        Segment name per customer; needed when ``cfg.segment`` is set.
    horizon_days : int
        The models' label horizon (days), to put the expected amount per 30 days.

    Returns
    -------
    Blended
        Every customer's points by part; its ``total`` is their sum.

    Raises
    ------
    ConfigError
        When a configured part lacks its model's input.
    ValueError
        When a model's contributions have another number of rows than the scorecard.
    """
    n = len(scorecard.points)
    models: dict[str, ModelPoints] = {}
    if cfg.retention is not None:
        if churn_contributions is None:
            raise ConfigError("blend.yaml", "retention", "needs the churn model's contributions")
        retention = cfg.retention
        churn = Contributions.of(churn_contributions)
        models["retention"] = ModelPoints(
            "retention", retention.label, churn.features,
            *apportion(churn, retention.points, retention.slope))
    if cfg.value is not None:
        if value_contributions is None:
            raise ConfigError("blend.yaml", "value", "needs the value model's contributions")
        value = cfg.value
        amounts = Contributions.of(value_contributions)
        models["value"] = ModelPoints(
            "value", value.label, amounts.features,
            *apportion(amounts, lambda s: value.points(s, horizon_days),
                       lambda s: value.slope(s, horizon_days)))
    for part in models.values():
        if len(part.points) != n:
            raise ValueError(f"{part.name}: {len(part.points)} rows for {n} customers")
    segment_points = None
    if cfg.segment is not None:
        if segment is None:
            raise ConfigError("blend.yaml", "segment", "needs the segments model's names")
        seg = cfg.segment
        segment_points = pd.Series(segment).map(seg.points).fillna(seg.default).to_numpy(float)
    return Blended(
        config=cfg,
        customer_id=np.asarray(scorecard.customer_id),
        scorecard=scorecard,
        scorecard_points=scorecard.points * cfg.scorecard_weight,
        models=models,
        segment=None if segment is None else np.asarray(segment, dtype=object),
        segment_points=segment_points,
        horizon_days=horizon_days,
    )
