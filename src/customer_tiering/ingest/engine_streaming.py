"""The engine path's writing: a file scanned by DuckDB written block by block, in file order.

Each block's clean rows from DuckDB are merged by row with the special rows pandas validated
(:class:`customer_tiering.ingest.engine_loading.EngineRun`) and written by the writers of the
pandas path (:mod:`customer_tiering.ingest.stream_writers`), with the rejects and the counts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from customer_tiering.core.errors import Problem
from customer_tiering.ingest.contract import TableSpec
from customer_tiering.ingest.engine_loading import EngineRun, run_engine
from customer_tiering.ingest.engine_sources import open_engine_source
from customer_tiering.ingest.headers import ColumnMapping
from customer_tiering.ingest.stream_writers import (
    MAX_LISTED_PROBLEMS,
    Progress,
    _NoTable,
    _RejectsWriter,
    _TableWriter,
)
from customer_tiering.ingest.validation import LoadResult, empty_table

__all__ = ["merge_block"]


def _stream_engine(source: str | os.PathLike[str], spec: TableSpec | None,
                   rejects_to: Callable[[TableSpec], Path],
                   clean_to: Callable[[TableSpec], Path] | None, *,
                   mapping: ColumnMapping | None, as_of: date | None, chunk_rows: int,
                   progress: Progress | None, tmp: Path
                   ) -> tuple[LoadResult, _TableWriter | _NoTable, set[str]] | None:
    """:func:`_stream_table` through DuckDB, or None when the pandas path must read the file."""
    import duckdb

    src = open_engine_source(source)
    if src is None:
        return None
    run = run_engine(src, spec, mapping=mapping, as_of=as_of, chunk_rows=chunk_rows, tmp=tmp)
    if run is None:
        return None
    writer: _TableWriter | _NoTable = _NoTable()
    rejects: _RejectsWriter | None = None
    try:
        spec = run.spec
        writer = _TableWriter(clean_to(spec), spec) if clean_to is not None else _NoTable()
        rejects = _RejectsWriter(rejects_to(spec))
        result, ids = _write_engine_run(run, writer, rejects, chunk_rows, progress)
    except duckdb.Error:
        writer.close()
        if rejects is not None:
            rejects.close()
        return None  # DuckDB read a later part of the file differently: pandas reads it all
    except BaseException:
        writer.close()
        raise
    finally:
        run.close()
        if rejects is not None:
            rejects.close()
    return result, writer, ids


def _write_engine_run(run: EngineRun, writer: _TableWriter | _NoTable, rejects: _RejectsWriter,
                      chunk_rows: int, progress: Progress | None) -> tuple[LoadResult, set[str]]:
    """Write a scanned file's blocks in order: special rows validated by pandas, clean rows
    from DuckDB, merged by row."""
    import pyarrow.compute as pc

    spec, src = run.spec, run.src
    names = list(spec.column_names)
    keep_ids = spec.name in ("transactions", "customers")
    special = {block: (result, rns) for block, result, rns in run.special_blocks()}
    loaded = rejected = unlisted = 0
    problems: list[Problem] = []
    uniques: list[pa.Array] = []
    ids: set[str] = set()
    writes = isinstance(writer, _TableWriter)

    # pyarrow writes one block while DuckDB reads the next (one writer thread keeps the order)
    pool = ThreadPoolExecutor(max_workers=1)
    pending: list[Future[None]] = []

    def finish(block: int, parts: list[pa.RecordBatch]) -> None:
        nonlocal loaded, rejected, unlisted
        found = special.get(block)
        plain_rows = sum(p.num_rows for p in parts)
        if writes:
            table = merge_block(writer.schema, parts, found[0].frame if found else None,  # type: ignore[union-attr]
                                found[1] if found else None, names)
            if table is not None:
                while pending:
                    pending.pop(0).result()  # at most one block waits to be written
                pending.append(pool.submit(writer.write_table, table))
        if keep_ids:
            for part in parts:
                uniques.append(pc.unique(part.column(names.index("customer_id") + 1
                                                     if writes else 1)))
        loaded += plain_rows
        if found is not None:
            result = found[0]
            rejects.write(result.rejects)
            loaded += result.loaded
            rejected += result.rejected
            room = max(MAX_LISTED_PROBLEMS - len(problems), 0)
            problems.extend(result.problems[:room])
            unlisted += max(len(result.problems) - room, 0)
            if keep_ids:
                ids.update(str(v) for v in result.frame["customer_id"].dropna().unique())
        if progress is not None:
            progress(src.name, loaded + rejected, src.total_rows)

    blocks = -(-run.records // chunk_rows)
    columns = None if writes else (["customer_id"] if keep_ids else [])
    if columns == []:
        batches: Any = iter(())
        loaded = run.read - int(sum(r.rejected for r, _ in special.values())) - sum(
            r.loaded for r, _ in special.values())
    else:
        batches = run.clean_batches(columns)
    try:
        _finish_blocks(batches, finish, chunk_rows, blocks)
        for job in pending:
            job.result()
    finally:
        pool.shutdown(wait=True)
    rejects.write(pd.DataFrame(columns=["row", *src.headers, "reasons"]))
    if uniques:
        ids.update(str(v) for v in pa.chunked_array(uniques).unique().to_pylist())
    result = LoadResult(spec.name, src.name, empty_table(spec),
                        pd.DataFrame(columns=["row", *src.headers, "reasons"]), problems,
                        n_loaded=loaded, n_rejected=rejected, unlisted_problems=unlisted)
    return result, ids


def _finish_blocks(batches: Any, finish: Callable[[int, list[pa.RecordBatch]], None],
                   chunk_rows: int, blocks: int) -> None:
    """Cut the clean batches at block boundaries and finish every block in order."""
    current, parts = 0, []
    for batch in batches:
        rn = batch.column(0).to_numpy()
        if not len(rn):
            continue
        at = rn // chunk_rows
        cuts = np.flatnonzero(np.diff(at)) + 1
        for start, stop in zip(np.r_[0, cuts], np.r_[cuts, len(rn)], strict=True):
            block = int(at[start])
            while current < block:
                finish(current, parts)
                parts, current = [], current + 1
            parts.append(batch.slice(int(start), int(stop - start)))
    while current < blocks:
        finish(current, parts)
        parts, current = [], current + 1



def merge_block(schema: pa.Schema, plain: list[pa.RecordBatch], special: pd.DataFrame | None,
                special_rns: np.ndarray | None, names: list[str]) -> pa.Table | None:
    """One block's clean rows in file order, typed by ``schema`` as the pandas writer types
    them, or None when the block has none.

    Parameters
    ----------
    schema : pyarrow.Schema
        The clean table's schema (from the pandas frame of no rows).
    plain : list of pyarrow.RecordBatch
        The block's clean plain rows from DuckDB (``rn`` first).
    special : pandas.DataFrame or None
        The block's clean rows validated by pandas.
    special_rns : numpy.ndarray or None
        Their record numbers.
    names : list of str
        The canonical columns, in order.

    Returns
    -------
    pyarrow.Table or None
    """
    tables, rns = [], []
    for batch in plain:
        if batch.num_rows:
            arrays = [batch.column(i + 1).cast(schema.field(n).type)
                      for i, n in enumerate(names)]
            tables.append(pa.Table.from_arrays(arrays, schema=schema))
            rns.append(batch.column(0).to_numpy())
    if special is not None and len(special):
        tables.append(pa.Table.from_pandas(special, schema=schema, preserve_index=False))
        rns.append(np.asarray(special_rns, dtype=np.int64))
    if not tables:
        return None
    table = pa.concat_tables(tables)
    if special is not None and len(special) and len(tables) > 1:
        order = np.argsort(np.concatenate(rns), kind="stable")
        table = table.take(pa.array(order))
    return table.combine_chunks()
