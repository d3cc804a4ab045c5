"""What serves after a training run: the best scorer on the holdout, fitted on the latest months.

The gate (:func:`customer_tiering.registry.versions.promotion_gate`) says whether the candidate
beats the champion and every baseline by the margin. When it does not, something must still
serve, and it should be the best scorer the run measured, not nothing:

* with a champion: the champion keeps serving unless another scorer beats it by the margin;
* without one: the best scorer on the holdout serves (the candidate even below the margin, or a
  baseline when the book ranks better with it).

Whatever serves is then fitted once more on every snapshot whose label window is complete,
holdout included (``serve_refit``): the gate's numbers belong to the fit that never saw the
holdout, the served artifact knows the latest months. See docs/decisions.md, "The best scorer
serves" and "Serve a refit".
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from customer_tiering.core.errors import TieringError
from customer_tiering.registry.gate import beats_by_margin

__all__ = ["CANDIDATE", "CHAMPION_ROW", "ServingChoice", "choose_scorer", "fit_baseline_scorer",
           "fit_serving_baseline", "refit_for_serving", "servable_baselines"]

CANDIDATE = "model"
CHAMPION_ROW = "champion"


@dataclass(frozen=True)
class ServingChoice:
    """Who serves after the gate: ``"model"`` (the candidate), ``"champion"`` or a baseline name."""

    serves: str
    reasons: tuple[str, ...]

    @property
    def is_baseline(self) -> bool:
        """Whether a baseline scorer serves."""
        return self.serves not in (CANDIDATE, CHAMPION_ROW)


def choose_scorer(rows: Mapping[str, Mapping[str, float]], *, gate_passed: bool, metric: str,
                  higher_is_better: bool, margin: float, servable: Collection[str]
                  ) -> ServingChoice:
    """Decide which scorer serves from the holdout comparison (pure).

    Parameters
    ----------
    rows
        Scorer name to (metric name to value): ``"model"`` (the candidate), ``"champion"`` when
        there is one, and the baselines.
    gate_passed
        The gate's decision for the candidate; when it passed, the candidate serves.
    metric, higher_is_better, margin
        The gate's metric, its direction and the improvement that replaces a champion.
    servable
        Baseline names that can be registered as a model (the others are compared only).

    Returns
    -------
    ServingChoice
        With one reason line naming the winner, its metric and the runners-up.
    """
    if gate_passed:
        return ServingChoice(CANDIDATE, ("the candidate passed the gate",))
    sign = 1.0 if higher_is_better else -1.0
    scores = {name: float(values[metric]) for name, values in rows.items()
              if (name in (CANDIDATE, CHAMPION_ROW) or name in servable)
              and metric in values and not math.isnan(float(values[metric]))}
    if not scores:
        raise TieringError(f"no scorer has a {metric} on the holdout: nothing can serve")
    # ties go to the champion (no change), then the candidate, then baselines by name
    order = [n for n in (CHAMPION_ROW, CANDIDATE) if n in scores] + sorted(
        n for n in scores if n not in (CHAMPION_ROW, CANDIDATE))
    best = max(order, key=lambda n: (sign * scores[n], -order.index(n)))
    others = ", ".join(f"{n} {scores[n]:.4f}" for n in order if n != best)
    line = f"best on the holdout {metric}: {best} {scores[best]:.4f} ({others})"
    if CHAMPION_ROW in scores and best != CHAMPION_ROW:
        gain = sign * (scores[best] - scores[CHAMPION_ROW])
        if not beats_by_margin(gain, margin):
            return ServingChoice(CHAMPION_ROW, (
                line, f"the champion keeps serving: {best} is not better by the margin {margin}"))
    if best == CHAMPION_ROW:
        return ServingChoice(CHAMPION_ROW, (line, "the champion keeps serving"))
    why = ("no champion yet" if CHAMPION_ROW not in scores
           else f"beats the champion by the margin {margin}")
    return ServingChoice(best, (line, f"{best} serves: {why}"))


def refit_for_serving(model: Any, snapshots: pd.DataFrame, label: str) -> Any:
    """The gated model refitted with the same settings and rounds on every snapshot given.

    Parameters
    ----------
    model
        The fitted (gated) churn or value estimator; its ``best_iteration_`` rounds are repeated.
    snapshots
        Every snapshot with a complete label window, holdout included (``as_of`` column).
    label
        ``"churned"`` or ``"future_amount"``.

    Returns
    -------
    estimator
        A new fitted estimator; its calibration and drift reference come from the latest snapshot,
        held out from the booster that scored it.
    """
    served = clone(model).set_params(fixed_rounds=int(model.best_iteration_))
    return served.fit(snapshots, snapshots[label], as_of=snapshots["as_of"])


def fit_baseline_scorer(job: str, name: str, snapshots: pd.DataFrame, label: str,
                        horizon_days: int) -> Any:
    """Fit the baseline ``name`` as a servable scorer on ``snapshots``.

    Parameters
    ----------
    job
        ``"churn"`` or ``"value"``.
    name
        The baseline's row name in the comparison (see
        :data:`customer_tiering.models.baseline_scorers.CHURN_SCORERS` and ``VALUE_SCORERS``).
    snapshots
        The snapshots it learns from (its own parameters from the latest one).
    label
        ``"churned"`` or ``"future_amount"``.
    horizon_days
        The label horizon.
    """
    from customer_tiering.models.baseline_scorers import BaselineChurnScorer, BaselineValueScorer

    cls = BaselineChurnScorer if job == "churn" else BaselineValueScorer
    return cls(kind=name, horizon_days=horizon_days).fit(snapshots, snapshots[label],
                                                         as_of=snapshots["as_of"])


def fit_serving_baseline(job: str, choice: ServingChoice, snapshots: pd.DataFrame, label: str,
                         horizon_days: int, *, has_champion: bool
                         ) -> tuple[Any | None, ServingChoice]:
    """Fit the baseline a choice names, or fall back so that something still serves.

    Parameters
    ----------
    job
        ``"churn"`` or ``"value"``.
    choice
        The outcome of :func:`choose_scorer`.
    snapshots
        What the baseline learns from (every complete snapshot with ``serve_refit``).
    label
        ``"churned"`` or ``"future_amount"``.
    horizon_days
        The label horizon.
    has_champion
        Whether a champion is in place.

    Returns
    -------
    (scorer or None, choice)
        ``None`` and the choice unchanged when no baseline was chosen. When the baseline cannot be
        fitted (too few purchases for BG/NBD, say), ``None`` and a choice of the champion (when
        there is one) or the candidate, with the reason added.
    """
    if not choice.is_baseline:
        return None, choice
    try:
        return fit_baseline_scorer(job, choice.serves, snapshots, label, horizon_days), choice
    except (TieringError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        fallback = CHAMPION_ROW if has_champion else CANDIDATE
        instead = ("the champion keeps serving" if has_champion else "the candidate serves")
        return None, ServingChoice(fallback, (
            *choice.reasons,
            f"the baseline {choice.serves} could not be fitted to serve ({exc}); {instead}"))


def servable_baselines(job: str) -> tuple[str, ...]:
    """The baseline names of ``job`` that can serve."""
    from customer_tiering.models.baseline_scorers import CHURN_SCORERS, VALUE_SCORERS

    return tuple(CHURN_SCORERS if job == "churn" else VALUE_SCORERS if job == "value" else ())
