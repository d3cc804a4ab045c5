"""What the executors run: a partition of feature rows in, grade rows (or partial sums) out.

Used through ``DataFrame.mapInArrow``: each Arrow batch becomes the frame the embedded rating
builds (the same finishing step as :func:`~customer_tiering.features.compute.compute_features`),
then the scoring core runs on it unchanged: :func:`~customer_tiering.rating.population.grade_population`
(scorecard, model contributions, blend, grade with hysteresis) and
:meth:`~customer_tiering.rating.population.GradedPopulation.row_columns` (explanation documents
and reasons). Everything a partition needs that depends on the whole population (the reference
means the reasons compare with) is computed first (:func:`means_partition`) and broadcast with
the champions and configs in one :class:`RatingPayload`.

This module imports no pyspark: it is plain functions over Arrow batches, so it can be tested
and profiled without a cluster.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from customer_tiering.ingest.contract import FEATURE_COLUMNS, SNAPSHOT_KEY
from customer_tiering.rating.champions import ChampionSet, ServingConfigs
from customer_tiering.scoring.grading import GradeScheme
from customer_tiering.store.tables import GRADE_COLUMNS

__all__ = ["MISSING_PREFIX", "PREVIOUS_COLUMN", "RatingPayload", "combine_means",
           "grade_rows_partition", "means_partition", "means_schema", "rows_schema"]

PREVIOUS_COLUMN = "_previous_grade"  # the customer's grade in the previous periodic rating
MISSING_PREFIX = "_missing_"  # one flag per criterion: its input was missing (the checks read it)
NAME_COLUMN = "customer_name"

_TEXT = pa.string()
_ROW_TYPES: dict[str, pa.DataType] = {
    "churn_probability": pa.float64(), "expected_value": pa.float64(),
    "revenue_365d": pa.float64(), "scorecard_total": pa.float64(), "total": pa.float64(),
    "provisional": pa.bool_(),
}


@dataclass(frozen=True)
class RatingPayload:
    """Everything the executors need, broadcast once per rating."""

    configs: ServingConfigs
    models: ChampionSet
    scheme: GradeScheme
    has_previous: bool  # a previous periodic rating exists (hysteresis against it)

    @property
    def criteria(self) -> list[str]:
        return [c.id for c in self.configs.rules.card.criteria]


def rows_schema(criteria: list[str]) -> pa.Schema:
    """The Arrow schema of the staged grade rows: the store's columns, then the missing flags."""
    fields = [pa.field(c, _ROW_TYPES.get(c, _TEXT)) for c in GRADE_COLUMNS]
    fields += [pa.field(f"{MISSING_PREFIX}{c}", pa.bool_()) for c in criteria]
    return pa.schema(fields)


def means_schema(payload: RatingPayload) -> pa.Schema:
    """One row per batch: its customer count and the sum of each part's points."""
    return pa.schema([pa.field("n", pa.int64()),
                      *(pa.field(name, pa.float64()) for name in _mean_parts(payload))])


def _mean_parts(payload: RatingPayload) -> list[str]:
    parts = list(payload.criteria)
    if payload.configs.blend.segment is not None:
        parts.append("segment")
    return parts


def _features(batch: pa.RecordBatch) -> tuple[pd.DataFrame, pd.Series | None]:
    """The batch as the embedded rating's feature frame (columns, dtypes, row order), and each
    customer's previous grade when the batch carries one."""
    from customer_tiering.features.compute import _finish

    frame = batch.to_pandas()
    frame = frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
    finished = _finish(frame, [*SNAPSHOT_KEY, *FEATURE_COLUMNS])
    if NAME_COLUMN in frame.columns:
        finished[NAME_COLUMN] = frame[NAME_COLUMN].to_numpy(dtype=object)
    previous = None
    if PREVIOUS_COLUMN in frame.columns:
        known = frame[PREVIOUS_COLUMN].notna().to_numpy()
        previous = pd.Series(frame[PREVIOUS_COLUMN].to_numpy(dtype=object)[known],
                             index=finished["customer_id"].to_numpy(dtype=object)[known])
    return finished, previous


def means_partition(batches: Iterator[pa.RecordBatch], payload: RatingPayload
                    ) -> Iterator[pa.RecordBatch]:
    """Pass 1: per batch, the customer count and the summed points of every card criterion
    (weighted, as blended) and of the segment part; :func:`combine_means` makes the means.

    Only the card and the segments model run here: the reference means do not depend on the
    churn and value models, so the blend is asked for the card and segment parts alone.
    """
    from customer_tiering.core.columns import Columns
    from customer_tiering.scoring.blend import blend
    from customer_tiering.scoring.scorecard import score

    cfg = payload.configs.blend.model_copy(update={"retention": None, "value": None})
    names = _mean_parts(payload)
    for batch in batches:
        if batch.num_rows == 0:
            continue
        features, _ = _features(batch)
        cols = Columns.of(features)
        segments = payload.models.segments
        segment = segments.predict_names(cols) if segments is not None else None
        blended = blend(score(cols, payload.configs.rules.card), cfg, segment=segment,
                        horizon_days=payload.models.horizon_days)
        sums = [float(np.sum(blended.scorecard_points[:, j]))
                for j in range(blended.scorecard_points.shape[1])]
        if blended.segment_points is not None:
            sums.append(float(np.sum(blended.segment_points)))
        yield pa.RecordBatch.from_arrays(
            [pa.array([batch.num_rows], pa.int64()), *(pa.array([s], pa.float64()) for s in sums)],
            names=["n", *names[:len(sums)]])


def combine_means(parts: pa.Table, payload: RatingPayload) -> dict[str, float]:
    """The reference means (:func:`~customer_tiering.scoring.explain.reference_means`) from the
    batches' sums: each part's total (summed exactly, ``math.fsum``) over the customer count."""
    n = int(pa.compute.sum(parts.column("n")).as_py() or 0) if parts.num_rows else 0
    means: dict[str, float] = {}
    for name in _mean_parts(payload):
        if name == "segment" and not n:
            continue
        means[name] = (math.fsum(parts.column(name).to_pylist()) / n) if n else 0.0
    return means


def grade_rows_partition(batches: Iterator[pa.RecordBatch], payload: RatingPayload,
                         means: dict[str, float]) -> Iterator[pa.RecordBatch]:
    """Pass 2: per batch, the grade rows the tier store holds (its ``GRADE_COLUMNS``) plus one
    missing-input flag per criterion, by the embedded rating's own functions.

    ``means`` are the population's reference means (pass 1), which the reasons compare with.
    A quota scheme's grades need the whole population's ranking: the driver grades those from
    the staged totals; a threshold scheme (with its hysteresis) grades each customer alone, here.
    """
    from customer_tiering.rating.population import grade_population

    schema = rows_schema(payload.criteria)
    for batch in batches:
        if batch.num_rows == 0:
            continue
        features, previous = _features(batch)
        if payload.has_previous and previous is None:
            previous = pd.Series([], dtype=object)
        graded = grade_population(features, payload.configs, payload.models,
                                  scheme=payload.scheme,
                                  previous_grade=previous if payload.has_previous else None,
                                  means=means)
        columns = graded.row_columns()
        missing = graded.blended.scorecard.missing
        yield _to_batch(columns, missing, schema, payload.criteria, len(graded))


def _to_batch(columns: dict[str, Any], missing: np.ndarray, schema: pa.Schema,
              criteria: list[str], n: int) -> pa.RecordBatch:
    arrays = []
    for field in schema:
        if field.name.startswith(MISSING_PREFIX):
            j = criteria.index(field.name[len(MISSING_PREFIX):])
            arrays.append(pa.array(missing[:, j] if missing.size else np.zeros(n, bool),
                                   pa.bool_()))
            continue
        value = columns[field.name]
        if value is None:
            arrays.append(pa.nulls(n, field.type))
        elif field.type == _TEXT:
            arrays.append(pa.array(_text(value), _TEXT))
        else:
            arrays.append(pa.array(np.asarray(value), field.type, from_pandas=True))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _text(values: Any) -> list[str | None]:
    """Strings as Python ``str``, missing values (None, NaN, pandas NA) as None."""
    out: list[str | None] = []
    for v in (values.tolist() if isinstance(values, np.ndarray) else list(values)):
        out.append(None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA
                   else str(v))
    return out
