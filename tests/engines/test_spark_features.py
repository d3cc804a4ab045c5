"""Features and labels computed by Spark (``local[2]``) equal DuckDB's, column by column.

The same SQL (:func:`~customer_tiering.features.definitions.features_sql`, Spark dialect) over the
same canonical views, read from the clean Parquet files or from catalog tables.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from customer_tiering.engines.spark_features import spark_snapshots
from customer_tiering.engines.spark_sources import bind_inputs
from customer_tiering.features.compute import build_snapshots
from tests.support.engine_compare import assert_frames_equal
from tests.support.rating_env import AS_OF, TrainedEnv, demo_clean_data

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark")]
DATES = [date(2025, 6, 30), date(2025, 9, 30)]


def _duckdb(clean: Path) -> Any:
    optional = [clean / f"{n}.parquet" for n in ("customers", "interactions")]
    return build_snapshots(clean / "transactions.parquet",
                           *(p if p.exists() else None for p in optional),
                           as_of_dates=DATES, horizon_days=90, with_labels=True)


def test_spark_features_and_labels_equal_duckdbs_for_every_column(
        spark: Any, trained: TrainedEnv) -> None:
    inputs = bind_inputs(spark, trained.clean_dir, fingerprint=False)
    assert inputs.has_customers and inputs.has_interactions
    got = spark_snapshots(spark, as_of_dates=DATES, has_interactions=True, horizon_days=90)
    want = _duckdb(trained.clean_dir)
    assert len(want) > 2_000 and want["churned"].nunique() == 2
    assert_frames_equal(got, want)


def test_a_transactions_only_book_gives_duckdbs_features_with_unknown_complaints(
        spark: Any, tmp_path: Path) -> None:
    _, clean = demo_clean_data(tmp_path, customers=150, seed=3, transactions_only=True)
    for name in ("customers", "interactions"):  # a book of orders alone
        (clean / f"{name}.parquet").unlink(missing_ok=True)
    inputs = bind_inputs(spark, clean, fingerprint=False)
    assert not inputs.has_interactions
    got = spark_snapshots(spark, as_of_dates=DATES, has_interactions=False, horizon_days=90)
    want = _duckdb(clean)
    assert want["complaint_count_365d"].isna().all()
    assert_frames_equal(got, want)


def test_catalog_tables_give_the_same_features_as_the_parquet_files(
        spark: Any, trained: TrainedEnv) -> None:
    spark.sql("CREATE DATABASE IF NOT EXISTS tiering_it")
    for name in ("transactions", "customers", "interactions"):
        (spark.read.parquet(str(trained.clean_dir / f"{name}.parquet"))
         .write.mode("overwrite").saveAsTable(f"tiering_it.{name}"))
    inputs = bind_inputs(spark, "spark:tiering_it")
    assert inputs.tables["transactions"] == "tiering_it.transactions"
    assert inputs.fingerprint.startswith("spark-tables-v1:")
    got = spark_snapshots(spark, as_of_dates=[AS_OF], has_interactions=True, with_labels=False)
    bind_inputs(spark, "spark:transactions=tiering_it.transactions", fingerprint=False)
    orders_only = spark_snapshots(spark, as_of_dates=[AS_OF], has_interactions=False,
                                  with_labels=False)
    want = build_snapshots(*(trained.clean_dir / f"{n}.parquet"
                             for n in ("transactions", "customers", "interactions")),
                           as_of_dates=[AS_OF], with_labels=False)
    assert_frames_equal(got, want)
    assert orders_only["customer_type"].isna().all()  # no customers table named
    assert len(orders_only) <= len(want)


def test_training_snapshots_come_from_spark_when_train_runs_with_engine_spark(
        spark: Any, trained: TrainedEnv) -> None:
    import contextvars

    from customer_tiering.engines.spark_training import spark_build_snapshots
    from customer_tiering.ingest.clean_data import CleanDataSet
    from customer_tiering.training import fitting

    inputs = CleanDataSet.from_dir(trained.clean_dir)

    def on_spark() -> Any:  # what `tiering train --engine spark` sets before training
        fitting.SNAPSHOT_BUILDER.set(spark_build_snapshots("local[2]", None))
        return fitting._snapshots(inputs, DATES, 90, True)

    got = contextvars.copy_context().run(on_spark)
    assert fitting.SNAPSHOT_BUILDER.get() is None  # the embedded default elsewhere
    assert_frames_equal(got, _duckdb(trained.clean_dir))
