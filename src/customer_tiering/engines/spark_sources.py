"""Input tables on Spark: the canonical views the feature SQL reads, and the data's fingerprint.

``--data`` names either a clean Parquet data set (``tiering load --out``: ``transactions.parquet``
and, when present, ``customers.parquet`` and ``interactions.parquet``), or tables of the
session's catalog:

* ``spark:CATALOG.DB`` reads the tables ``transactions``, ``customers`` and ``interactions`` of
  that namespace (the last two when they exist);
* ``spark:CATALOG.DB.ORDERS`` reads that one table as the transactions;
* ``spark:transactions=cat.db.orders,customers=cat.db.clients`` names each table.

Each view has exactly the canonical columns of :mod:`customer_tiering.ingest.contract`, typed; a
column missing from an input is NULL, as in :class:`~customer_tiering.features.snapshot.SqlSources`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from customer_tiering.core.errors import TieringError
from customer_tiering.ingest.contract import CUSTOMERS, INTERACTIONS, TRANSACTIONS, TableSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["CATALOG_PREFIX", "SparkInputs", "bind_inputs", "is_catalog_spec"]

CATALOG_PREFIX = "spark:"
_TABLES = {"transactions": TRANSACTIONS, "customers": CUSTOMERS, "interactions": INTERACTIONS}
_SPARK_TYPES = {"id": "STRING", "text": "STRING", "category": "STRING", "date": "DATE",
                "timestamp": "TIMESTAMP", "number": "DOUBLE", "score_0_10": "DOUBLE"}


def is_catalog_spec(data: str | Path) -> bool:
    """Whether ``--data`` names catalog tables (``spark:...``) rather than a folder."""
    return str(data).startswith(CATALOG_PREFIX)


@dataclass(frozen=True)
class SparkInputs:
    """The bound inputs: which tables exist, and what identifies their content."""

    tables: dict[str, str]  # view name -> where it was read from (path or table name)
    fingerprint: str

    @property
    def has_customers(self) -> bool:
        return "customers" in self.tables

    @property
    def has_interactions(self) -> bool:
        return "interactions" in self.tables


def _catalog_tables(spark: SparkSession, spec: str) -> dict[str, str]:
    body = spec[len(CATALOG_PREFIX):].strip()
    if not body:
        raise TieringError("--data spark: needs a namespace or table (spark:catalog.db or "
                           "spark:catalog.db.orders)")
    if "=" in body:
        named = {}
        for pair in body.split(","):
            view, _, table = pair.partition("=")
            if view.strip() not in _TABLES or not table.strip():
                raise TieringError(f"--data {spec}: {pair!r} is not transactions=, customers= or "
                                   "interactions= followed by a table name")
            named[view.strip()] = table.strip()
        if "transactions" not in named:
            raise TieringError(f"--data {spec}: a transactions= table is required")
        return named
    if spark.catalog.tableExists(body) and not _namespace_exists(spark, body):
        return {"transactions": body}
    found = {view: f"{body}.{view}" for view in _TABLES
             if spark.catalog.tableExists(f"{body}.{view}")}
    if "transactions" not in found:
        raise TieringError(f"--data {spec}: neither a table nor a namespace with a "
                           f"`transactions` table in the session's catalog")
    return found


def _namespace_exists(spark: SparkSession, name: str) -> bool:
    try:
        return bool(spark.catalog.databaseExists(name))
    except Exception:  # a three-part name some catalogs refuse as a database name
        return False


def _parquet_tables(data: Path) -> dict[str, str]:
    tx = data / "transactions.parquet"
    if not tx.exists():
        raise TieringError(f"{tx} does not exist; run `tiering load --out {data}` first")
    return {view: str(data / f"{view}.parquet") for view in _TABLES
            if (data / f"{view}.parquet").exists()}


def _canonical(frame: DataFrame, spec: TableSpec) -> DataFrame:
    from pyspark.sql import functions as F

    available = set(frame.columns)
    return frame.select(*[
        (F.col(f"`{c.name}`") if c.name in available else F.lit(None))
        .cast(_SPARK_TYPES[c.kind]).alias(c.name) for c in spec.columns])


def _empty(spark: SparkSession, spec: TableSpec) -> DataFrame:
    cols = ", ".join(f"CAST(NULL AS {_SPARK_TYPES[c.kind]}) AS {c.name}" for c in spec.columns)
    return spark.sql(f"SELECT {cols} WHERE FALSE")


def _catalog_fingerprint(spark: SparkSession, tables: dict[str, str]) -> str:
    """Row count and an order-free sum of row hashes per table, computed by Spark."""
    digest = hashlib.sha256(b"spark-tables-v1")
    for view, name in sorted(tables.items()):
        row = spark.sql(f"SELECT COUNT(*) AS n, SUM(CAST(xxhash64(*) AS DECIMAL(38, 0))) AS h "
                        f"FROM {name}").first()
        count, total = (row["n"], row["h"]) if row is not None else (0, None)
        digest.update(f"{view}={name}:{count}:{total}".encode())
    return f"spark-tables-v1:{digest.hexdigest()}"


def bind_inputs(spark: SparkSession, data: str | Path, *, fingerprint: bool = True
                ) -> SparkInputs:
    """Register the temp views ``transactions``, ``customers``, ``interactions`` in ``spark``.

    Parameters
    ----------
    spark : pyspark.sql.SparkSession
    data : str or pathlib.Path
        A clean Parquet data set's folder, or ``spark:...`` catalog tables (module docstring).
    fingerprint : bool
        Whether to compute the data's fingerprint (a rating's identity): for a folder the
        embedded rating's hash of the files' bytes (so both engines give the same rating key),
        for catalog tables row counts and row hashes computed by Spark.

    Returns
    -------
    SparkInputs

    Raises
    ------
    TieringError
        When the folder has no ``transactions.parquet`` or the tables are not found.
    """
    if is_catalog_spec(data):
        tables = _catalog_tables(spark, str(data))
        read = {view: spark.table(name) for view, name in tables.items()}
        stamp = _catalog_fingerprint(spark, tables) if fingerprint else ""
    else:
        folder = Path(data)
        tables = _parquet_tables(folder)
        read = {view: spark.read.parquet(path) for view, path in tables.items()}
        stamp = ""
        if fingerprint:
            from customer_tiering.rating.runs import clean_data_and_fingerprint

            stamp = clean_data_and_fingerprint(folder)[1]
    for view, spec in _TABLES.items():
        frame = _canonical(read[view], spec) if view in read else _empty(spark, spec)
        frame.createOrReplaceTempView(view)
    return SparkInputs(tables, stamp)
