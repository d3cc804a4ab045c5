"""Per-customer features and labels as of a date: the SQL of :mod:`definitions`, run by DuckDB.

Sources (frames or Parquet paths) are bound as canonical views by
:class:`~customer_tiering.features.snapshot.SqlSources`; the statement is
:func:`~customer_tiering.features.definitions.features_sql`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd

from customer_tiering.features.definitions import RFM_FEATURES, features_sql, recency_sql, rfm_sql
from customer_tiering.features.snapshot import (
    Source,
    SqlSources,
    connect,
    ensure_sorted_unique,
    labels_sql,
)
from customer_tiering.ingest.contract import (
    CATEGORICAL_FEATURES,
    DEFAULT_HORIZON_DAYS,
    FEATURE_COLUMNS,
    LABEL_COLUMNS,
    NUMERIC_FEATURES,
    SNAPSHOT_KEY,
)

__all__ = [
    "build_rfm_snapshots",
    "build_snapshots",
    "compute_features",
    "compute_labels",
    "population_labels",
    "write_frame",
]

def _finish(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Column order, dtypes (dates as datetime64, numbers float64, categories str), sorted rows."""
    frame = frame.loc[:, list(columns)].sort_values(list(SNAPSHOT_KEY), kind="stable")
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    for c in NUMERIC_FEATURES:
        if c in frame:
            frame[c] = frame[c].astype("float64")
    for c in CATEGORICAL_FEATURES:
        if c in frame:
            frame[c] = frame[c].astype("str").where(frame[c].notna(), None)
    frame["customer_id"] = frame["customer_id"].astype("str")
    return frame.reset_index(drop=True)


def _run(
    sql_for: Callable[[], str],
    transactions: Source,
    customers: Source | None,
    interactions: Source | None,
    connection: duckdb.DuckDBPyConnection | None,
    customer_id: str | None = None,
) -> pd.DataFrame:
    con = connection or connect()
    try:
        SqlSources(con, transactions, customers, interactions, customer_id=customer_id)
        return con.execute(sql_for()).df()
    finally:
        if connection is None:
            con.close()


def _with_labels(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, as_of: date,
                 horizon_days: int) -> pd.DataFrame:
    """``frame`` (one snapshot date's rows) with ``churned`` and ``future_amount`` joined on."""
    labels = _finish(con.execute(labels_sql(as_of, horizon_days)).df(),
                     [*SNAPSHOT_KEY, *LABEL_COLUMNS])
    frame = frame.merge(labels, on=list(SNAPSHOT_KEY), how="left", validate="1:1")
    frame["churned"] = frame["churned"].astype("int64")
    return frame


def compute_features(
    transactions: Source,
    customers: Source | None = None,
    interactions: Source | None = None,
    *,
    as_of: date,
    connection: duckdb.DuckDBPyConnection | None = None,
    customer_id: str | None = None,
) -> pd.DataFrame:
    """Compute the feature snapshot at ``as_of``: one row per customer known at that date.

    Parameters
    ----------
    transactions : pandas.DataFrame or str or os.PathLike
        Frames or Parquet paths (globs allowed) with the canonical columns of
        :mod:`customer_tiering.ingest.contract`; missing optional columns are NULL.
    customers, interactions : pandas.DataFrame or str or os.PathLike, optional
        The same for the other tables, which may be omitted.
    as_of : datetime.date
        The snapshot date; nothing dated after it is used.
    connection : duckdb.DuckDBPyConnection, optional
        A connection to run on (default: a new in-memory one).
    customer_id : str, optional
        Only this customer (a special rating); the same row the whole book would give it, since
        no feature of a customer depends on another customer's data.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of`` and :data:`~customer_tiering.ingest.contract.FEATURE_COLUMNS`,
        sorted by ``customer_id``.
    """
    raw = _run(lambda: features_sql(as_of, has_interactions=interactions is not None),
               transactions, customers, interactions, connection, customer_id)
    return _finish(raw, [*SNAPSHOT_KEY, *FEATURE_COLUMNS])


def compute_labels(
    transactions: Source,
    customers: Source | None = None,
    *,
    as_of: date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    connection: duckdb.DuckDBPyConnection | None = None,
) -> pd.DataFrame:
    """Labels for the customers known at ``as_of``, from the window ``(as_of, as_of + horizon]``.

    Parameters
    ----------
    transactions : pandas.DataFrame or str or os.PathLike
        A frame or Parquet path with the canonical transactions columns.
    customers : pandas.DataFrame or str or os.PathLike, optional
        The customers table (it adds the customers known without a transaction).
    as_of : datetime.date
        The snapshot date.
    horizon_days : int
        The label window's length in days.
    connection : duckdb.DuckDBPyConnection, optional
        A connection to run on (default: a new in-memory one).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of``, ``churned`` (1: no order with a positive amount in the window)
        and ``future_amount`` (the net amount in the window, 0 when none).
    """
    raw = _run(lambda: labels_sql(as_of, horizon_days), transactions, customers, None, connection)
    raw = _finish(raw, [*SNAPSHOT_KEY, *LABEL_COLUMNS])
    raw["churned"] = raw["churned"].astype("int64")
    return raw


def build_snapshots(
    transactions: Source,
    customers: Source | None = None,
    interactions: Source | None = None,
    *,
    as_of_dates: Sequence[date],
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    with_labels: bool = True,
    progress: Callable[[int, int], None] | None = None,
    customer_ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Stack feature snapshots (and labels) at several ``as_of`` dates for training.

    One row per (``customer_id``, ``as_of``); each block equals :func:`compute_features` at its
    date, with ``churned`` and ``future_amount`` for ``horizon_days`` appended when
    ``with_labels``. The sources are bound once and reused for every date.

    Parameters
    ----------
    transactions : pandas.DataFrame or str or os.PathLike
        Frames or Parquet paths (globs allowed) with the canonical columns of
        :mod:`customer_tiering.ingest.contract`; missing optional columns are NULL.
    customers, interactions : pandas.DataFrame or str or os.PathLike, optional
        The same for the other tables, which may be omitted.
    as_of_dates : sequence of datetime.date
        The snapshot dates (sorted, repeats dropped).
    horizon_days : int
        The label window's length in days.
    with_labels : bool
        Whether to add the labels.
    progress : callable, optional
        Called as ``progress(dates done, dates)`` after each date.
    customer_ids : sequence of str, optional
        Only these customers' rows (a fit sample): the rows the whole book gives them, since no
        feature of a customer depends on another customer's data.

    Returns
    -------
    pandas.DataFrame
        The snapshots, oldest date first.
    """
    dates = ensure_sorted_unique(as_of_dates)
    con = connect()
    try:
        SqlSources(con, transactions, customers, interactions, customer_ids=customer_ids)
        blocks = []
        for i, day in enumerate(dates):
            sql = features_sql(day, has_interactions=interactions is not None)
            feats = _finish(con.execute(sql).df(), [*SNAPSHOT_KEY, *FEATURE_COLUMNS])
            if with_labels:
                feats = _with_labels(con, feats, day, horizon_days)
            blocks.append(feats)
            if progress is not None:
                progress(i + 1, len(dates))
    finally:
        con.close()
    return pd.concat(blocks, ignore_index=True)


def population_labels(
    transactions: Source,
    customers: Source | None = None,
    *,
    as_of: date,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
) -> pd.DataFrame:
    """The snapshot at ``as_of`` without its features: ``customer_id``, ``as_of``,
    ``days_since_last_order`` (for a population filter) and the labels, the rows and values
    :func:`build_snapshots` gives for those columns, at a small part of its cost.

    Parameters
    ----------
    transactions, customers : as in :func:`build_snapshots`.
    as_of : datetime.date
        The snapshot date.
    horizon_days : int
        The label window's length in days.

    Returns
    -------
    pandas.DataFrame
        Sorted by ``customer_id``.
    """
    con = connect()
    try:
        SqlSources(con, transactions, customers, None)
        frame = _finish(con.execute(recency_sql(as_of)).df(),
                        [*SNAPSHOT_KEY, "days_since_last_order"])
        return _with_labels(con, frame, as_of, horizon_days)
    finally:
        con.close()


def build_rfm_snapshots(
    transactions: Source,
    customers: Source | None = None,
    *,
    as_of_dates: Sequence[date],
) -> pd.DataFrame:
    """:func:`build_snapshots` of :data:`~customer_tiering.features.definitions.RFM_FEATURES`
    only (recency, order counts, amounts), without labels: the same numbers for those columns,
    at a fraction of the cost on a large book (what the segments job fits on). The parameters
    are :func:`build_snapshots`'s; the RFM features read no interactions.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``as_of`` and the RFM features, oldest date first.
    """
    con = connect()
    try:
        SqlSources(con, transactions, customers, None)
        blocks = [_finish(con.execute(rfm_sql(day)).df(), [*SNAPSHOT_KEY, *RFM_FEATURES])
                  for day in ensure_sorted_unique(as_of_dates)]
    finally:
        con.close()
    return pd.concat(blocks, ignore_index=True)


def write_frame(frame: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a frame to Parquet or CSV (by suffix) atomically: a temp file, then a rename.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows.
    path : str or os.PathLike
        The file; ``.csv`` is written as UTF-8 with a BOM (for Excel), anything else as Parquet.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        if target.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False, encoding="utf-8-sig")
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target
