"""Scale-out engines: the same features, scores and explanations run on Apache Spark.

The embedded path (DuckDB for features, NumPy for scoring, in one process) never imports this
package's Spark modules; ``--engine spark`` (or ``TIERING_ENGINE=spark``) does. Nothing here
re-implements a formula: the feature SQL is :func:`~customer_tiering.features.definitions.features_sql`
in Spark's dialect, and the executors call the scoring core
(:func:`~customer_tiering.rating.population.grade_population`) on each partition.

Modules, one job each:

* :mod:`.spark_session`: the session (master, ``TIERING_SPARK_CONF``, the executors' Python);
* :mod:`.spark_sources`: input tables (a clean Parquet data set or catalog tables) as the
  canonical views the feature SQL reads, and the data's fingerprint;
* :mod:`.spark_features`: the feature (and label) snapshots as Spark SQL;
* :mod:`.spark_scoring`: what the executors run (``mapInArrow``): features -> grade rows;
* :mod:`.spark_staging`: the rows as partitioned Parquet with a manifest, read back by the driver;
* :mod:`.spark_rating`: the periodic rating on Spark, loaded into the tier store in one transaction;
* :mod:`.spark_training`: training snapshots on Spark (fitting stays on the driver);
* :mod:`.spark_cli`: what ``tiering features --engine spark`` runs.

A stage above ``rating`` and ``training`` (they know nothing of it), below the faces.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Engine", "SparkChoice"]


class Engine(StrEnum):
    """Where features and ratings are computed."""

    duckdb = "duckdb"
    spark = "spark"


@dataclass(frozen=True)
class SparkChoice:
    """The engine a command chose (``--engine``, ``--spark-master``; conf from the settings)."""

    engine: Engine
    master: str | None = None
    conf: str | None = None
