"""Validate and load input files of any size into a clean data set, a block of rows at a time.

What ``tiering load`` and the demo job run. The rules and the files written are those of
:func:`customer_tiering.loading.load_dataset` followed by
:func:`customer_tiering.loading.write_dataset` (a test proves the two give the same files); the
difference is memory. Each block of rows is validated (:func:`customer_tiering.loading.iter_table`)
and appended to the clean Parquet file and the rejects CSV in a temporary folder, so a file of
a hundred million lines is never held at once. Only what spans the whole file is kept: a hash of
every distinct line (exact duplicates), the customer ids, the counts and the problems to report.

All or nothing, as before: when a file rejects more than the allowed share, or anything fails,
the temporary folder is removed and ``out_dir`` is left as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from customer_tiering.errors import Problem
from customer_tiering.loading import (
    ColumnMapping,
    LoadResult,
    check_reject_shares,
    derive_customers,
    empty_table,
    iter_table,
    replace_directory,
    unknown_customers,
    warn_unknown_customers,
)
from customer_tiering.raw_reading import CHUNK_ROWS
from customer_tiering.schemas import CUSTOMERS, INTERACTIONS, TRANSACTIONS, TableSpec

__all__ = ["MAX_LISTED_PROBLEMS", "load_to_directory"]

MAX_LISTED_PROBLEMS = 100_000
"""Problems kept per file for the report; the others are counted (the rejects file has all)."""

Progress = Callable[[str, int, int | None], None]
"""``(file, rows read so far, rows in the file or None when unknown)``."""


class _TableWriter:
    """The clean Parquet file of one table, written block by block with the canonical types."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        self.schema = pa.Schema.from_pandas(empty_table(spec), preserve_index=False)
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, frame: pd.DataFrame) -> None:
        if len(frame):
            self.writer.write_table(pa.Table.from_pandas(frame, schema=self.schema,
                                                         preserve_index=False))

    def close(self) -> None:
        self.writer.close()


class _RejectsWriter:
    """A rejects CSV (UTF-8 with one BOM, for Excel), its header written with the first block."""

    def __init__(self, path: Path) -> None:
        self.handle: IO[str] = path.open("w", encoding="utf-8-sig", newline="")
        self.started = False

    def write(self, rejects: pd.DataFrame) -> None:
        if len(rejects) or not self.started:
            rejects.to_csv(self.handle, index=False, header=not self.started)
            self.started = True

    def close(self) -> None:
        self.handle.close()


def _stream_table(source: str | os.PathLike[str], spec: TableSpec, tmp: Path, *,
                  mapping: ColumnMapping | None, as_of: date | None, chunk_rows: int,
                  progress: Progress | None, ids: set[str] | None) -> tuple[LoadResult,
                                                                            _TableWriter]:
    """Validate one file into ``tmp``; the table writer stays open (customers may grow)."""
    blocks = iter_table(source, spec, mapping=mapping, as_of=as_of, chunk_rows=chunk_rows)
    writer = _TableWriter(tmp / f"{spec.name}.parquet", spec)
    rejects = _RejectsWriter(tmp / "rejects" / f"{spec.name}_rejects.csv")
    loaded = rejected = unlisted = 0
    problems: list[Problem] = []
    try:
        for block in blocks:
            writer.write(block.frame)
            rejects.write(block.rejects)
            loaded += block.loaded
            rejected += block.rejected
            room = MAX_LISTED_PROBLEMS - len(problems)
            problems.extend(block.problems[:max(room, 0)])
            unlisted += max(len(block.problems) - max(room, 0), 0)
            if ids is not None:
                ids.update(str(v) for v in block.frame["customer_id"].dropna().unique())
            if progress is not None:
                progress(blocks.source, loaded + rejected, blocks.total_rows)
        rejects.write(blocks.empty_rejects())  # the header of a file without rejects
    except BaseException:
        writer.close()
        raise
    finally:
        rejects.close()
    result = LoadResult(spec.name, blocks.source, empty_table(spec), blocks.empty_rejects(),
                        problems, n_loaded=loaded, n_rejected=rejected,
                        unlisted_problems=unlisted)
    return result, writer


def load_to_directory(
    out_dir: str | os.PathLike[str],
    transactions: str | os.PathLike[str],
    customers: str | os.PathLike[str] | None = None,
    interactions: str | os.PathLike[str] | None = None,
    *,
    as_of: date | None = None,
    max_reject_share: float = 0.01,
    mapping: ColumnMapping | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> list[LoadResult]:
    """Validate the inputs block by block into ``out_dir`` (replaced as a whole, or untouched).

    Writes ``transactions.parquet``, ``customers.parquet`` (customers known only from
    transactions are added with empty master data, each reported once as a warning),
    ``interactions.parquet`` (empty without a file) and ``rejects/<table>_rejects.csv``.

    Returns
    -------
    One :class:`LoadResult` per file given, with counts and problems but no frames.

    Raises
    ------
    InputError
        A file cannot be read or lacks a required column.
    TooManyRejectsError
        A file rejects more than ``max_reject_share`` of its rows; nothing is written.
    """
    results: list[LoadResult] = []
    options: dict[str, Any] = {"mapping": mapping, "chunk_rows": chunk_rows,
                               "progress": progress}

    def fill(tmp: Path) -> None:
        transaction_ids: set[str] = set()
        tx, writer = _stream_table(transactions, TRANSACTIONS, tmp, as_of=as_of,
                                   ids=transaction_ids, **options)
        writer.close()
        results.append(tx)
        known: set[str] = set()
        if customers is None:
            customers_writer = _TableWriter(tmp / "customers.parquet", CUSTOMERS)
        else:
            customer_result, customers_writer = _stream_table(
                customers, CUSTOMERS, tmp, as_of=None, ids=known, **options)
            results.append(customer_result)
        try:
            if interactions is None:
                _TableWriter(tmp / "interactions.parquet", INTERACTIONS).close()
            else:
                inter, inter_writer = _stream_table(interactions, INTERACTIONS, tmp, as_of=None,
                                                    ids=None, **options)
                inter_writer.close()
                results.append(inter)
            check_reject_shares(results, max_reject_share)
            unknown = unknown_customers(transaction_ids, known)
            if customers is not None:
                warn_unknown_customers(tx, unknown)
            customers_writer.write(derive_customers(pd.DataFrame({"customer_id": unknown})))
        finally:
            customers_writer.close()

    replace_directory(out_dir, fill)
    return results
