"""Training snapshots on Spark: the frame :func:`~customer_tiering.features.compute.build_snapshots`
returns, computed by the cluster; fitting stays on the driver."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from customer_tiering.ingest.contract import DEFAULT_HORIZON_DAYS

__all__ = ["spark_build_snapshots"]


def spark_build_snapshots(master: str | None, conf: str | None) -> Callable[..., pd.DataFrame]:
    """A ``build_snapshots`` that runs on Spark (session started on first use)."""

    def build(transactions: str | os.PathLike[str], customers: Any = None,
              interactions: Any = None, *, as_of_dates: Sequence[date],
              horizon_days: int = DEFAULT_HORIZON_DAYS, with_labels: bool = True,
              progress: Callable[[int, int], None] | None = None) -> pd.DataFrame:
        from customer_tiering.core.errors import TieringError
        from customer_tiering.engines.spark_features import spark_snapshots
        from customer_tiering.engines.spark_session import (
            DEFAULT_MASTER,
            parse_spark_conf,
            spark_session,
        )
        from customer_tiering.engines.spark_sources import bind_inputs

        if isinstance(transactions, pd.DataFrame):
            raise TieringError("--engine spark computes snapshots from a clean data set's files")
        spark = spark_session(master or DEFAULT_MASTER, parse_spark_conf(conf))
        inputs = bind_inputs(spark, Path(transactions).parent, fingerprint=False)
        return spark_snapshots(spark, as_of_dates=as_of_dates,
                               has_interactions=inputs.has_interactions,
                               horizon_days=horizon_days, with_labels=with_labels,
                               progress=progress)

    return build
