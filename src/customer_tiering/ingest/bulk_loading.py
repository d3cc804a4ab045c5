"""Validate and load input files of any size into a clean data set, a block of rows at a time.

What ``tiering load`` and the demo job run. The rules and the files written are those of
:func:`customer_tiering.ingest.loading.load_dataset` followed by
:func:`customer_tiering.ingest.loading.write_dataset` (a test proves the two give the same files); the
difference is memory. Each block of rows is validated (:func:`customer_tiering.ingest.loading.iter_table`)
and appended to the clean Parquet file and the rejects CSV in a temporary folder, so a file of
a hundred million lines is never held at once. Only what spans the whole file is kept: a hash of
every distinct line (exact duplicates), the customer ids, the counts and the problems to report.

All or nothing, as before: when a file rejects more than the allowed share, or anything fails,
the temporary folder is removed and ``out_dir`` is left as it was.

A UTF-8 CSV or a Parquet file is validated inside DuckDB instead
(:mod:`customer_tiering.ingest.engine_loading`, written by
:mod:`customer_tiering.ingest.engine_streaming`), writing the same files; ``engine="pandas"`` (or
``TIERING_LOAD_ENGINE=pandas``) keeps every file on the block-by-block pandas path.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from customer_tiering.core.errors import Problem
from customer_tiering.ingest.across_files import (
    check_reject_shares,
    check_transactions_loaded,
    derive_customers,
    report_unknown_customers,
    unknown_customers,
    warn_unknown_customers,
)
from customer_tiering.ingest.contract import CUSTOMERS, INTERACTIONS, TRANSACTIONS, TableSpec
from customer_tiering.ingest.engine_settings import engine_choice, engine_temp_dir, remove_temp_dir
from customer_tiering.ingest.engine_streaming import _stream_engine
from customer_tiering.ingest.headers import ColumnMapping
from customer_tiering.ingest.loading import iter_table
from customer_tiering.ingest.raw_reading import CHUNK_ROWS
from customer_tiering.ingest.stream_writers import (
    MAX_LISTED_PROBLEMS,
    Progress,
    _NoTable,
    _RejectsWriter,
    _TableWriter,
)
from customer_tiering.ingest.validation import LoadResult, empty_table
from customer_tiering.ingest.writing import rejects_path, replace_directory

__all__ = ["MAX_LISTED_PROBLEMS", "load_to_directory", "validate_to_directory"]


def _stream_table(source: str | os.PathLike[str], spec: TableSpec | None,
                  rejects_to: Callable[[TableSpec], Path],
                  clean_to: Callable[[TableSpec], Path] | None, *,
                  mapping: ColumnMapping | None, as_of: date | None, chunk_rows: int,
                  progress: Progress | None, engine: str = "auto",
                  tmp: Path | None = None) -> tuple[LoadResult, _TableWriter | _NoTable,
                                                    set[str]]:
    """Validate one file: rejects to ``rejects_to(spec)``, clean rows to ``clean_to(spec)``.

    Returns the counts and problems, the clean table's writer (left open: customers may grow)
    and the customer ids of the clean rows (transactions and customers; empty otherwise).
    With ``engine="auto"`` a file DuckDB reads as pandas does goes through DuckDB
    (:func:`_stream_engine`); the others, and every file with ``engine="pandas"``, block by
    block through pandas.
    """
    if engine == "auto" and tmp is not None:
        streamed = _stream_engine(source, spec, rejects_to, clean_to, mapping=mapping,
                                  as_of=as_of, chunk_rows=chunk_rows, progress=progress, tmp=tmp)
        if streamed is not None:
            return streamed
    blocks = iter_table(source, spec, mapping=mapping, as_of=as_of, chunk_rows=chunk_rows)
    spec = blocks.spec
    writer: _TableWriter | _NoTable = (
        _TableWriter(clean_to(spec), spec) if clean_to is not None else _NoTable())
    rejects = _RejectsWriter(rejects_to(spec))
    keep_ids = spec.name in ("transactions", "customers")
    ids: set[str] = set()
    loaded = rejected = unlisted = 0
    problems: list[Problem] = []
    try:
        for block in blocks:
            writer.write(block.frame)
            rejects.write(block.rejects)
            loaded += block.loaded
            rejected += block.rejected
            room = max(MAX_LISTED_PROBLEMS - len(problems), 0)
            problems.extend(block.problems[:room])
            unlisted += max(len(block.problems) - room, 0)
            if keep_ids:
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
    return result, writer, ids


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
    engine: str | None = None,
) -> list[LoadResult]:
    """Validate the inputs block by block into ``out_dir`` (replaced as a whole, or untouched).

    Writes ``transactions.parquet``, ``customers.parquet`` (customers known only from
    transactions are added with empty master data, each reported once as a warning),
    ``interactions.parquet`` (empty without a file) and ``rejects/<table>_rejects.csv``.

    Parameters
    ----------
    out_dir : str or os.PathLike
        The clean data set's folder.
    transactions : str or os.PathLike
        The transactions input: a CSV, Parquet or XLSX path, or ``URL#table``.
    customers, interactions : str or os.PathLike, optional
        The other inputs, when the company has them.
    as_of : datetime.date, optional
        When given, transactions dated after it are rejected.
    max_reject_share : float
        The share of a file's rows that may be rejected (0.01: 1%).
    mapping : ColumnMapping, optional
        Extra header spellings.
    chunk_rows : int
        Rows validated and written at a time.
    progress : callable, optional
        Called as ``progress(file, rows read so far, rows in the file or None)``.
    engine : {"auto", "pandas"}, optional
        ``auto`` (default, or ``$TIERING_LOAD_ENGINE``): DuckDB for the files it reads as
        pandas does; ``pandas``: every file block by block through pandas (the same files).

    Returns
    -------
    list of LoadResult
        One per file given, with counts and problems but no frames.

    Raises
    ------
    InputError
        A file cannot be read, lacks a required column or has no data rows, or no transaction
        row passes; nothing is written.
    TooManyRejectsError
        A file rejects more than ``max_reject_share`` of its rows; nothing is written.
    """
    results: list[LoadResult] = []
    spill = engine_temp_dir()
    options: dict[str, Any] = {"mapping": mapping, "chunk_rows": chunk_rows,
                               "progress": progress, "engine": engine_choice(engine),
                               "tmp": spill}

    def fill(tmp: Path) -> None:
        def table_rejects(spec: TableSpec) -> Path:
            return tmp / "rejects" / f"{spec.name}_rejects.csv"

        def clean_path(spec: TableSpec) -> Path:
            return tmp / f"{spec.name}.parquet"

        tx, writer, transaction_ids = _stream_table(transactions, TRANSACTIONS, table_rejects,
                                                    clean_path, as_of=as_of, **options)
        writer.close()
        results.append(tx)
        known: set[str] = set()
        customers_writer: _TableWriter | _NoTable
        if customers is None:
            customers_writer = _TableWriter(clean_path(CUSTOMERS), CUSTOMERS)
        else:
            customer_result, customers_writer, known = _stream_table(
                customers, CUSTOMERS, table_rejects, clean_path, as_of=None, **options)
            results.append(customer_result)
        try:
            if interactions is None:
                _TableWriter(clean_path(INTERACTIONS), INTERACTIONS).close()
            else:
                inter, inter_writer, _ = _stream_table(interactions, INTERACTIONS, table_rejects,
                                                       clean_path, as_of=None, **options)
                inter_writer.close()
                results.append(inter)
            check_reject_shares(results, max_reject_share)
            check_transactions_loaded(tx)
            unknown = unknown_customers(transaction_ids, known)
            if customers is not None:
                warn_unknown_customers(tx, unknown)
            customers_writer.write(derive_customers(pd.DataFrame({"customer_id": unknown})))
        finally:
            customers_writer.close()

    try:
        replace_directory(out_dir, fill)
    finally:
        remove_temp_dir(spill)
    return results


def _always(path: Path) -> Callable[[TableSpec], Path]:
    return lambda _spec: path


def validate_to_directory(
    sources: list[str | os.PathLike[str]],
    rejects_dir: str | os.PathLike[str],
    *,
    as_of: date | None = None,
    max_reject_share: float = 0.01,
    mapping: ColumnMapping | None = None,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
    engine: str | None = None,
) -> tuple[list[LoadResult], list[Path]]:
    """Validate files block by block, guessing each one's table; write their rejects files.

    Each file with rejected rows gets ``rejects_dir/<file stem>_rejects.csv``, but only when no
    file rejects more than ``max_reject_share`` (else nothing is written). Transactions of
    customers missing from the customers files given are reported as warnings.

    Parameters
    ----------
    sources : list of str or os.PathLike
        The inputs: CSV, Parquet or XLSX paths, or ``URL#table``.
    rejects_dir : str or os.PathLike
        Where the rejects files go.
    as_of : datetime.date, optional
        When given, transactions dated after it are rejected.
    max_reject_share : float
        The share of a file's rows that may be rejected.
    mapping : ColumnMapping, optional
        Extra header spellings.
    chunk_rows : int
        Rows validated at a time.
    progress : callable, optional
        Called as ``progress(file, rows read so far, rows in the file or None)``.
    engine : {"auto", "pandas"}, optional
        As for :func:`load_to_directory`.

    Returns
    -------
    results : list of LoadResult
        Counts and problems per file, no frames.
    written : list of pathlib.Path
        The rejects files written.

    Raises
    ------
    InputError
        A file cannot be read or lacks a required column.
    """
    target = Path(rejects_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    results: list[LoadResult] = []
    drafts: list[Path] = []
    ids: list[set[str]] = []
    choice = engine_choice(engine)
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.tmp-", dir=target.parent) as tmp:
        spill = Path(tmp) / "duckdb"
        spill.mkdir()
        for i, source in enumerate(sources):
            draft = Path(tmp) / f"{i}.csv"
            result, _, customer_ids = _stream_table(
                source, None, _always(draft), None, mapping=mapping,
                as_of=as_of, chunk_rows=chunk_rows, progress=progress, engine=choice,
                tmp=spill)
            results.append(result)
            drafts.append(draft)
            ids.append(customer_ids)
        report_unknown_customers(results, ids)
        written: list[Path] = []
        if all(r.reject_share <= max_reject_share for r in results):
            target.mkdir(parents=True, exist_ok=True)
            for result, draft in zip(results, drafts, strict=True):
                if result.rejected:
                    path = rejects_path(target, result.source)
                    os.replace(draft, path)
                    written.append(path)
    return results, written
