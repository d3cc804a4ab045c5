"""MLflow tracking: one run per job, with what it takes to reproduce and compare it.

Each training job (``segments``, ``churn``, ``value``; ``all`` is a parent run with the three as
nested runs) runs inside :func:`job_run`, which logs the flattened config as params, ``as_of``, the
config hash, the dataset fingerprint and the package versions. Metrics are logged for the model and
every baseline side by side, with a metrics table, figures and a model card as artifacts
(:mod:`customer_tiering.training.run_reports`). The registry side (versions, the ``champion`` alias,
promotion) lives in :mod:`customer_tiering.registry.versions`.

Store. ``Settings.mlflow_uri`` is both the tracking and the registry URI. For a SQLite store
(the embedded default ``sqlite:///models/mlflow.db``) the experiment's artifacts go in an
``artifacts/`` folder beside the database file, relative when the store URI is relative, so a
copied ``models/`` folder is self-contained (:mod:`customer_tiering.registry.store_paths`) and
nothing lands in ``./mlruns``. MLflow keeps its URIs in module globals, so :func:`use_store` sets
them for the duration of a ``with`` block and puts back what was there before; nothing is
configured at import time.

As people open it: the experiment's tags, the run names and the links to the UI are
:mod:`customer_tiering.registry.mlflow_ui`. Which version serves is never recorded on a run: it is
the registry's ``champion`` alias, which promote and rollback move.

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
import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from pydantic import BaseModel

from customer_tiering.core.config_io import config_dict, config_hash
from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.registry.mlflow_ui import EXPERIMENT_TAGS, horizons, run_name
from customer_tiering.registry.store_paths import anchor_artifacts, artifact_location

__all__ = [
    "DEFAULT_EXPERIMENT",
    "TRACKED_PACKAGES",
    "MissingModelStoreError",
    "artifact_location",
    "config_hash",
    "dataset_fingerprint",
    "ensure_experiment",
    "flatten_config",
    "job_run",
    "package_versions",
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
_REGISTRY_ENV = "MLFLOW_REGISTRY_URI"
_MAX_PARAM_VALUE = 6000  # MLflow's limit on a param value (characters)
_STALE_RUN_TAGS = ("alias", "champion_version")  # written by earlier versions of train_job


# --- store -------------------------------------------------------------------------------------


class MissingModelStoreError(TieringError):
    """The MLflow store named by the settings does not exist (nothing was ever trained there, or
    its volume is not mounted)."""


@contextmanager
def use_store(settings: Settings, *, create: bool = True) -> Iterator[MlflowClient]:
    """Point MLflow at ``settings.mlflow_uri`` (tracking and registry) inside a ``with`` block.

    The previous URIs are restored on exit, so tests and long-lived processes do not leak one
    store's URI into another. For a SQLite store the database's folder is created first.

    Parameters
    ----------
    settings : Settings
        ``mlflow_uri`` is used.
    create : bool
        Whether a missing SQLite store may be created (MLflow creates it on first use). Readers
        pass False: serving or rating from a store that is not there must say so, not make an
        empty one and then find no champion in it.

    Yields
    ------
    mlflow.tracking.MlflowClient
        A client bound to the store.

    Raises
    ------
    MissingModelStoreError
        With ``create=False``, when the SQLite store's file does not exist.
    """
    uri = settings.mlflow_uri
    if uri.startswith("sqlite:///"):
        db_path = Path(uri.removeprefix("sqlite:///"))
        if not create and not db_path.is_file():
            raise MissingModelStoreError(
                f"MLflow store {uri} does not exist (no file {db_path}): train the models "
                "(`tiering train all`) or point TIERING_MLFLOW_URI at the store that holds them")
        db_path.parent.mkdir(parents=True, exist_ok=True)
    was_set = mlflow.is_tracking_uri_set()  # type: ignore[no-untyped-call]
    previous_tracking = mlflow.get_tracking_uri() if was_set else None
    # set_registry_uri always exports MLFLOW_REGISTRY_URI, so the variable tells whether a
    # registry URI had been chosen (get_registry_uri() would answer with a fallback instead).
    previous_registry = os.environ.get(_REGISTRY_ENV)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield MlflowClient(tracking_uri=uri, registry_uri=uri)
    finally:
        # None unsets a URI, going back to MLflow's own default rather than pinning that default
        # for the rest of the process.
        mlflow.set_tracking_uri(previous_tracking)  # type: ignore[arg-type]
        mlflow.set_registry_uri(previous_registry)  # type: ignore[arg-type]
        if previous_registry is None:
            os.environ.pop(_REGISTRY_ENV, None)


def ensure_experiment(client: MlflowClient, name: str, settings: Settings) -> str:
    """The id of experiment ``name``, created if new, tagged and with its artifacts beside the store.

    :data:`EXPERIMENT_TAGS` are set (again, on an experiment made before they existed), a SQLite
    store records its artifacts beside the database, spelt like the store URI
    (:func:`customer_tiering.registry.store_paths.anchor_artifacts`), and the ``alias`` and
    ``champion_version`` tags that runs used to carry are removed: they said which version was
    champion when the run ended, and were wrong after the next promote or rollback.

    Parameters
    ----------
    client : MlflowClient
        A client bound to the store (see :func:`use_store`).
    name : str
        The experiment's name.
    settings : Settings
        ``mlflow_uri`` is the store.

    Returns
    -------
    str
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        experiment_id = str(client.create_experiment(
            name, artifact_location=artifact_location(settings.mlflow_uri), tags=EXPERIMENT_TAGS))
        experiment = client.get_experiment(experiment_id)
    experiment_id = str(experiment.experiment_id)
    for key, value in EXPERIMENT_TAGS.items():
        if experiment.tags.get(key) != value:
            client.set_experiment_tag(experiment_id, key, value)
    anchor_artifacts(settings.mlflow_uri, experiment.artifact_location)
    _drop_stale_alias_tags(client, experiment_id)
    return experiment_id


def _drop_stale_alias_tags(client: MlflowClient, experiment_id: str) -> None:
    """Remove the alias snapshots older runs were tagged with (the registry's alias is current)."""
    token = None
    while True:
        page = client.search_runs([experiment_id], filter_string="tags.alias LIKE '%'",
                                  max_results=500, page_token=token)
        for run in page:
            for key in _STALE_RUN_TAGS:
                if key in run.data.tags:
                    client.delete_tag(run.info.run_id, key)
        token = page.token
        if not token:
            return


# --- hashes ------------------------------------------------------------------------------------


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
        When every table is a file, :func:`files_fingerprint` (``files-v1:``, the files' bytes,
        read in 1 MB blocks): a 100M-line book is not read into memory to be fingerprinted, and
        a training run's fingerprint equals the rating's of the same clean data set.
    """
    tables = {"data": data} if isinstance(data, pd.DataFrame) else data
    if tables and not any(isinstance(v, pd.DataFrame) for v in tables.values()):
        return files_fingerprint(tables)  # files: their bytes, streamed (constant memory)
    digest = hashlib.sha256(_FINGERPRINT_VERSION.encode())
    for name in sorted(tables):
        value = tables[name]
        frame = value if isinstance(value, pd.DataFrame) else pd.read_parquet(value)
        _frame_digest(name, frame, digest)
    return f"{_FINGERPRINT_VERSION}:{digest.hexdigest()}"


FILES_FINGERPRINT_VERSION = "files-v1"


def files_fingerprint(paths: Mapping[str, str | os.PathLike[str]]) -> str:
    """A hash of files' bytes under their names, read in 1 MB blocks (constant memory).

    The clean data set's fingerprint for training runs and ratings alike: the same bytes give the
    same fingerprint, so a rating can be traced to the training runs of the same data.

    Parameters
    ----------
    paths : mapping of table name to file path

    Returns
    -------
    str
        ``files-v1:`` followed by 64 hex digits.
    """
    digest = hashlib.sha256(FILES_FINGERPRINT_VERSION.encode())
    for name, path in sorted(paths.items()):
        digest.update(name.encode())
        with Path(path).open("rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
    return f"{FILES_FINGERPRINT_VERSION}:{digest.hexdigest()}"


# --- runs --------------------------------------------------------------------------------------


def flatten_config(config: BaseModel | Mapping[str, Any], *, sep: str = ".") -> dict[str, str]:
    """Flatten a nested config into MLflow params: ``{"model.num_leaves": "31", ...}``.

    Lists are kept whole as JSON (``"[1, 2]"``) so a param reads like the YAML it came from;
    values longer than MLflow's 6000-character limit are cut (the full config is a run artifact).

    Parameters
    ----------
    config : pydantic.BaseModel or Mapping
        The validated config.
    sep : str
        Between the keys of a path.

    Returns
    -------
    dict of str to str
    """
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and (value or not prefix):
            for key, sub in value.items():
                walk(f"{prefix}{sep}{key}" if prefix else str(key), sub)
            return
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        out[prefix] = text[:_MAX_PARAM_VALUE]

    walk("", config_dict(config))
    return out


def package_versions() -> dict[str, str]:
    """Installed version of each of :data:`TRACKED_PACKAGES`.

    Returns
    -------
    dict of str to str
        ``"not installed"`` for a package that is absent.
    """
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
    parent: str | Run | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    horizon_days: int | Iterable[int] | None = None,
) -> Iterator[mlflow.ActiveRun]:
    """Run one training job as one MLflow run in the store named by ``settings``.

    Parameters
    ----------
    job : str
        ``segments``, ``churn``, ``value`` or ``all``; the ``job`` tag and the start of the run
        name (:func:`run_name`).
    settings : Settings
        ``mlflow_uri`` is used as tracking and registry URI for the duration of the run.
    config : pydantic model or mapping
        The validated job config: logged as flattened params, as ``config.json`` and hashed into
        the ``config_hash`` tag (see :func:`config_hash`).
    as_of : date or str
        The snapshot date the job's features are cut at (param and tag ``as_of``, ISO format).
    dataset_fingerprint : str
        From :func:`dataset_fingerprint` (tag ``dataset_fingerprint``).
    parent : str or mlflow Run, optional
        The parent run (the ``all`` job), or its run id; the run is nested under it.
    experiment : str
        Experiment name, created with the store's artifact location if it does not exist
        (:func:`ensure_experiment`).
    horizon_days : int or several, optional
        The label horizon (tag ``horizon_days``, and part of the run name).

    Yields
    ------
    mlflow.ActiveRun
        The active run; ``mlflow.log_*`` calls inside the block go to it. The run ends FAILED if
        the block raises, FINISHED otherwise.
    """
    parent_id = parent.info.run_id if isinstance(parent, Run) else parent
    as_of_text = as_of.isoformat() if isinstance(as_of, date | datetime) else str(as_of)
    with use_store(settings) as client:
        experiment_id = ensure_experiment(client, experiment, settings)
        days = horizons(horizon_days)
        tags = {
            "job": job,
            "as_of": as_of_text,
            **({"horizon_days": ",".join(map(str, days))} if days else {}),
            "config_hash": config_hash(config),
            "dataset_fingerprint": dataset_fingerprint,
            **{f"version.{name}": v for name, v in package_versions().items()},
        }
        with mlflow.start_run(
            experiment_id=experiment_id,
            run_name=run_name(job, as_of_text, days),
            nested=parent_id is not None,
            parent_run_id=parent_id,
            tags=tags,
        ) as run:
            mlflow.log_params({**flatten_config(config), "as_of": as_of_text})
            mlflow.log_dict(config_dict(config), "config.json")
            yield run
