"""The descriptions of registered models and versions that the MLflow registry shows (pure).

A registered model says what it predicts and how its aliases move; a version says what it
predicts at its horizon, what it learnt from (as_of, snapshot dates, customers, data fingerprint),
which scorer it is, and how the promotion gate judged the run that registered it (the gate's
metric for the candidate, the champion and every baseline, passed or not, and the alias the run
gave). That alias is history: the registry's aliases, which promote and rollback move, say which
version serves now, and the description says so rather than repeat a value that goes stale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

__all__ = ["VersionFacts", "model_description", "predicts", "version_description"]

_PREDICTS = {
    "segments": ("the segment of each customer (`segment`): a KMeans cluster on log-scaled RFM-type "
                 "features, named and ordered by value"),
    "churn": ("the probability that a customer places no order with a positive amount in the "
              "{horizon} after the day it is scored (`churn_probability`)"),
    "value": ("the net amount a customer is expected to order in the {horizon} after the day it "
              "is scored (`expected_value_next_period`)"),
}


def predicts(job: str, horizon_days: int | None = None) -> str:
    """What a job's model predicts, in words, at a horizon (``"label horizon"`` without one)."""
    horizon = f"{horizon_days} days" if horizon_days is not None else "label horizon"
    return _PREDICTS[job].format(horizon=horizon)


def model_description(job: str, name: str) -> str:
    """The registered model's description: what it predicts and how its aliases move.

    Parameters
    ----------
    job : str
        ``segments``, ``churn`` or ``value``.
    name : str
        The registered model name (``tiering-<job>``).

    Returns
    -------
    str
        Markdown.
    """
    text = predicts(job)
    return (
        f"{text[0].upper()}{text[1:]}.\n\n"
        f"Each `tiering train {job}` run registers one version; its description says what it "
        "learnt from and how the promotion gate judged it. The rating and the API load "
        f"`models:/{name}@champion`: the `champion` alias marks the version in use and "
        "`challenger` the latest one that did not pass the gate. The gate moves them after "
        "training, people with `tiering promote` and `tiering rollback`; the aliases shown "
        "here are the current ones."
    )


@dataclass(frozen=True)
class VersionFacts:
    """What a version's description is made of (see :func:`version_description`)."""

    job: str
    as_of: str
    horizon_days: int
    scorer: str
    training_dates: Sequence[str]
    rows: int
    customers: int
    holdout_as_of: str
    holdout_customers: int
    dataset_fingerprint: str
    config_hash: str
    metric: str
    higher_is_better: bool
    margin: float
    scores: Mapping[str, float]
    passed: bool
    reasons: Sequence[str]
    alias: str
    why_alias: Sequence[str] = field(default_factory=tuple)
    champion_version: str | None = None
    champion_note: str | None = None
    sample_note: str | None = None  # the fit learnt a sample of customers (max_fit_rows)


def _scorer_label(name: str, facts: VersionFacts) -> str:
    if name == "model":
        return "this run's model"
    if name == "champion":
        return f"champion (version {facts.champion_version})" if facts.champion_version else name
    return f"baseline {name}"


def version_description(facts: VersionFacts) -> str:
    """A version's description: what it predicts, on what data, how it was gated.

    Parameters
    ----------
    facts : VersionFacts
        ``scores`` hold the gate's metric for ``"model"`` (the candidate), ``"champion"`` when
        there was one, and each baseline; ``alias`` is the one the run gave, ``why_alias`` why.

    Returns
    -------
    str
        Markdown.
    """
    dates = list(facts.training_dates)
    span = f"{dates[0]} .. {dates[-1]}" if len(dates) > 1 else dates[0]
    learnt = ("fitted on the snapshot at" if facts.job == "segments"
              else f"learnt from {len(dates)} snapshot dates")
    direction = "higher" if facts.higher_is_better else "lower"
    rows = [f"| {_scorer_label(name, facts)} | "
            f"{'–' if math.isnan(value) else f'{value:.4f}'} |"
            for name, value in facts.scores.items()]
    segments = facts.job == "segments"
    text = predicts(facts.job, None if segments else facts.horizon_days)
    judged = ("Judged on the same customers" if segments else
              f"Holdout {facts.holdout_as_of} ({facts.holdout_customers:,} customers)")
    return "\n".join([
        f"Predicts {text}.",
        "",
        f"**Data.** As of {facts.as_of}; {learnt} {span} ({facts.rows:,} rows, "
        f"{facts.customers:,} customers). {judged}. "
        f"Data fingerprint `{facts.dataset_fingerprint}`; config hash `{facts.config_hash}`.",
        *(["", f"**Sample.** {facts.sample_note[0].upper()}{facts.sample_note[1:]}."]
          if facts.sample_note else []),
        "",
        f"**Scorer.** {facts.scorer}.",
        "",
        f"**Gate** on the {'snapshot' if segments else 'holdout'} {facts.metric} "
        f"({direction} is better, margin {facts.margin:g}): "
        f"{'passed' if facts.passed else 'not passed'}.",
        "",
        f"| scorer | {facts.metric} |",
        "|---|---|",
        *rows,
        "",
        *(f"- {reason}" for reason in facts.reasons),
        *([f"- {facts.champion_note}"] if facts.champion_note else []),
        "",
        f"**Alias given by the run that registered it:** `{facts.alias}`"
        + (f" ({'; '.join(facts.why_alias)})" if facts.why_alias else "") + ". "
        "Promote and rollback move aliases later: the registry's aliases are the current ones.",
    ])
