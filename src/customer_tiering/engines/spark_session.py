"""The Spark session a command runs on: master URL, ``TIERING_SPARK_CONF``, executors' Python.

The executors run the same Python code as the driver, so they must use the same interpreter
(``PYSPARK_PYTHON`` is set to :data:`sys.executable` unless it is set already) and find the same
``customer_tiering`` sources (its folder is put on the executors' ``PYTHONPATH``; on a cluster whose
nodes have the wheel installed this is harmless). Timestamps are read in UTC, as DuckDB reads them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from customer_tiering.core.errors import TieringError

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

__all__ = ["DEFAULT_MASTER", "parse_spark_conf", "spark_session"]

DEFAULT_MASTER = "local[2]"

# Settings every session gets (TIERING_SPARK_CONF may override any of them).
_DEFAULTS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    # a batch handed to the scoring core: big enough for vectorised scoring, small enough that
    # its explanation documents stay a few hundred MB at most
    "spark.sql.execution.arrow.maxRecordsPerBatch": "20000",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "2g",
}


def parse_spark_conf(text: str | None) -> dict[str, str]:
    """``TIERING_SPARK_CONF``: ``key=value`` pairs separated by commas, semicolons or newlines.

    Parameters
    ----------
    text : str or None
        E.g. ``"spark.executor.memory=4g, spark.sql.shuffle.partitions=64"``.

    Returns
    -------
    dict of str to str

    Raises
    ------
    TieringError
        Naming the pair that has no ``=`` or no key.
    """
    conf: dict[str, str] = {}
    for raw in (text or "").replace(";", "\n").replace(",", "\n").splitlines():
        pair = raw.strip()
        if not pair:
            continue
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise TieringError(f"TIERING_SPARK_CONF: {pair!r} is not key=value (e.g. "
                               "spark.executor.memory=4g)")
        conf[key.strip()] = value.strip()
    return conf


def spark_session(master: str = DEFAULT_MASTER, conf: dict[str, str] | None = None,
                  app_name: str = "customer-tiering") -> SparkSession:
    """Start (or join) the Spark session for ``master`` with ``conf`` on top of the defaults.

    Parameters
    ----------
    master : str
        ``local[N]``, ``spark://HOST:PORT``, ``yarn``, ``k8s://...``.
    conf : dict of str to str, optional
        Further Spark settings (``TIERING_SPARK_CONF``).
    app_name : str
        The application's name in the cluster's UI.

    Returns
    -------
    pyspark.sql.SparkSession

    Raises
    ------
    TieringError
        When pyspark is not installed (the ``spark`` extra) or Java cannot start.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise TieringError("--engine spark needs pyspark: pip install 'customer-tiering[spark]'"
                           ) from None
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    import customer_tiering

    source_root = str(Path(customer_tiering.__file__).resolve().parent.parent)
    settings = {**_DEFAULTS, "spark.executorEnv.PYTHONPATH": source_root,
                "spark.executorEnv.PYSPARK_PYTHON": os.environ["PYSPARK_PYTHON"],
                **(conf or {})}
    builder = SparkSession.builder.master(master).appName(app_name)
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # Java missing or the master unreachable: one line, no stack
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise TieringError(f"Spark session on {master} did not start: {first}") from None
    session.sparkContext.setLogLevel("WARN")
    return session
