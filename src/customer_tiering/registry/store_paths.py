"""Where a SQLite MLflow store keeps its artifacts: beside the database, spelt like the store URI.

MLflow records artifact locations as written when they were made: an experiment's location when
it is created (``create_experiment`` resolves a relative path against the working directory, so
it always ends up absolute), and from it every run's ``artifact_uri``, every logged model's
location and every model version's ``storage_location``. A ``models/`` folder copied elsewhere
then keeps writing new runs into the original folder and reading old models from it; deleting the
original breaks the copy.

So the project keeps them relative when the store URI is relative:

* ``sqlite:///models/mlflow.db`` (the default, relative to the working directory) keeps its
  artifacts at ``models/artifacts``, relative too: MLflow resolves both against the working
  directory of the process (``tiering``, ``mlflow ui``), so a folder holding ``models/`` can be
  copied or moved and used from its own root;
* ``sqlite:////abs/path/mlflow.db`` keeps ``file:///abs/path/artifacts``.

:func:`anchor_artifacts` writes that location into the store, because MLflow's API cannot store a
relative one, and re-anchors what an earlier location recorded (a store copied from elsewhere, or
made before this rule with absolute paths): every recorded path under the old location is
rewritten to the same path under the new one. It runs when training opens the experiment
(:func:`customer_tiering.registry.tracking.job_run`); reading a store never writes to it. Other
stores (PostgreSQL, a tracking server) are left alone: the server decides where artifacts go.
"""

from __future__ import annotations

import posixpath
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from customer_tiering.core.errors import TieringError

__all__ = ["anchor_artifacts", "artifact_location", "check_reachable", "sqlite_database"]

_SQLITE = "sqlite:///"
# Every MLflow 3 column that holds an artifact path derived from an experiment's location.
_PATH_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "storage_location"),
    ("model_versions", "source"),
)


def sqlite_database(mlflow_uri: str) -> str | None:
    """The database path of a SQLite store URI as written (relative or absolute), else ``None``."""
    if not mlflow_uri.startswith(_SQLITE):
        return None
    path = mlflow_uri.removeprefix(_SQLITE).split("?", 1)[0]
    return None if path in ("", ":memory:") else path


def artifact_location(mlflow_uri: str) -> str | None:
    """Where the store's experiments keep their artifacts: ``artifacts/`` beside the database.

    Parameters
    ----------
    mlflow_uri : str
        Tracking/registry URI, e.g. ``sqlite:///models/mlflow.db``.

    Returns
    -------
    str or None
        For a SQLite store with a relative path, the relative POSIX path (``models/artifacts``
        for the default store); with an absolute path, its ``file://`` URI. ``None`` for any
        other store: a tracking server decides where artifacts go (``--artifacts-destination``).
    """
    database = sqlite_database(mlflow_uri)
    if database is None:
        return None
    folder = posixpath.normpath(posixpath.join(posixpath.dirname(database), "artifacts"))
    return Path(folder).as_uri() if posixpath.isabs(folder) else folder


def _local_folder(location: str) -> Path | None:
    """The folder a local artifact location names (relative ones from the working directory)."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path)).resolve()
    if parsed.scheme == "":
        return Path(location).resolve()
    return None  # s3:, mlflow-artifacts:, ...: someone chose it on purpose


def _rewrite_prefix(database: str, old: str, new: str) -> int:
    """Replace the leading ``old`` of every recorded artifact path by ``new``; rows changed."""
    changed = 0
    with sqlite3.connect(database) as con:  # one transaction: all rewritten or none
        tables = {row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table, column in _PATH_COLUMNS:
            if table not in tables or column not in {
                    row[1] for row in con.execute(f"PRAGMA table_info({table})")}:
                continue
            cursor = con.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, ?) "
                f"WHERE substr({column}, 1, ?) = ? "
                f"AND (length({column}) = ? OR substr({column}, ?, 1) = '/')",
                (new, len(old) + 1, len(old), old, len(old), len(old) + 1))
            changed += cursor.rowcount
    return changed


def anchor_artifacts(mlflow_uri: str, recorded: str) -> str | None:
    """Make a SQLite store record its artifacts beside its database, spelt like ``mlflow_uri``.

    Parameters
    ----------
    mlflow_uri : str
        The store's URI.
    recorded : str
        The artifact location an experiment of the store records now.

    Returns
    -------
    str or None
        The new location when anything was rewritten, ``None`` when the store already records it,
        is not SQLite, or records a location that is not a local folder.

    Raises
    ------
    TieringError
        When ``recorded`` is another folder that exists while none is beside the database: the
        database was copied without its artifacts, and re-anchoring would lose every model.
    """
    wanted = artifact_location(mlflow_uri)
    database = sqlite_database(mlflow_uri)
    if wanted is None or database is None or recorded == wanted:
        return None
    old, new = _local_folder(recorded), _local_folder(wanted)
    if old is None or new is None:
        return None
    if old != new and old.exists() and not new.exists():
        raise TieringError(
            f"the MLflow store {database} keeps its artifacts in {old}, not beside it in {new}: "
            "copy the artifacts folder along with mlflow.db (a store is both), then train again")
    _rewrite_prefix(database, recorded.rstrip("/"), wanted)
    return wanted


def check_reachable(mlflow_uri: str, location: str, what: str) -> None:
    """Say how to fix a relative artifact path that does not resolve from the working directory.

    A store trained with the relative default URI records ``models/artifacts/...``; a process
    that opens it by an absolute URI from another folder would otherwise fail in MLflow with "No
    such artifact".

    Parameters
    ----------
    mlflow_uri : str
        The store's URI as this process opens it.
    location : str
        A recorded artifact location (a model version's download URI, say).
    what : str
        What lives there, for the message (``"model 'tiering-churn' version 3"``).

    Raises
    ------
    TieringError
        When ``location`` is a relative path with nothing at it from the working directory.
    """
    if urlparse(location).scheme or posixpath.isabs(location) or Path(location).exists():
        return
    raise TieringError(
        f"{what}: the MLflow store {mlflow_uri} records its artifacts relative to the folder "
        f"training ran in ({location}), and there is nothing at that path from {Path.cwd()}: "
        "run from the folder that holds the store's models/ folder, as its default URI "
        "sqlite:///models/mlflow.db does, or train once with this store URI, which records "
        "the paths for it")

