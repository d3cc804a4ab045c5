"""What a training run reports: metrics beside the baselines, figures and a model card.

All ``log_*`` functions write to the active MLflow run (inside
:func:`customer_tiering.registry.tracking.job_run`); the others are pure.

Metric names. MLflow allows letters, digits, ``_ - . / :`` and spaces in metric names; we use
``<split>_<metric>.<subject>``, e.g. ``holdout_roc_auc.model`` and
``holdout_roc_auc.days_since_last_order_rule``, so that the UI's metric filter ``holdout_roc_auc``
lists the model beside its baselines.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mlflow
import numpy as np
import pandas as pd

from customer_tiering.core.errors import TieringError

__all__ = [
    "ModelCard",
    "log_comparison",
    "log_figure",
    "log_metrics_vs_baselines",
    "log_model_card",
    "markdown_table",
    "metric_key",
    "metrics_table",
    "render_model_card",
]

_NAME_RE = re.compile(r"^[A-Za-z0-9_\-]+$")



def metric_key(metric: str, subject: str, *, split: str = "holdout") -> str:
    """MLflow metric name for a subject's metric: ``holdout_roc_auc.model``.

    Parameters
    ----------
    metric, subject : str
        E.g. ``roc_auc`` and ``model`` (or a baseline's name).
    split : str
        Which data the metric was measured on.

    Returns
    -------
    str
        ``<split>_<metric>.<subject>``.

    Raises
    ------
    TieringError
        When a part holds anything but letters, digits, ``_`` or ``-``.
    """
    for part, what in ((metric, "metric"), (subject, "subject"), (split, "split")):
        if not _NAME_RE.match(part):
            raise TieringError(
                f"{what} name {part!r}: use letters, digits, '_' or '-' only "
                "(it becomes part of an MLflow metric name)"
            )
    return f"{split}_{metric}.{subject}"


def metrics_table(
    model: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    *,
    model_label: str = "model",
) -> pd.DataFrame:
    """Metrics side by side: one row per metric, a column for the model then each baseline.

    A baseline without a metric shows NaN (e.g. a ranking rule has no Brier score).

    Parameters
    ----------
    model : mapping of metric name to value
    baselines : mapping of baseline name to (metric name to value)
    model_label : str
        The model's column name.

    Returns
    -------
    DataFrame
    """
    columns = {model_label: dict(model), **{name: dict(m) for name, m in baselines.items()}}
    metrics = list(dict.fromkeys([*model, *(k for m in baselines.values() for k in m)]))
    table = pd.DataFrame(columns, index=pd.Index(metrics, name="metric"), dtype="float64")
    return table


def markdown_table(table: pd.DataFrame, *, digits: int = 4) -> str:
    """A DataFrame as a GitHub markdown table (index first), numbers to ``digits`` decimals.

    Parameters
    ----------
    table : DataFrame
    digits : int
        Decimals of the numbers; NaN shows as a dash.

    Returns
    -------
    str
    """

    def cell(value: Any) -> str:
        if isinstance(value, float | np.floating):
            return "–" if math.isnan(value) else f"{value:.{digits}f}"
        return str(value)

    head = [str(table.index.name or ""), *map(str, table.columns)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, row in table.iterrows():
        lines.append("| " + " | ".join([str(label), *(cell(v) for v in row)]) + " |")
    return "\n".join(lines) + "\n"


def log_metrics_vs_baselines(
    model: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    *,
    split: str = "holdout",
) -> pd.DataFrame:
    """Log the model's and every baseline's metrics to the active run, plus a table artifact.

    Parameters
    ----------
    model : mapping of metric name to value
        E.g. ``{"roc_auc": 0.81, "pr_auc": 0.42}``.
    baselines : mapping of baseline name to (metric name to value)
        E.g. ``{"days_since_last_order_rule": {"roc_auc": 0.74}}``.
    split : str
        Which data the metrics were measured on; the metric-name prefix.

    Returns
    -------
    DataFrame
        :func:`metrics_table`, also logged as ``metrics/<split>.csv`` and ``metrics/<split>.md``.
    """
    table = metrics_table(model, baselines)
    values = {
        metric_key(str(metric), str(subject), split=split): float(value)
        for subject in table.columns
        for metric, value in table[subject].items()
        if not math.isnan(value)
    }
    mlflow.log_metrics(values)
    mlflow.log_text(table.to_csv(), f"metrics/{split}.csv")
    mlflow.log_text(markdown_table(table), f"metrics/{split}.md")
    return table


def log_comparison(
    table: pd.DataFrame, *, model_row: str = "model", split: str = "holdout"
) -> pd.DataFrame:
    """Log a scorer-by-metric table (``evaluation.compare``'s shape) via the function above.

    Parameters
    ----------
    table : DataFrame
        One row per scorer (index) and one column per metric; the row ``model_row`` is the
        model, every other row a baseline.
    model_row : str
        The model's row.
    split : str
        Which data the metrics were measured on.

    Returns
    -------
    DataFrame
        :func:`metrics_table` of the comparison.

    Raises
    ------
    TieringError
        When ``table`` has no row ``model_row``.
    """
    if model_row not in table.index:
        raise TieringError(f"comparison table has no row {model_row!r} (rows: {list(table.index)})")
    rows = {str(k): {str(m): float(v) for m, v in r.items()} for k, r in table.iterrows()}
    model = rows.pop(model_row)
    return log_metrics_vs_baselines(model, rows, split=split)


def log_figure(figure: Any, name: str) -> str:
    """Log a matplotlib Figure as ``figures/<name>.png`` on the active run and close it.

    Closing matters in a training job that draws many plots: pyplot keeps every open figure.

    Parameters
    ----------
    figure : matplotlib.figure.Figure
    name : str
        The file name without extension.

    Returns
    -------
    str
        The artifact path.
    """
    import matplotlib.pyplot as plt

    path = f"figures/{name}.png"
    mlflow.log_figure(figure, path)
    plt.close(figure)
    return path


@dataclass(frozen=True)
class ModelCard:
    """What a reviewer needs to judge a model version, rendered by :func:`render_model_card`."""

    model_name: str
    job: str
    as_of: str
    data_window: str
    features: Sequence[str]
    metrics: pd.DataFrame
    config_hash: str
    dataset_fingerprint: str
    notes: Sequence[str] = field(default_factory=tuple)


def render_model_card(card: ModelCard) -> str:
    """Render the model card as markdown (pure; see :func:`log_model_card` to log it).

    Parameters
    ----------
    card : ModelCard

    Returns
    -------
    str
    """
    features = ", ".join(f"`{f}`" for f in card.features) or "(none)"
    notes = "".join(f"- {n}\n" for n in card.notes) or "- (none)\n"
    return (
        f"# Model card: {card.model_name}\n\n"
        f"- **Job**: {card.job}\n"
        f"- **As of**: {card.as_of}\n"
        f"- **Data window**: {card.data_window}\n"
        f"- **Config hash**: `{card.config_hash}`\n"
        f"- **Dataset fingerprint**: `{card.dataset_fingerprint}`\n\n"
        f"## Features ({len(card.features)})\n\n{features}\n\n"
        "## Metrics vs baselines\n\n"
        f"{markdown_table(card.metrics)}\n"
        f"## Notes\n\n{notes}"
    )


def log_model_card(card: ModelCard) -> str:
    """Log the rendered card as ``model_card.md`` on the active run.

    Parameters
    ----------
    card : ModelCard

    Returns
    -------
    str
        The markdown.
    """
    text = render_model_card(card)
    mlflow.log_text(text, "model_card.md")
    return text
