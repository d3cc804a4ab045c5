"""Training snapshots streamed to Parquet, one snapshot date at a time, and read back as needed.

A million-customer book's nine stacked snapshots do not fit in memory as one frame beside the fits
(issue 20): :func:`write_snapshots` builds each date's block with
:func:`~customer_tiering.features.compute.build_snapshots` (the same rows the in-memory build
stacks), keeps the job's population and writes it to its own Parquet file in a temporary folder.
:class:`SnapshotFiles` reads the dates and customers a step needs: the fit's sample, the full
holdout, the per-customer labels the sample is stratified by.

``build`` is the one place a snapshot block is computed: an engine other than DuckDB can pass its
own function with the same signature as :func:`duckdb_block`.

When the fits will learn a sample of customers, the training dates need only the sampled
customers' rows: :func:`label_block` gives the population and labels the sample is drawn from
(a small part of a block's cost), and ``write_snapshots(sample_customers=...)`` builds the
training dates for those customers alone (the rows the whole book gives them) and the holdout whole.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from customer_tiering.ingest.clean_data import CleanDataSet

__all__ = ["BlockBuilder", "SnapshotFiles", "duckdb_block", "label_block", "write_snapshots"]

BlockBuilder = Callable[[CleanDataSet, date, int, bool], pd.DataFrame]


def duckdb_block(inputs: CleanDataSet, day: date, horizon_days: int, labels: bool,
                 customer_ids: Sequence[str] | None = None) -> pd.DataFrame:
    """One snapshot date's features (and labels) for every customer known then, by DuckDB.

    Parameters
    ----------
    inputs : the clean data set.
    day : the snapshot date.
    horizon_days : the label window's length.
    labels : whether to add ``churned`` and ``future_amount``.
    customer_ids : only these customers (default: every customer known at ``day``).

    Returns
    -------
    pandas.DataFrame
        As :func:`~customer_tiering.features.compute.build_snapshots` for the one date.
    """
    from customer_tiering.features.compute import build_snapshots

    return build_snapshots(inputs.transactions, inputs.customers, inputs.interactions,
                           as_of_dates=[day], horizon_days=horizon_days, with_labels=labels,
                           customer_ids=customer_ids)


def label_block(inputs: CleanDataSet, day: date, horizon_days: int, labels: bool = True
                ) -> pd.DataFrame:
    """One snapshot date's rows without features: ``customer_id``, ``as_of``,
    ``days_since_last_order`` and the labels, as :func:`duckdb_block` gives them.

    Parameters
    ----------
    inputs, day, horizon_days : as in :func:`duckdb_block`.
    labels : must be true (the block is its labels).

    Returns
    -------
    pandas.DataFrame
    """
    from customer_tiering.features.compute import population_labels

    if not labels:
        raise ValueError("a label block always has the labels")
    return population_labels(inputs.transactions, inputs.customers, as_of=day,
                             horizon_days=horizon_days)


def _population(frame: pd.DataFrame, active_within_days: int | None) -> pd.DataFrame:
    if active_within_days is None:
        return frame
    return frame[frame["days_since_last_order"] <= active_within_days].reset_index(drop=True)


@dataclass(frozen=True)
class SnapshotFiles:
    """Snapshot dates written as one Parquet file each, oldest first."""

    folder: Path
    files: dict[date, Path] = field(default_factory=dict)
    rows: dict[date, int] = field(default_factory=dict)
    # label -> the fit sample drawn before the files were written (None: every customer is
    # learnt); None when no sample was planned (the fit then decides on these files)
    samples: dict[str, Any] | None = None

    @property
    def dates(self) -> list[date]:
        """The snapshot dates, oldest first."""
        return sorted(self.files)

    @property
    def total_rows(self) -> int:
        """Rows over every date."""
        return sum(self.rows.values())

    def read(self, dates: Iterable[date] | None = None, customers: Sequence[str] | None = None,
             columns: Sequence[str] | None = None) -> pd.DataFrame:
        """The rows of ``dates`` (default: all), of ``customers`` only when given, stacked.

        Parameters
        ----------
        dates : the snapshot dates to read (default: every date), stacked oldest first.
        customers : customer ids to keep (default: all); the files are filtered as they are read.
        columns : the columns to read (default: all).

        Returns
        -------
        pandas.DataFrame
            Equal to the in-memory build's rows for those dates (and customers), in its order.
        """
        chosen = self.dates if dates is None else sorted(set(dates))
        keep = None if customers is None else pa.array(np.asarray(customers, dtype=object),
                                                       type=pa.string())
        frames = []
        for day in chosen:
            table = pq.read_table(self.files[day], columns=list(columns) if columns else None)
            if keep is not None:
                table = table.filter(pc.is_in(table["customer_id"], value_set=keep))
            frames.append(table.to_pandas())
        if not frames:
            raise ValueError("no snapshot dates to read")
        return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def write_snapshots(
    inputs: CleanDataSet,
    dates: Sequence[date],
    folder: str | os.PathLike[str],
    *,
    horizon_days: int,
    labels: bool = True,
    active_within_days: int | None = None,
    build: BlockBuilder = duckdb_block,
    progress: Callable[[int, int], None] | None = None,
    sample_customers: Sequence[str] | None = None,
    whole_dates: Collection[date] = (),
) -> SnapshotFiles:
    """Build each snapshot date's block, keep the population and write it to ``folder``.

    Only one date's block is in memory at a time.

    Parameters
    ----------
    inputs : the clean data set.
    dates : the snapshot dates (sorted, repeats dropped).
    folder : where the files go (created if missing); the caller removes it.
    horizon_days, labels : the label window and whether to add the labels.
    active_within_days : keep the customers with an order this recently (None: all).
    build : computes one date's block (default: DuckDB, :func:`duckdb_block`).
    progress : called as ``progress(dates done, dates)`` after each date.
    sample_customers : when given, the dates not in ``whole_dates`` hold these customers' rows
        only (DuckDB's :func:`duckdb_block` builds them; ``build`` must be it).
    whole_dates : the dates built for every customer when ``sample_customers`` is given.

    Returns
    -------
    SnapshotFiles
    """
    if sample_customers is not None and build is not duckdb_block:
        raise ValueError("only DuckDB's blocks can be built for a sample of customers")
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    chosen = sorted(set(dates))
    files: dict[date, Path] = {}
    rows: dict[date, int] = {}
    for i, day in enumerate(chosen):
        if sample_customers is not None and day not in whole_dates:
            block = duckdb_block(inputs, day, horizon_days, labels, customer_ids=sample_customers)
        else:
            block = build(inputs, day, horizon_days, labels)
        block = _population(block, active_within_days)
        path = target / f"snapshot-{day.isoformat()}.parquet"
        block.to_parquet(path, index=False)
        files[day], rows[day] = path, len(block)
        del block
        if progress is not None:
            progress(i + 1, len(chosen))
    return SnapshotFiles(target, files, rows)
