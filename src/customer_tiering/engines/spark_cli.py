"""What ``tiering features --engine spark`` runs: one snapshot (and labels) on Spark."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from customer_tiering.engines import SparkChoice

__all__ = ["spark_features_file"]


def spark_features_file(chosen: SparkChoice, data: str | Path, as_of: date, *,
                        horizon_days: int, labels: bool) -> pd.DataFrame:
    """The frame ``tiering features`` writes, computed by Spark from a folder or catalog tables.

    Parameters
    ----------
    chosen : the master URL and ``TIERING_SPARK_CONF``.
    data : a clean Parquet data set's folder, or ``spark:...`` catalog tables.
    as_of : the snapshot date.
    horizon_days, labels : the label window, and whether to add the labels.

    Returns
    -------
    pandas.DataFrame
        The same columns, dtypes and rows as the embedded ``tiering features``.
    """
    from customer_tiering.engines.spark_features import spark_snapshots
    from customer_tiering.engines.spark_session import (
        DEFAULT_MASTER,
        parse_spark_conf,
        spark_session,
    )
    from customer_tiering.engines.spark_sources import bind_inputs

    spark = spark_session(chosen.master or DEFAULT_MASTER, parse_spark_conf(chosen.conf))
    inputs = bind_inputs(spark, str(data), fingerprint=False)
    return spark_snapshots(spark, as_of_dates=[as_of], has_interactions=inputs.has_interactions,
                           horizon_days=horizon_days, with_labels=labels)
