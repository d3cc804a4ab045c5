"""The promotion gate: may a candidate become champion? A pure decision on holdout metrics."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from customer_tiering.core.errors import TieringError

__all__ = ["GateDecision", "beats_by_margin", "promotion_gate"]

_TOLERANCE = 1e-12  # so that 0.82 - 0.80 counts as beating by a margin of 0.02


@dataclass(frozen=True)
class GateDecision:
    """Outcome of :func:`promotion_gate`: passed only if every comparison passed."""

    passed: bool
    reasons: tuple[str, ...]
    metric: str


def beats_by_margin(gain: float, margin: float) -> bool:
    """Whether an improvement ``gain`` (in the metric's units, better > 0) clears ``margin``.

    Strictly better, and by at least the margin up to rounding (0.82 - 0.80 clears 0.02).
    """
    return gain > 0 and gain >= margin - _TOLERANCE


def _compare(
    who: str, candidate: float, other: float | None, metric: str, higher: bool, margin: float
) -> tuple[bool, str]:
    if other is None or math.isnan(other):
        return False, f"{who} has no {metric} to compare against"
    gain = candidate - other if higher else other - candidate
    ok = beats_by_margin(gain, margin)
    verb = "beats" if ok else "does not beat"
    return ok, (
        f"{verb} {who}: {metric} {candidate:.4f} vs {other:.4f} "
        f"(improvement {gain:+.4f}, margin {margin:.4f})"
    )


def promotion_gate(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    baselines: Mapping[str, Mapping[str, float]],
    *,
    metric: str,
    higher_is_better: bool = True,
    margin: float = 0.0,
) -> GateDecision:
    """Decide whether a candidate may become champion (pure).

    The candidate passes when it is strictly better than the current champion (if any) and than
    every baseline on ``metric``, and better by at least ``margin`` (in the metric's units).
    All metrics must be measured on the same holdout: re-score the champion on the candidate's
    holdout rather than reusing the number from the champion's own run.

    Parameters
    ----------
    candidate, champion : mapping of metric name to value
        ``champion`` is ``None`` when no version is champion yet.
    baselines : mapping of baseline name to (metric name to value)
    metric : str
        E.g. ``"roc_auc"`` (churn) or ``"top20_capture"`` (value).
    higher_is_better : bool
        ``False`` for losses such as the Brier score.
    margin : float
        Required improvement, >= 0.

    Returns
    -------
    GateDecision
        ``reasons`` has one line per comparison, failing or not, in the order champion, baselines.
    """
    if margin < 0:
        raise TieringError(f"promotion margin {margin}: must be >= 0")
    value = candidate.get(metric)
    if value is None or math.isnan(value):
        return GateDecision(False, (f"candidate has no {metric}",), metric)
    checks = []
    if champion is not None:
        checks.append(
            _compare("champion", value, champion.get(metric), metric, higher_is_better, margin)
        )
    for name in sorted(baselines):
        checks.append(
            _compare(
                f"baseline {name}",
                value,
                baselines[name].get(metric),
                metric,
                higher_is_better,
                margin,
            )
        )
    if not checks:
        checks.append((True, "no champion and no baselines to compare against"))
    return GateDecision(all(ok for ok, _ in checks), tuple(r for _, r in checks), metric)


