"""Training configuration: versioned YAML (``training/config/<job>.yaml``) validated on load.

A config names the job, the snapshot plan (how many monthly snapshots, the label horizon, which
customers are in the population), the features, the estimator's hyperparameters (checked against
the estimator's own parameters, so a typo fails naming the field), the seed and the promotion gate.

Time layout for ``tiering train --as-of D`` (``h`` = horizon, ``s`` = step):

* the **holdout** snapshot is ``D - h``: its labels come from ``(D - h, D]``, the latest window whose
  outcome is fully known; nothing about it is used for fitting, early stopping or calibration;
* the **training** snapshots end at ``D - 2h`` (so their label windows close before the holdout's
  opens) and go back ``snapshots`` steps of ``s`` days; the latest of them is the estimator's own
  time-based validation window (early stopping, calibration). The training dates whose label
  windows overlap the validation window are purged from the early-stopping fit (with ``h = 90``
  and ``s = 30``, the two before it); the final model then learns the chosen number of rounds
  from all of them (``refit``, see :mod:`customer_tiering.models._lgbm`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from customer_tiering.core.config_io import StrictModel, Version
from customer_tiering.core.errors import TieringError
from customer_tiering.ingest.contract import FEATURE_COLUMNS

__all__ = ["MIN_STEP_DAYS", "GateConfig", "PlannedDates", "SnapshotPlan", "TrainingConfig",
           "affordable_dates", "plan_dates"]

Job = Literal["segments", "churn", "value"]
REP_JUDGEMENTS = ("channel_coverage", "loyalty", "prospects", "nps")


class SnapshotPlan(StrictModel):
    """Which snapshots a job trains and is judged on."""

    snapshots: int = Field(8, ge=2, description="training snapshot dates (>= 2: one validates)")
    step_days: int = Field(30, ge=1)
    horizon_days: int = Field(90, ge=1, description="label window after each snapshot")
    active_within_days: int | None = Field(
        365, ge=1, description="population: customers with an order this recently (None: all)")


class GateConfig(StrictModel):
    """What a new version must beat, on the holdout, to become champion."""

    metric: str
    higher_is_better: bool = True
    margin: float = Field(0.0, ge=0)


class TrainingConfig(StrictModel):
    """One training job's configuration."""

    version: Version
    job: Job
    seed: int = 0
    data: SnapshotPlan = SnapshotPlan()
    features: list[str] | None = None
    use_rep_judgements: bool = Field(
        False, description="rep judgements are today's values, not point-in-time (decisions.md)")
    params: dict[str, Any] = Field(default_factory=dict)
    gate: GateConfig
    serve_refit: bool = Field(
        True, description="serve a refit that also learnt the holdout window (docs/decisions.md)")
    max_fit_rows: int | None = Field(
        None, ge=1_000,
        description="churn and value: when the snapshot table (every date, holdout included) has "
                    "more rows, the fits learn from a sample of customers stratified by label "
                    "(None: every row); the gate still scores the whole holdout")

    @field_validator("max_fit_rows")
    @classmethod
    def _budget_is_for_supervised_jobs(cls, value: int | None, info: Any) -> int | None:
        if value is not None and info.data.get("job") == "segments":
            raise ValueError("segments fit on one snapshot and are not sampled; remove it")
        return value

    @field_validator("features")
    @classmethod
    def _known_features(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for i, name in enumerate(value):
                if name not in FEATURE_COLUMNS:
                    raise ValueError(f"@[{i}]: {name!r} is not a feature "
                                     f"(known: {', '.join(FEATURE_COLUMNS)})")
        return value

    @model_validator(mode="after")
    def _params_belong_to_the_estimator(self) -> TrainingConfig:
        estimator = make_estimator(self.job, {})
        allowed = set(estimator.get_params())
        for key in self.params:
            if key not in allowed:
                raise ValueError(f"@params.{key}: not a parameter of {type(estimator).__name__} "
                                 f"(parameters: {', '.join(sorted(allowed))})")
        for key, where in (("features", "the top-level `features`"),
                           ("fixed_rounds", "`serve_refit` (the serving refit sets it)"),
                           ("random_state", "the top-level `seed`"),
                           ("label_horizon_days", "`data.horizon_days`")):
            if key in self.params:
                raise ValueError(f"@params.{key}: set it with {where}")
        return self

    @model_validator(mode="after")
    def _a_training_date_outlives_the_purge(self) -> TrainingConfig:
        if self.job == "segments":
            return self
        plan = self.data
        purged = math.ceil(plan.horizon_days / plan.step_days) - 1
        if plan.snapshots - 1 - purged < 1:
            raise ValueError(
                f"@data.snapshots: {plan.snapshots} snapshots {plan.step_days} days apart leave "
                f"nothing to train on: the latest validates and the {purged} before it are "
                f"purged (their {plan.horizon_days}-day labels overlap it); use at least "
                f"{purged + 2} snapshots")
        return self

    def model_features(self) -> list[str]:
        """Features the churn and value models use.

        Returns
        -------
        list of str
            ``features`` (default: all), without the rep judgements unless ``use_rep_judgements``.
        """
        chosen = list(self.features) if self.features is not None else list(FEATURE_COLUMNS)
        if not self.use_rep_judgements:
            chosen = [f for f in chosen if f not in REP_JUDGEMENTS]
        return chosen


def make_estimator(job: str, params: dict[str, Any], *, features: list[str] | None = None,
                   seed: int = 0, horizon_days: int | None = None) -> Any:
    """The job's estimator with the config's parameters (imported here to keep config light).

    Parameters
    ----------
    job : ``churn``, ``value`` or ``segments``.
    params : the config's estimator parameters.
    features : the model's features (churn and value).
    seed : the estimator's ``random_state``.
    horizon_days : how far the labels look ahead (churn and value): the estimator purges
        training dates whose label window overlaps the validation window.

    Returns
    -------
    ChurnModel, ValueModel or RFMSegmenter
        Not fitted.

    Raises
    ------
    KeyError
        When ``job`` is not one of the three.
    """
    from customer_tiering.models.churn import ChurnModel
    from customer_tiering.models.segments import RFMSegmenter
    from customer_tiering.models.value import ValueModel

    kwargs = {**params, "random_state": seed}
    if job != "segments" and features is not None:
        kwargs["features"] = features
    if job != "segments" and horizon_days is not None:
        kwargs["label_horizon_days"] = horizon_days
    if "k_range" in kwargs:
        kwargs["k_range"] = tuple(kwargs["k_range"])
    estimator = {"churn": ChurnModel, "value": ValueModel, "segments": RFMSegmenter}[job]
    return estimator(**kwargs)


def plan_dates(as_of: date, plan: SnapshotPlan) -> tuple[list[date], date]:
    """The snapshot dates a training run uses for ``as_of``.

    Parameters
    ----------
    as_of : the newest date with data.
    plan : the config's snapshot plan.

    Returns
    -------
    (training snapshot dates oldest first, holdout snapshot date): the holdout's labels end at
    ``as_of``, and the last training date's labels end at the holdout.
    """
    holdout = as_of - timedelta(days=plan.horizon_days)
    last_train = holdout - timedelta(days=plan.horizon_days)
    train = [last_train - timedelta(days=plan.step_days * i) for i in reversed(range(plan.snapshots))]
    return train, holdout


MIN_STEP_DAYS = 7  # closer snapshots than a week repeat the same customers' weeks


@dataclass(frozen=True)
class PlannedDates:
    """The snapshot dates a job trains and is judged on, and why they differ from the plan."""

    train: list[date]
    holdout: date
    note: str | None = None


def affordable_dates(as_of: date, plan: SnapshotPlan, first_day: date | None) -> PlannedDates:
    """The plan's dates, reduced to what a book with history from ``first_day`` can afford.

    A training snapshot needs one step of history before it (``first_day + step_days``), and two
    label windows must follow it before ``as_of`` (its own, then the holdout's). With less history
    than the plan asks, the job takes fewer snapshots and, when fewer than three remain, closer
    ones (down to :data:`MIN_STEP_DAYS` apart); the note says so for the run and the model card.

    Parameters
    ----------
    as_of
        The training date: the holdout's label window ends on it.
    plan
        The configured snapshot plan.
    first_day
        The book's first purchase day (``None``: an empty book).

    Returns
    -------
    PlannedDates
        Training dates oldest first, the holdout date and, when reduced, a one-line note.

    Raises
    ------
    TieringError
        When the book is shorter than the minimum: one training snapshot with ``step_days`` of
        history, then two label windows of ``horizon_days``.
    """
    train, holdout = plan_dates(as_of, plan)
    minimum = plan.step_days + 2 * plan.horizon_days
    if first_day is None:
        raise TieringError(f"the book has no purchase on or before {as_of}: nothing to train on")
    earliest = first_day + timedelta(days=plan.step_days)
    if train[-1] < earliest:
        have = (as_of - first_day).days
        raise TieringError(
            f"the book's history is too short to train: its first purchase is {first_day}, "
            f"{have} days before {as_of}; the minimum is {minimum} days ({plan.step_days} days of "
            f"history before a training snapshot, then two {plan.horizon_days}-day label windows, "
            f"the training snapshot's and the holdout's). Short by {minimum - have} days: train "
            f"with a shorter --horizon-days or wait for more history")
    kept = [d for d in train if d >= earliest]
    if len(kept) == len(train):
        return PlannedDates(train, holdout)
    step = plan.step_days
    if len(kept) < 3 and (train[-1] - earliest).days >= 2 * MIN_STEP_DAYS:
        step = max(MIN_STEP_DAYS, (train[-1] - earliest).days // max(plan.snapshots - 1, 1))
        kept = [train[-1] - timedelta(days=step * i) for i in reversed(range(plan.snapshots))]
        kept = [d for d in kept if d >= earliest]
    note = (f"reduced plan: {len(kept)} training snapshot(s) {step} days apart instead of "
            f"{plan.snapshots} x {plan.step_days} days, since the book's first purchase is "
            f"{first_day}")
    return PlannedDates(kept, holdout, note)
