"""MLflow tracking: one run per job, with what it takes to reproduce and compare it.

Each training job (``segments``, ``churn``, ``value``; ``all`` is a parent run with the three as
nested runs) runs inside :func:`job_run`, which logs the flattened config as params, ``as_of``, the
config hash, the dataset fingerprint and the package versions. Metrics are logged for the model and
every baseline side by side (:func:`log_metrics_vs_baselines`), with a metrics table, figures and a
model card as artifacts. The registry side (versions, the ``champion`` alias, promotion) lives in
:mod:`customer_tiering.registry`.

Store. ``Settings.mlflow_uri`` is both the tracking and the registry URI. For a SQLite store
(the embedded default ``sqlite:///models/mlflow.db``) the experiment's artifacts go in an
``artifacts/`` folder beside the database file, so nothing lands in ``./mlruns``. MLflow keeps its
URIs in module globals, so :func:`use_store` sets them for the duration of a ``with`` block and puts
back what was there before; nothing is configured at import time.

Metric names. MLflow allows letters, digits, ``_ - . / :`` and spaces in metric names; we use
``<split>_<metric>.<subject>``, e.g. ``holdout_roc_auc.model`` and
``holdout_roc_auc.days_since_last_order_rule``, so that the UI's metric filter ``holdout_roc_auc``
lists the model beside its baselines.

Dataset fingerprint. Independent of row order and column order (a re-sorted extract of the same
data is the same dataset) but sensitive to every value, dtype, column name and duplicate row: each
row is hashed with :func:`pandas.util.hash_pandas_object` over its columns in name order, the row
hashes are *sorted* and then digested with SHA-256 together with the table name, column names and
dtypes. pandas does not promise the row hash is stable across its major versions, so the
fingerprint is comparable between runs made with the same pandas major version (which is logged).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.tracking import MlflowClient
from pydantic import BaseModel

from customer_tiering.errors import TieringError
from customer_tiering.settings import Settings

__all__ = [
    "DEFAULT_EXPERIMENT",
    "TRACKED_PACKAGES",
    "ModelCard",
    "artifact_location",
    "config_hash",
    "dataset_fingerprint",
    "flatten_config",
    "job_run",
    "log_figure",
    "log_metrics_vs_baselines",
    "log_model_card",
    "markdown_table",
    "metric_key",
    "metrics_table",
    "package_versions",
    "render_model_card",
    "use_store",
]

DEFAULT_EXPERIMENT = "customer-tiering"
"""The one experiment every training job logs to; jobs are told apart by the ``job`` tag."""

TRACKED_PACKAGES = (
    "customer-tiering",
    "lightgbm",
    "scikit-learn",
    "pandas",
    "numpy",
    "mlflow",
    "shap",
)
"""Distributions whose versions every run records (tag ``version.<name>``)."""

_FINGERPRINT_VERSION = "v1"
_SUBJECT_RE = re.compile(r"^[A-Za-z0-9_\-]+$")
_MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value (characters)


# --- store -------------------------------------------------------------------------------------


def artifact_location(mlflow_uri: str) -> str | None:
    """Where the experiment's artifacts go for a given store URI.

    Parameters
    ----------
    mlflow_uri : str
        Tracking/registry URI, e.g. ``sqlite:///models/mlflow.db``.

    Returns
    -------
    str or None
        For a SQLite store, the absolute ``file://`` URI of ``artifacts/`` beside the database
        (``models/artifacts`` for the default store). ``None`` for any other store: a tracking
        server decides where artifacts go (``--artifacts-destination``).
    """
    if not mlflow_uri.startswith("sqlite:///"):
        return None
    db_path = Path(mlflow_uri.removeprefix("sqlite:///"))
    return (db_path.parent / "artifacts").absolute().resolve().as_uri()


@contextmanager
def use_store(settings: Settings) -> Iterator[MlflowClient]:
    """Point MLflow at ``settings.mlflow_uri`` (tracking and registry) inside a ``with`` block.

    The previous URIs are restored on exit, so tests and long-lived processes do not leak one
    store's URI into another. For a SQLite store the database's folder is created first.

    Yields
    ------
    mlflow.tracking.MlflowClient
        A client bound to the store.
    """
    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    previous_tracking = mlflow.get_tracking_uri() if mlflow.is_tracking_uri_set() else None
    previous_registry = mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        mlflow.set_tracking_uri(previous_tracking)
        mlflow.set_registry_uri(previous_registry)


def _ensure_experiment(client: MlflowClient, name: str, settings: Settings) -> str:
    """Return the id of experiment ``name``, creating it with our artifact location if new."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    return str(
        client.create_experiment(name, artifact_location=artifact_location(settings.mlflow_uri))
    )


# --- hashes ------------------------------------------------------------------------------------


def _config_dict(config: BaseModel | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(config, BaseModel):
        return config.model_dump(mode="json")
    # Round-trip through JSON so dates, paths and tuples compare the same way as in a model.
    return dict(json.loads(json.dumps(dict(config), default=str)))


def config_hash(config: BaseModel | Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of a validated config.

    Canonical: keys sorted, no whitespace, UTF-8. Hash the *validated* pydantic model, so that
    defaults filled in and values coerced on load count, and two YAML files that mean the same
    thing (comments, key order, ``1`` vs ``1.0`` where the field is a float) hash the same.
    """
    canonical = json.dumps(
        _config_dict(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _frame_digest(name: str, frame: pd.DataFrame, digest: Any) -> None:
    columns = sorted(str(c) for c in frame.columns)
    if len(set(columns)) != len(columns):
        raise TieringError(f"dataset {name!r}: duplicate column names cannot be fingerprinted")
    ordered = frame.set_axis([str(c) for c in frame.columns], axis=1)[columns]
    header = {"table": name, "columns": [[c, str(ordered[c].dtype)] for c in columns]}
    digest.update(json.dumps(header, sort_keys=True, ensure_ascii=False).encode("utf-8"))
    digest.update(len(ordered).to_bytes(8, "little"))
    if len(ordered) and columns:
        row_hashes = pd.util.hash_pandas_object(ordered, index=False).to_numpy(dtype=np.uint64)
        digest.update(np.sort(row_hashes).tobytes())


def dataset_fingerprint(
    data: pd.DataFrame | Mapping[str, pd.DataFrame | str | Path],
) -> str:
    """Content hash of the training data, independent of row and column order.

    Parameters
    ----------
    data : DataFrame or mapping of table name to DataFrame or Parquet path
        The tables a job trained on, e.g. ``{"transactions": tx, "customers": customers}``.
        A bare DataFrame is fingerprinted as a table named ``"data"``.

    Returns
    -------
    str
        ``v1:`` followed by 64 hex digits. Equal for the same rows in any order; different when a
        value, a dtype, a column name, a table name or the count of a duplicated row changes.
    """
    tables = {"data": data} if isinstance(data, pd.DataFrame) else data
    digest = hashlib.sha256(_FINGERPRINT_VERSION.encode())
    for name in sorted(tables):
        value = tables[name]
        frame = value if isinstance(value, pd.DataFrame) else pd.read_parquet(value)
        _frame_digest(name, frame, digest)
    return f"{_FINGERPRINT_VERSION}:{digest.hexdigest()}"


# --- runs --------------------------------------------------------------------------------------


def flatten_config(config: BaseModel | Mapping[str, Any], *, sep: str = ".") -> dict[str, str]:
    """Flatten a nested config into MLflow params: ``{"model.num_leaves": "31", ...}``.

    Lists are kept whole as JSON (``"[1, 2]"``) so a param reads like the YAML it came from;
    values longer than MLflow's 6000-character limit are cut (the full config is a run artifact).
    """
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and (value or not prefix):
            for key, sub in value.items():
                walk(f"{prefix}{sep}{key}" if prefix else str(key), sub)
            return
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out[prefix] = text[:_MAX_PARAM_VALUE]

    walk("", _config_dict(config))
    return out


def package_versions() -> dict[str, str]:
    """Installed version of each of :data:`TRACKED_PACKAGES` (``"not installed"`` if absent)."""
    versions = {}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@contextmanager
def job_run(
    job: str,
    *,
    settings: Settings,
    config: BaseModel | Mapping[str, Any],
    as_of: date | str,
    dataset_fingerprint: str,
    parent: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
) -> Iterator[mlflow.ActiveRun]:
    """Run one training job as one MLflow run in the store named by ``settings``.

    Parameters
    ----------
    job : str
        ``segments``, ``churn``, ``value`` or ``all``; the run name and the ``job`` tag.
    settings : Settings
        ``mlflow_uri`` is used as tracking and registry URI for the duration of the run.
    config : pydantic model or mapping
        The validated job config: logged as flattened params, as ``config.json`` and hashed into
        the ``config_hash`` tag (see :func:`config_hash`).
    as_of : date or str
        The snapshot date the job's features are cut at (param and tag ``as_of``, ISO format).
    dataset_fingerprint : str
        From :func:`dataset_fingerprint` (tag ``dataset_fingerprint``).
    parent : str, optional
        Run id of the parent run (the ``all`` job); the run is nested under it.
    experiment : str
        Experiment name, created with the store's artifact location if it does not exist.

    Yields
    ------
    mlflow.ActiveRun
        The active run; ``mlflow.log_*`` calls inside the block go to it. The run ends FAILED if
        the block raises, FINISHED otherwise.
    """
    as_of_text = as_of.isoformat() if isinstance(as_of, date | datetime) else str(as_of)
    with use_store(settings) as client:
        experiment_id = _ensure_experiment(client, experiment, settings)
        tags = {
            "job": job,
            "as_of": as_of_text,
            "config_hash": config_hash(config),
            "dataset_fingerprint": dataset_fingerprint,
            **{f"version.{name}": v for name, v in package_versions().items()},
        }
        with mlflow.start_run(
            experiment_id=experiment_id,
            run_name=f"{job} {as_of_text}",
            nested=parent is not None,
            parent_run_id=parent,
            tags=tags,
        ) as run:
            mlflow.log_params({**flatten_config(config), "as_of": as_of_text})
            mlflow.log_dict(_config_dict(config), "config.json")
            yield run


# --- metrics, figures, model card ------------------------------------------------------------


def metric_key(metric: str, subject: str, *, split: str = "holdout") -> str:
    """MLflow metric name for a subject's metric: ``holdout_roc_auc.model``."""
    for part, what in ((metric, "metric"), (subject, "subject"), (split, "split")):
        if not _SUBJECT_RE.match(part):
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
    """
    columns = {model_label: dict(model), **{name: dict(m) for name, m in baselines.items()}}
    metrics = list(dict.fromkeys([*model, *(k for m in baselines.values() for k in m)]))
    table = pd.DataFrame(columns, index=pd.Index(metrics, name="metric"), dtype="float64")
    return table


def markdown_table(table: pd.DataFrame, *, digits: int = 4) -> str:
    """A DataFrame as a GitHub markdown table (index first), numbers to ``digits`` decimals."""

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


def log_figure(figure: Any, name: str) -> str:
    """Log a matplotlib Figure as ``figures/<name>.png`` on the active run and close it.

    Closing matters in a training job that draws many plots: pyplot keeps every open figure.
    Returns the artifact path.
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
    """Render the model card as markdown (pure; see :func:`log_model_card` to log it)."""
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
    """Log the rendered card as ``model_card.md`` on the active run; return the markdown."""
    text = render_model_card(card)
    mlflow.log_text(text, "model_card.md")
    return text
