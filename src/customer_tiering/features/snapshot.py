"""Point-in-time cut: which data a snapshot at ``as_of`` may see, and the label window after it.

The rules, in one place:

* **Features** see only transactions dated on or before ``as_of`` (the whole day ``as_of`` is in
  the past), interactions opened before the end of ``as_of``, and a complaint counts as open when it
  was not closed by the end of ``as_of``. A window of ``w`` days is ``(as_of - w, as_of]``.
* **Labels** see only transactions in ``(as_of, as_of + horizon]``: never data at or before
  ``as_of``.
* **Population**: the customers known at ``as_of``: those with a transaction line on or before
  ``as_of``, plus rows of the customers file whose ``first_contract_date`` is empty or on or before
  ``as_of``. Adding transactions after ``as_of`` never adds, removes or changes a snapshot row.

``SqlSources`` binds the input tables (pandas frames or Parquet paths) to DuckDB views with the
canonical columns of :mod:`customer_tiering.ingest.contract`; optional columns missing from an input become
NULL, so a transactions-only data set works everywhere.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TypeAlias

import duckdb
import pandas as pd

from customer_tiering.core.errors import TieringError
from customer_tiering.ingest.contract import (
    CUSTOMERS,
    DEFAULT_HORIZON_DAYS,
    INTERACTIONS,
    TRANSACTIONS,
    TableSpec,
)

__all__ = [
    "Source",
    "SqlSources",
    "connect",
    "date_literal",
    "label_window",
]

Source: TypeAlias = "pd.DataFrame | str | os.PathLike[str]"

_SQL_TYPES = {
    "id": "VARCHAR",
    "text": "VARCHAR",
    "category": "VARCHAR",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "number": "DOUBLE",
    "score_0_10": "DOUBLE",
}


def date_literal(day: date) -> str:
    """A SQL date literal (standard SQL: DuckDB, Spark SQL, PostgreSQL all read it).

    Parameters
    ----------
    day : datetime.date

    Returns
    -------
    str
        ``DATE 'YYYY-MM-DD'``.
    """
    return f"DATE '{day.isoformat()}'"


@dataclass(frozen=True)
class LabelWindow:
    """The days whose orders make the labels: ``(start, end]`` with ``start = as_of``."""

    start: date
    end: date


def label_window(as_of: date, horizon_days: int = DEFAULT_HORIZON_DAYS) -> LabelWindow:
    """The label window ``(as_of, as_of + horizon_days]``.

    Parameters
    ----------
    as_of : datetime.date
        The snapshot date (not in the window).
    horizon_days : int
        The window's length in days.

    Returns
    -------
    LabelWindow

    Raises
    ------
    ValueError
        If ``horizon_days`` is not a positive number of days.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be a positive number of days, got {horizon_days}")
    return LabelWindow(as_of, as_of + timedelta(days=horizon_days))


DEFAULT_MEMORY_LIMIT = "3GB"


def connect(
    threads: int | None = None, memory_limit: str | None = DEFAULT_MEMORY_LIMIT
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with bounded memory, spilling to the system temp folder.

    The default limit (3 GB) keeps the million-customer feature run's peak memory bounded and was
    also the fastest setting measured on two cores (BENCHMARKS.md, "Features for 1M customers").

    Parameters
    ----------
    threads : int, optional
        DuckDB's threads (default: all cores).
    memory_limit : str or None
        DuckDB's memory limit (``"3GB"``); None leaves DuckDB's own default.

    Returns
    -------
    duckdb.DuckDBPyConnection
    """
    con = duckdb.connect(":memory:")
    if threads is not None:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit is not None:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        spill = Path(tempfile.gettempdir()) / "customer-tiering-duckdb"
        con.execute(f"SET temp_directory = '{spill.as_posix()}'")
    con.execute("SET preserve_insertion_order = false")
    # The CLI shows its own (Rich) progress. Inside Jupyter without ipywidgets DuckDB refuses to
    # touch the setting; it cannot draw its bar there either, so there is nothing to turn off.
    with contextlib.suppress(duckdb.InvalidInputException):
        con.execute("SET enable_progress_bar = false")
    return con


def _quote_path(path: str | os.PathLike[str]) -> str:
    return "'" + os.fspath(path).replace("'", "''") + "'"


def _sql_text(value: str) -> str:
    """``value`` as a SQL string literal (quotes doubled; a NUL cannot be in one)."""
    if "\x00" in value:
        raise TieringError("a customer id cannot contain a NUL character")
    return "'" + value.replace("'", "''") + "'"


class SqlSources:
    """Input tables bound to DuckDB views named ``transactions``, ``customers``, ``interactions``.

    Each view has exactly the canonical columns of its table spec, typed; a column absent from the
    input is NULL. ``customers`` and ``interactions`` are empty views when not given.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        transactions: Source,
        customers: Source | None = None,
        interactions: Source | None = None,
        *,
        customer_id: str | None = None,
        customer_ids: Sequence[str] | None = None,
    ) -> None:
        self.con = con
        # One customer's rows only (a special rating): the filter reaches the Parquet scans, so
        # a big book is not aggregated to grade one customer. Several customers (a training
        # sample): a semi-join on a registered table of their ids, before any aggregate.
        if customer_id is not None and customer_ids is not None:
            raise ValueError("give customer_id or customer_ids, not both")
        self._only = None if customer_id is None else f"= {_sql_text(customer_id)}"
        if customer_ids is not None:
            import pyarrow as pa

            con.register("_only_customers", pa.table(
                {"customer_id": pa.array(list(customer_ids), type=pa.string())}))
            self._only = "IN (SELECT customer_id FROM _only_customers)"
        self._bind("transactions", TRANSACTIONS, transactions)
        self._bind("customers", CUSTOMERS, customers)
        self._bind("interactions", INTERACTIONS, interactions)

    def _bind(self, view: str, spec: TableSpec, source: Source | None) -> None:
        raw = f"_raw_{view}"
        if source is None:
            available: set[str] = set()
        elif isinstance(source, pd.DataFrame):
            self.con.register(raw, source)
            available = set(map(str, source.columns))
        else:
            self.con.execute(
                f"CREATE OR REPLACE VIEW {raw} AS SELECT * FROM read_parquet({_quote_path(source)})"
            )
            available = {r[0] for r in self.con.execute(f"DESCRIBE {raw}").fetchall()}
        cols = []
        for c in spec.columns:
            sql_type = _SQL_TYPES[c.kind]
            expr = f'CAST("{c.name}" AS {sql_type})' if c.name in available else f"CAST(NULL AS {sql_type})"
            cols.append(f"{expr} AS {c.name}")
        body = f"SELECT {', '.join(cols)} FROM {raw}" if source is not None else (
            f"SELECT {', '.join(cols)} WHERE FALSE"
        )
        if source is not None and self._only is not None:
            body += f' WHERE CAST("customer_id" AS VARCHAR) {self._only}'
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {body}")


def population_sql(as_of: date) -> str:
    """SQL for the customers known at ``as_of`` (one column ``customer_id``).

    Parameters
    ----------
    as_of : datetime.date
        The snapshot date.

    Returns
    -------
    str
        A ``SELECT`` over the views ``transactions`` and ``customers``.
    """
    d = date_literal(as_of)
    return f"""
        SELECT DISTINCT customer_id FROM transactions WHERE order_date <= {d}
        UNION
        SELECT customer_id FROM customers
        WHERE first_contract_date IS NULL OR first_contract_date <= {d}
    """


def labels_sql(as_of: date, horizon_days: int = DEFAULT_HORIZON_DAYS) -> str:
    """SQL computing ``churned`` and ``future_amount`` for the population at ``as_of``.

    ``churned`` is 1 when the customer has no line with a positive amount in the label window;
    ``future_amount`` is the net amount (returns subtracted) in the window, 0 when none.

    Parameters
    ----------
    as_of : datetime.date
        The snapshot date.
    horizon_days : int
        The label window's length in days.

    Returns
    -------
    str
        A ``SELECT`` of ``customer_id``, ``as_of``, ``churned`` and ``future_amount``.

    Raises
    ------
    ValueError
        If ``horizon_days`` is not a positive number of days.
    """
    window = label_window(as_of, horizon_days)
    lo, hi = date_literal(window.start), date_literal(window.end)
    return f"""
        WITH pop AS ({population_sql(as_of)}),
        future AS (
            SELECT customer_id,
                   SUM(amount) AS future_amount,
                   MAX(CASE WHEN amount > 0 THEN 1 ELSE 0 END) AS ordered
            FROM transactions
            WHERE order_date > {lo} AND order_date <= {hi}
            GROUP BY customer_id
        )
        SELECT pop.customer_id,
               {date_literal(as_of)} AS as_of,
               CAST(1 - COALESCE(future.ordered, 0) AS INTEGER) AS churned,
               CAST(COALESCE(future.future_amount, 0) AS DOUBLE) AS future_amount
        FROM pop LEFT JOIN future ON pop.customer_id = future.customer_id
    """


def as_of_dates_back(last: date, count: int, step_days: int) -> list[date]:
    """``count`` snapshot dates ending at ``last``, ``step_days`` apart, oldest first.

    Parameters
    ----------
    last : datetime.date
        The newest date.
    count : int
        How many dates.
    step_days : int
        Days between two dates.

    Returns
    -------
    list of datetime.date
    """
    return [last - timedelta(days=step_days * i) for i in reversed(range(count))]


def ensure_sorted_unique(dates: Sequence[date]) -> list[date]:
    """Snapshot dates sorted and without repeats (a repeated date would duplicate rows).

    Parameters
    ----------
    dates : sequence of datetime.date

    Returns
    -------
    list of datetime.date
    """
    return sorted(set(dates))
