"""The BG/NBD purchase summary of a large book, aggregated by DuckDB where the file lies.

:func:`customer_tiering.models.clv.summary_from_transactions` reads the transactions into pandas:
at 100M lines that is several GB. The training job's baselines use :func:`summary_from_parquet`,
which keeps one row per customer in memory.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.models.clv import SUMMARY_COLUMNS

__all__ = ["summary_from_parquet"]


def summary_from_parquet(path: Any, as_of: Any) -> pd.DataFrame:
    """:func:`summary_from_transactions` of a transactions Parquet file, computed by DuckDB.

    The file is aggregated where it lies (per customer and day, then per customer), so a book of
    100M lines costs one row per customer in memory. Equal to :func:`summary_from_transactions`
    of the same rows, up to the order in which a day's amounts are summed (about 1e-16 relative).

    Parameters
    ----------
    path : a Parquet file (or glob) with the canonical transactions columns.
    as_of : the cut date.

    Returns
    -------
    DataFrame
        As :func:`summary_from_transactions` (indexed by ``customer_id``, sorted).
    """
    import os

    import duckdb

    from customer_tiering.features.snapshot import connect

    cut = pd.Timestamp(as_of).date()
    con = connect()
    try:
        frame = con.execute("""
            WITH daily AS (
                SELECT CAST(customer_id AS VARCHAR) AS customer_id,
                       CAST(order_date AS DATE) AS day, SUM(CAST(amount AS DOUBLE)) AS amount
                FROM read_parquet(?) WHERE CAST(order_date AS DATE) <= ?
                GROUP BY 1, 2 HAVING SUM(CAST(amount AS DOUBLE)) > 0)
            SELECT customer_id,
                   CAST(COUNT(*) - 1 AS DOUBLE) AS frequency,
                   CAST(date_diff('day', MIN(day), MAX(day)) AS DOUBLE) AS recency,
                   CAST(date_diff('day', MIN(day), CAST(? AS DATE)) AS DOUBLE) AS "T",
                   CASE WHEN COUNT(*) > 1
                        THEN (SUM(amount) - arg_min(amount, day)) / (COUNT(*) - 1)
                        ELSE 0.0 END AS monetary
            FROM daily GROUP BY customer_id ORDER BY customer_id
        """, [os.fspath(path), cut, cut]).df()
    except duckdb.Error as exc:
        raise ValueError(f"cannot summarise the transactions in {path}: {exc}") from None
    finally:
        con.close()
    summary = frame.set_index("customer_id")[list(SUMMARY_COLUMNS)].astype(np.float64)
    summary.index.name = "customer_id"
    return summary
