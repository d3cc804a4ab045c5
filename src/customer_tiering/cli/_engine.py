"""The ``--engine`` and ``--spark-master`` options shared by ``features``, ``train`` and ``rate``.

Defaults come from ``TIERING_ENGINE`` and ``TIERING_SPARK_MASTER``; further Spark settings from
``TIERING_SPARK_CONF``. Nothing here imports pyspark.
"""

from __future__ import annotations

from typing import Annotated

import typer

from customer_tiering.core.settings import Settings
from customer_tiering.engines import Engine, SparkChoice

__all__ = ["EngineOption", "SparkMasterOption", "choose_engine"]

EngineOption = Annotated[Engine | None, typer.Option(
    help="Where to compute: duckdb (embedded) or spark (the `spark` extra); default "
         "TIERING_ENGINE, else duckdb.")]
SparkMasterOption = Annotated[str | None, typer.Option(
    help="Spark master URL with --engine spark (local[2], spark://HOST:PORT, yarn, k8s://...); "
         "default TIERING_SPARK_MASTER, else local[2]. More settings: TIERING_SPARK_CONF.")]


def choose_engine(engine: Engine | None, master: str | None, settings: Settings) -> SparkChoice:
    """The engine, master and conf a command runs with (options over settings)."""
    return SparkChoice(engine or Engine(settings.engine), master or settings.spark_master,
                       settings.spark_conf)
