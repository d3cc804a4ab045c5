"""Feature and label snapshots on Spark: the definitions' SQL in Spark's dialect.

The statement is :func:`~customer_tiering.features.definitions.features_sql` with
``dialect="spark"`` over the views :func:`~customer_tiering.engines.spark_sources.bind_inputs`
registers; the labels are :func:`~customer_tiering.features.snapshot.labels_sql` (standard SQL).
There is no second copy of a formula here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd

from customer_tiering.features.definitions import features_sql
from customer_tiering.features.snapshot import ensure_sorted_unique, labels_sql
from customer_tiering.ingest.contract import (
    DEFAULT_HORIZON_DAYS,
    FEATURE_COLUMNS,
    LABEL_COLUMNS,
    SNAPSHOT_KEY,
)

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["spark_features", "spark_labels", "spark_snapshots"]


def spark_features(spark: SparkSession, as_of: date, *, has_interactions: bool) -> DataFrame:
    """Every customer's features at ``as_of`` as a Spark DataFrame (lazy).

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        With the canonical views bound (:func:`~customer_tiering.engines.spark_sources.bind_inputs`).
    as_of : datetime.date
        The snapshot date.
    has_interactions : bool
        Whether an interactions table was given (else the complaint counts are NULL).

    Returns
    -------
    pyspark.sql.DataFrame
        ``customer_id``, ``as_of`` and the feature columns.
    """
    return spark.sql(features_sql(as_of, dialect="spark", has_interactions=has_interactions))


def spark_labels(spark: SparkSession, as_of: date, horizon_days: int = DEFAULT_HORIZON_DAYS
                 ) -> DataFrame:
    """The labels ``churned`` and ``future_amount`` at ``as_of`` (lazy)."""
    return spark.sql(labels_sql(as_of, horizon_days))


def spark_snapshots(
    spark: SparkSession,
    *,
    as_of_dates: Sequence[date],
    has_interactions: bool,
    horizon_days: int = DEFAULT_HORIZON_DAYS,
    with_labels: bool = True,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """:func:`~customer_tiering.features.compute.build_snapshots` computed by Spark.

    Each date's block is computed in the cluster and brought to the driver as Arrow; the result
    has the embedded function's columns, dtypes and order (the same finishing step).

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
        With the canonical views bound.
    as_of_dates : sequence of datetime.date
        The snapshot dates (sorted, repeats dropped).
    has_interactions : bool
        Whether an interactions table was given.
    horizon_days : int
        The label window's length in days.
    with_labels : bool
        Whether to add the labels.
    progress : callable, optional
        Called as ``progress(dates done, dates)`` after each date.

    Returns
    -------
    pandas.DataFrame
    """
    from customer_tiering.features.compute import _finish

    dates = ensure_sorted_unique(as_of_dates)
    blocks = []
    for i, day in enumerate(dates):
        frame = spark_features(spark, day, has_interactions=has_interactions)
        if with_labels:
            frame = frame.join(spark_labels(spark, day, horizon_days).drop("as_of"),
                               on="customer_id", how="left")
        block = frame.toArrow().to_pandas()
        feats = _finish(block, [*SNAPSHOT_KEY, *FEATURE_COLUMNS,
                                *(LABEL_COLUMNS if with_labels else ())])
        feats["as_of"] = feats["as_of"].astype("datetime64[us]")  # DuckDB's unit (Arrow: days)
        if with_labels:
            feats["churned"] = feats["churned"].astype("int64")
        blocks.append(feats)
        if progress is not None:
            progress(i + 1, len(dates))
    return pd.concat(blocks, ignore_index=True)
