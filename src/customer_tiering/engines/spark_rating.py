"""The periodic rating on Spark, stored exactly as the embedded rating stores it.

Orchestration (the driver)::

    champions + configs (MLflow, on the driver) -> features (Spark SQL) -> staged features
    -> pass 1 in the executors: reference means (card and segment points)
    -> pass 2 in the executors: score, blend, grade, explain (the scoring core, ``mapInArrow``)
       -> staged grade rows (Parquet parts + manifest)
    -> driver: quota grades (when the scheme ranks the whole population), checks, drift, counts
    -> tier store: header + rows in one transaction (COPY on PostgreSQL)

The champion set (models, configs, leaf tables) is broadcast once. Executors never touch the store,
so a job killed at any point leaves no rating (at worst a staging folder, removed by the next
successful rating of the same key). The rating's key is the embedded one: the same data, configs and
models give the same rating whichever engine computed it, and rating it again writes nothing.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from customer_tiering.core.columns import Columns
from customer_tiering.core.errors import TieringError
from customer_tiering.core.failpoints import failpoint
from customer_tiering.core.settings import Settings
from customer_tiering.core.stopwatch import Stopwatch
from customer_tiering.engines.spark_features import spark_features
from customer_tiering.engines.spark_scoring import (
    MISSING_PREFIX,
    NAME_COLUMN,
    PREVIOUS_COLUMN,
    RatingPayload,
    combine_means,
    grade_rows_partition,
    means_partition,
    means_schema,
    rows_schema,
)
from customer_tiering.engines.spark_sources import bind_inputs
from customer_tiering.engines.spark_staging import iter_staged, read_manifest, write_manifest
from customer_tiering.ingest.contract import FEATURE_COLUMNS, SNAPSHOT_KEY
from customer_tiering.rating.champions import load_champions, load_serving_configs
from customer_tiering.rating.checks import rating_checks
from customer_tiering.rating.population import grade_population
from customer_tiering.rating.runs import Progress, RatingResult, Step, _drift, _header
from customer_tiering.scoring.explain import criteria_meta
from customer_tiering.scoring.grading import assign_grades
from customer_tiering.store.bulk_load import load_rating
from customer_tiering.store.tables import GRADE_COLUMNS
from customer_tiering.store.tier_store import TierStore, now_utc

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

__all__ = ["run_periodic_rating_spark"]

_CUSTOMERS_PER_TASK = 50_000  # customers a task scores and explains (its memory is bounded)


def _spark_schema(schema: pa.Schema) -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    return from_arrow_schema(schema)


def _features_with_names(spark: SparkSession, as_of: date, has_interactions: bool,
                         customers: str | None) -> DataFrame:
    """The features, and each customer's name when the customers table has one (as the
    embedded rating adds it)."""
    from pyspark.sql import functions as F

    features = spark_features(spark, as_of, has_interactions=has_interactions)
    if customers is None:
        return features
    raw = spark.table(customers) if not customers.endswith(".parquet") else (
        spark.read.parquet(customers))
    if "name" not in raw.columns:
        return features
    names = (raw.select(F.col("customer_id").cast("string").alias("customer_id"),
                        F.col("name").cast("string").alias(NAME_COLUMN))
             .groupBy("customer_id").agg(F.first(NAME_COLUMN, ignorenulls=False)
                                         .alias(NAME_COLUMN)))
    return features.join(names, on="customer_id", how="left")


def _parquet_rows(folder: Path) -> int:
    return sum(pq.read_metadata(p).num_rows for p in folder.rglob("*.parquet"))


def _sorted_staged(folder: Path, manifest: dict[str, Any], columns: list[str]) -> pd.DataFrame:
    batches = list(iter_staged(folder, manifest, columns=columns))
    table = pa.Table.from_batches(batches) if batches else None
    frame = table.to_pandas() if table is not None else pd.DataFrame(columns=columns)
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _staged_features(folder: Path, columns: list[str]) -> pd.DataFrame:
    """Staged feature columns of every customer, finished as the embedded rating's frame."""
    from customer_tiering.features.compute import _finish

    table = pq.read_table(folder, columns=columns)
    return _finish(table.to_pandas(), columns)


def run_periodic_rating_spark(
    *,
    as_of: date,
    settings: Settings,
    data: str | Path,
    scheme: str | None = None,
    horizon_days: int | None = None,
    master: str | None = None,
    conf: dict[str, str] | None = None,
    spark: SparkSession | None = None,
    staging_dir: Path | None = None,
    step: Step | None = None,
    progress: Progress | None = None,
) -> RatingResult:
    """Grade every customer as of ``as_of`` on Spark and store the rating (idempotent).

    Parameters
    ----------
    as_of : the rating date.
    settings : where the tier store, MLflow store and configs are.
    data : a clean Parquet data set's folder, or ``spark:...`` catalog tables.
    scheme, horizon_days : as :func:`~customer_tiering.rating.runs.run_periodic_rating`.
    master, conf : the Spark master URL and settings (when ``spark`` is not given).
    spark : a running session to use (tests share one).
    staging_dir : where the executors' output is staged (default: ``data_dir/staging``; on a
        cluster, a folder every executor and the driver can reach, e.g. HDFS or object storage).
    step, progress : report the stage, and rows loaded into the store.

    Returns
    -------
    RatingResult
        The stored rating; ``seconds`` has the time of each stage.
    """
    say = step or (lambda _m: None)
    clock = Stopwatch()
    lap = clock.lap

    configs = load_serving_configs(settings.config_dir)
    scheme_name = scheme or configs.rules.grades.default_scheme
    chosen = configs.rules.scheme(scheme_name)
    say("loading the champion models")
    models = load_champions(settings, configs, horizon_days=horizon_days)
    lap("models")
    if spark is None:
        from customer_tiering.engines.spark_session import DEFAULT_MASTER, spark_session

        say(f"starting Spark on {master or DEFAULT_MASTER}")
        spark = spark_session(master or DEFAULT_MASTER, conf)
    lap("session")
    say("fingerprinting the data")
    inputs = bind_inputs(spark, data)
    header = _header("periodic", as_of, scheme_name, configs, models, inputs.fingerprint, None,
                     None)
    key = str(header["rating_key"])
    store = TierStore.open(settings.tier_store_url())
    staging = Path(staging_dir or settings.data_dir / "staging") / f"{key[:16]}-{uuid.uuid4().hex[:8]}"
    try:
        existing = store.rating_by_key(key)
        if existing is not None:
            return RatingResult(existing, False, clock.laps)
        lap("fingerprint")
        say(f"computing features as of {as_of} on Spark")
        _features_with_names(spark, as_of, inputs.has_interactions,
                             inputs.tables.get("customers")).write.parquet(
            str(staging / "features"))
        customers = _parquet_rows(staging / "features")
        if customers == 0:
            raise TieringError(
                f"{data}: no customer has a transaction on or before {as_of}, so there is "
                "nobody to rate; load a data set with transactions (`tiering load`) or choose "
                "a later --as-of")
        lap("features")
        features = spark.read.parquet(str(staging / "features"))
        previous = store.latest_rating(kind="periodic", before=as_of, scheme=scheme_name)
        previous_grade: pd.Series | None = None
        if previous is not None:
            prev = store.grades(previous.id, columns=["customer_id", "grade"])
            previous_grade = pd.Series(prev["grade"].to_numpy(), index=prev["customer_id"])
            prev_df = spark.createDataFrame(pa.table({
                "customer_id": pa.array(prev["customer_id"].astype(str).tolist(), pa.string()),
                PREVIOUS_COLUMN: pa.array(prev["grade"].astype(str).tolist(), pa.string())}))
            features = features.join(prev_df, on="customer_id", how="left")
        # enough tasks for every executor core, each a bounded slice of customers
        parallel = spark.sparkContext.defaultParallelism
        features = features.repartition(max(2 * parallel, -(-customers // _CUSTOMERS_PER_TASK)),
                                        "customer_id")
        payload = spark.sparkContext.broadcast(
            RatingPayload(configs, models, chosen, has_previous=previous is not None))
        say(f"reference points of {customers:,} customers (executors)")
        parts = features.mapInArrow(lambda batches: means_partition(batches, payload.value),
                                    _spark_schema(means_schema(payload.value))).toArrow()
        means = combine_means(parts, payload.value)
        lap("reference_means")
        say(f"scoring, blending, grading and explaining {customers:,} customers (executors)")
        criteria = payload.value.criteria
        rows = features.mapInArrow(
            lambda batches: grade_rows_partition(batches, payload.value, means),
            _spark_schema(rows_schema(criteria)))
        rows.write.parquet(str(staging / "rows"))
        manifest = write_manifest(staging / "rows", rating_key=key, customers=customers)
        lap("score_blend_grade_explain")
        failpoint("spark.staged")  # rows staged, nothing in the store yet
        say("grade summaries, checks and drift")
        manifest = read_manifest(staging / "rows", key)
        summary = _sorted_staged(staging / "rows", manifest, [
            "customer_id", "total", "revenue_365d", "churn_probability", "expected_value",
            "grade", *(f"{MISSING_PREFIX}{c}" for c in criteria)])
        ids = summary["customer_id"].to_numpy(dtype=object)
        quota_grades = None
        if chosen.method != "thresholds":
            revenue = None
            if chosen.method == "revenue_quota":
                rev = _staged_features(staging / "features", ["customer_id",
                                                              chosen.revenue_feature])
                revenue = (rev.set_index("customer_id")[chosen.revenue_feature]
                           .reindex(ids).to_numpy(dtype=float))
            prior = (previous_grade.reindex(ids).to_numpy(dtype=object)
                     if previous_grade is not None else None)
            grade = np.asarray(assign_grades(summary["total"].to_numpy(dtype=float), chosen,
                                             customer_id=ids, revenue=revenue,
                                             previous_grade=prior), dtype=object)
            quota_grades = pd.Series(grade, index=ids)
        else:
            grade = summary["grade"].to_numpy(dtype=object)
        missing = (np.column_stack([summary[f"{MISSING_PREFIX}{c}"].to_numpy(dtype=bool)
                                    for c in criteria]) if criteria
                   else np.zeros((len(summary), 0), dtype=bool))
        churn = summary["churn_probability"].to_numpy(dtype=float)
        checks = rating_checks(grade, chosen,
                               cast(Any, SimpleNamespace(missing=missing,
                                                         card=configs.rules.card)),
                               revenue=summary["revenue_365d"].to_numpy(dtype=float),
                               churn_probability=churn if models.churn is not None else None)
        feats = _staged_features(staging / "features", [*SNAPSHOT_KEY, *FEATURE_COLUMNS])
        if not np.array_equal(feats["customer_id"].to_numpy(dtype=object), ids):
            raise TieringError(f"{staging}: the staged rows and features name other customers")
        drift = _drift(models, cast(Any, SimpleNamespace(
            features=Columns.of(feats),
            churn_probability=churn if models.churn is not None else None,
            expected_value=(summary["expected_value"].to_numpy(dtype=float)
                            if models.value is not None else None))))
        one = grade_population(feats.iloc[:1].reset_index(drop=True), configs, models,
                               scheme=chosen)
        del feats, summary
        lap("drift_and_checks")
        header.update({
            "created_at": now_utc(), "customer_count": customers, "checks": checks,
            "criteria": criteria_meta(one.blended), "reference": means, "drift": drift,
            "counts": {str(g): int(c) for g, c in pd.Series(grade).value_counts().items()},
        })
        header["seconds"] = clock.elapsed()
        say(f"loading {customers:,} grades into the tier store")
        record, created = load_rating(store, header,
                                      _store_frames(staging / "rows", manifest, quota_grades),
                                      total=customers, progress=progress)
        lap("load")
        shutil.rmtree(staging, ignore_errors=True)
        return RatingResult(record, created, clock.laps)
    finally:
        store.close()


def _store_frames(folder: Path, manifest: dict[str, Any], grades: pd.Series | None
                  ) -> Iterator[pd.DataFrame]:
    """The staged rows as the store's frames, with the driver's grades for a quota scheme."""
    for batch in iter_staged(folder, manifest, columns=list(GRADE_COLUMNS)):
        frame = batch.to_pandas()
        for c in GRADE_COLUMNS:  # text as object (None for missing), as the embedded rows
            if frame[c].dtype != object and not pd.api.types.is_numeric_dtype(frame[c].dtype) \
                    and not pd.api.types.is_bool_dtype(frame[c].dtype):
                frame[c] = frame[c].astype(object).where(frame[c].notna(), None)
        if grades is not None:
            frame["grade"] = grades.reindex(frame["customer_id"].to_numpy(dtype=object)
                                            ).to_numpy(dtype=object)
        yield frame
