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

Pure: configs and arrays in, arrays out.
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
from customer_tiering.scoring.scorecard import Label, ScorecardConfig, Scores

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
        """Points for calibrated churn log-odds."""
        return np.asarray(self.max_points * expit(-np.asarray(log_odds, dtype=float)))

    def slope(self, log_odds: np.ndarray) -> np.ndarray:
        """Derivative of :meth:`points` with respect to the log-odds."""
        p = expit(np.asarray(log_odds, dtype=float))
        return np.asarray(-self.max_points * p * (1.0 - p))


class ValuePoints(StrictModel):
    """Points from the value model's expected amount per 30 days, log-linear between anchors."""

    label: Label = Label(zh="价值（价值模型）", en="Value (value model)")
    max_points: float = Field(gt=0)
    zero_points_at: float = Field(gt=0, description="amount per 30 days scoring 0 points")
    full_points_at: float = Field(gt=0, description="amount per 30 days scoring max_points")

    @model_validator(mode="after")
    def _anchors_ordered(self) -> ValuePoints:
        if self.full_points_at <= self.zero_points_at:
            raise ValueError(f"@full_points_at: {self.full_points_at:g} must be above "
                             f"zero_points_at {self.zero_points_at:g}")
        return self

    def _position(self, log_amount: np.ndarray, horizon_days: int) -> np.ndarray:
        per_period = np.asarray(log_amount, dtype=float) + math.log(_DAYS_PER_PERIOD / horizon_days)
        lo, hi = math.log(self.zero_points_at), math.log(self.full_points_at)
        return np.asarray((per_period - lo) / (hi - lo))

    def points(self, log_amount: np.ndarray, horizon_days: int) -> np.ndarray:
        """Points for the log of the expected amount over ``horizon_days``."""
        return np.asarray(self.max_points * np.clip(self._position(log_amount, horizon_days), 0, 1))

    def slope(self, log_amount: np.ndarray, horizon_days: int) -> np.ndarray:
        """Derivative of :meth:`points` (0 outside the anchors)."""
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
        """Points the models (and the segment adjustment) can give at most."""
        return sum(p.max_points for p in (self.retention, self.value, self.segment) if p)


def check_blend_fits_card(blend_cfg: BlendConfig, card: ScorecardConfig, file: str) -> None:
    """The weighted card plus the model parts must add up to the blend's ``total``.

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
    contributions : SHAP contributions on the raw scale, one column per feature and ``bias``;
        each row sums to the raw score.
    f, f_slope : the points map and its derivative (used where the score equals the baseline).

    Returns
    -------
    (base, feature_points, points, raw_score) where ``base`` is ``f(bias)`` per row.
    """
    found = Contributions.of(contributions)
    values = found.feature_values
    bias = found.bias
    move = values.sum(axis=1)
    raw = bias + move
    base = f(bias)
    points = f(raw)
    close = np.abs(move) < 1e-9
    safe_move = np.where(close, 1.0, move)
    slope = np.where(close, f_slope(bias), (points - base) / safe_move)
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
        """The same blend for the customers in ``rows`` only."""
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
    scorecard : the card's points per customer (:func:`customer_tiering.scoring.scorecard.score`).
    churn_contributions : calibrated log-odds contributions (+ ``bias``) of the churn model,
        rows aligned with ``scorecard``; needed when ``cfg.retention`` is set.
    value_contributions : log-amount contributions (+ ``bias``) of the value model; needed when
        ``cfg.value`` is set.
    segment : segment name per customer; needed when ``cfg.segment`` is set.
    horizon_days : the models' label horizon (days), to put the expected amount per 30 days.
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
