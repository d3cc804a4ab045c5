"""Validation and loading inside DuckDB: the rules of loading as queries over the file DuckDB reads.

What :func:`customer_tiering.ingest.bulk_loading.load_to_directory` runs for a UTF-8 CSV or a
Parquet file (the engine path); the files written, the reports and the error messages are those
of the block-by-block pandas path (:mod:`customer_tiering.ingest.loading`), which stays the path
of everything else: XLSX workbooks, database tables, GBK and UTF-16 CSV files, CSV files DuckDB
would read differently from pandas (blank lines between rows, lines above the header, a first
data line longer than the header, a line DuckDB refuses) and Parquet columns of other types.

How a file goes through DuckDB (cells read as VARCHAR from a CSV, as typed from a Parquet file):

1. One pass gives each record a flag and a 64-bit hash of all its cells. The flag is 0 for a
   row that is certainly clean: every cell is in a plain form whose parsing DuckDB repeats
   exactly (``C0001``, ``2024-03-05``, ``-12.50``, a typed double or timestamp, an empty cell
   where that is allowed) and valid (in range, a real date), and the row breaks no row rule
   (a date after ``as_of``, closed before opened). It is 2 for a CSV line holding nothing
   (dropped, as pandas drops it) and 1 for every other row. The hashes that occur twice name
   the candidate exact duplicates (a superset: lines with equal cells have equal hashes).
2. The rows flagged 1 and the candidates (and, in a customers file, the rows whose
   customer_id is on an earlier row) are fetched, as the pandas reader gives them, and
   validated by :class:`~customer_tiering.ingest.validation.BlockValidator` itself, block by
   block as before, with the exact duplicates found among the candidates: their problems,
   reasons and rejects file are the pandas path's by construction. These are the rejects and
   the rows in forms only pandas parses (``1,234.50``, ``2024年3月5日``, a padded cell).
3. A second pass streams the parsed values of the rows flagged 0 as Arrow, which are merged
   in file order with the clean rows of step 2 and written block by block (one row group per
   block of ``chunk_rows`` records, as before) by the same pyarrow writer with the same
   schema: the clean Parquet file is byte for byte the pandas path's.

No clean row in a plain form passes through pandas. DuckDB runs with at most 2 threads, a
memory limit (``TIERING_DUCKDB_MEMORY_LIMIT``, default 1GB) and a temporary folder to spill to.
``TIERING_LOAD_ENGINE=pandas`` (or ``engine="pandas"``) keeps every file on the pandas path, for
comparison.

The modules of the engine path: :mod:`~customer_tiering.ingest.engine_settings` (the engine
choice and the DuckDB connection), :mod:`~customer_tiering.ingest.engine_sources` (the files
DuckDB reads), :mod:`~customer_tiering.ingest.engine_queries` (the SQL of step 1),
:mod:`~customer_tiering.ingest.engine_scan` (step 1 run), this module (:class:`EngineRun`: the
special rows of step 2 and the clean rows of step 3) and
:mod:`~customer_tiering.ingest.engine_streaming` (the blocks merged and written).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from customer_tiering.core.errors import InputError, Problem
from customer_tiering.ingest.contract import TableSpec
from customer_tiering.ingest.engine_queries import _BLANK, _SPECIAL, _plan, _Unsupported
from customer_tiering.ingest.engine_scan import _batches, _repeated, _scan
from customer_tiering.ingest.engine_settings import _connect
from customer_tiering.ingest.engine_sources import EngineSource
from customer_tiering.ingest.headers import ColumnMapping
from customer_tiering.ingest.loading import table_columns
from customer_tiering.ingest.parsing import parse_id
from customer_tiering.ingest.raw_reading import parquet_frame
from customer_tiering.ingest.validation import (
    BlockValidator,
    LoadResult,
    _DuplicateLines,
)

__all__ = ["EngineRun", "run_engine"]


class EngineRun:
    """One file validated by DuckDB: the special rows validated by pandas, the clean rows
    streamed. Built by :func:`run_engine`."""

    def __init__(self, src: EngineSource, spec: TableSpec, found: dict[str, str],
                 as_of: date | None, mapping: ColumnMapping | None, chunk_rows: int,
                 tmp: Path) -> None:
        self.src, self.spec, self.found, self.chunk_rows = src, spec, found, chunk_rows
        decimal = mapping.decimal if mapping is not None else "."
        self.with_id = spec.name == "customers"
        self.plan = _plan(src, spec, found, as_of, decimal, self.with_id)
        self.validator = BlockValidator(spec, found, src.name, as_of, decimal)  # type: ignore[arg-type]
        self.con = _connect(tmp)

    def close(self) -> None:
        self.con.close()

    # -- step 1 -----------------------------------------------------------------------------
    def scan(self) -> None:
        """Flag every record and find the special rows (DuckDB errors propagate)."""
        scan = _scan(self.con, self.plan, self.with_id, self.src.total_rows)
        flags = scan.flags
        self.records = len(flags)
        rows = flags != _BLANK
        self.read = int(rows.sum())
        candidates = _repeated(scan.hashes, rows)
        del scan.hashes
        self.candidates = candidates
        special = (flags == _SPECIAL) | candidates
        raw = self._raw(np.flatnonzero(special))
        if self.with_id:
            extra, self.first_rows = self._repeated_ids(scan.ids, special, raw, rows)
            if extra.size:
                special[extra] = True
                raw = pd.concat([raw, self._raw(extra)]).sort_index()
        else:
            self.first_rows = {}
        self.special = special
        self.keep = (flags == 0) & ~special
        self.special_raw = raw

    def _raw(self, rns: np.ndarray) -> pd.DataFrame:
        """The records ``rns`` as the pandas reader gives them, indexed by row."""
        src = self.src
        if not rns.size:
            frame = pd.DataFrame({h: pd.Series([], dtype="str") for h in src.headers})
        elif src.kind == "parquet":
            frame = self._parquet_rows(rns)
        else:
            self.con.register("tiering_wanted", pa.table({"rn": pa.array(rns, pa.int64())}))
            try:
                table = self.con.sql(
                    f"SELECT * FROM ({src.relation()}) WHERE rn IN "
                    "(SELECT rn FROM tiering_wanted) ORDER BY rn").to_arrow_table()
            finally:
                self.con.unregister("tiering_wanted")
            frame = pd.DataFrame({h: table.column(i + 1).to_pandas().astype("str")
                                  for i, h in enumerate(src.headers)})
        frame.index = pd.Index(rns + src.first_row, dtype="int64")
        return frame

    def _parquet_rows(self, rns: np.ndarray) -> pd.DataFrame:
        file = pq.ParquetFile(self.src.path)
        try:
            sizes = [file.metadata.row_group(g).num_rows for g in range(file.num_row_groups)]
            starts = np.cumsum([0, *sizes])
            group = np.searchsorted(starts, rns, side="right") - 1
            parts = []
            for g in np.unique(group):
                local = rns[group == g] - starts[g]
                parts.append(file.read_row_group(int(g)).take(pa.array(local)))
            table = pa.concat_tables(parts)
        finally:
            file.close()
        return parquet_frame(table, file.schema_arrow, self.src.with_nulls)

    def _repeated_ids(self, plain_ids: pa.Array | None, special: np.ndarray, raw: pd.DataFrame,
                      rows: np.ndarray) -> tuple[np.ndarray, dict[str, int]]:
        """Customers: the clean-looking records whose customer_id is on an earlier row, and the
        first row of each customer_id found on two rows."""
        assert plain_ids is not None
        ids = pd.Series(plain_ids.to_pandas(), dtype=object)
        header = self.found["customer_id"]
        if len(raw):
            parsed = parse_id(raw[header]).values
            ids.iloc[raw.index.to_numpy() - self.src.first_row] = parsed.to_numpy(dtype=object)
        row_numbers = np.arange(len(ids)) + self.src.first_row
        present = ids.notna().to_numpy() & rows
        frame = pd.DataFrame({"id": ids[present].astype(str).to_numpy(),
                              "row": row_numbers[present]})
        counts = frame.groupby("id")["row"].agg(["min", "count"])
        twice = counts[counts["count"] > 1]
        first_rows = {str(k): int(v) for k, v in twice["min"].items()}
        if not first_rows:
            return np.empty(0, dtype=np.int64), {}
        again = frame[frame["id"].isin(twice.index).to_numpy()
                      & (frame["row"].to_numpy() != frame["id"].map(first_rows).to_numpy())]
        rns = again["row"].to_numpy() - self.src.first_row
        return np.sort(rns[~special[rns]]), first_rows

    # -- step 2 -----------------------------------------------------------------------------
    def special_blocks(self) -> Iterator[tuple[int, LoadResult, np.ndarray]]:
        """``(block, validated special rows, record numbers of the clean ones)``, in order."""
        raw = self.special_raw
        if not len(raw):
            return
        rns = raw.index.to_numpy() - self.src.first_row
        is_candidate = self.candidates[rns]
        earlier = np.full(len(raw), -1, dtype=np.int64)
        if is_candidate.any():
            lines = raw[is_candidate]
            earlier[is_candidate] = _DuplicateLines().earlier_rows(
                lines.reset_index(drop=True), lines.index.to_numpy())
        self.validator.first_row_of_id.update(self.first_rows)
        blocks = rns // self.chunk_rows
        for block in np.unique(blocks):
            at = np.flatnonzero(blocks == block)
            result = self.validator.validate(raw.iloc[at], earlier[at])
            rejected = set(result.rejects["row"].tolist()) if len(result.rejects) else set()
            rows = raw.index.to_numpy()[at]
            clean = np.array([r for r in rows if r not in rejected], dtype=np.int64)
            yield int(block), result, clean - self.src.first_row

    # -- step 3 -----------------------------------------------------------------------------
    def clean_batches(self, columns: list[str] | None = None) -> Iterator[pa.RecordBatch]:
        """The clean plain rows: ``rn`` and the parsed values, in file order."""
        sql = self.plan.values
        if columns is not None:
            sql = f"SELECT rn, {', '.join(chr(34) + c + chr(34) for c in columns)} FROM ({sql})"
        for batch in _batches(self.con, sql):
            keep = self.keep[batch.column(0).to_numpy()]
            yield batch if keep.all() else batch.filter(pa.array(keep))


def run_engine(src: EngineSource, spec: TableSpec | None, *, mapping: ColumnMapping | None,
               as_of: date | None, chunk_rows: int, tmp: Path) -> EngineRun | None:
    """Validate one file with DuckDB up to its clean rows, or None for the pandas path.

    Parameters
    ----------
    src : EngineSource
        The file (:func:`open_engine_source`).
    spec : TableSpec or None
        Its table (None: guessed from the headers).
    mapping : ColumnMapping or None
        Extra header spellings and the decimal separator.
    as_of : datetime.date or None
        When given, transactions dated after it are rejected.
    chunk_rows : int
        Records per block (rejects, problems and row groups are per block, as before).
    tmp : pathlib.Path
        DuckDB's folder to spill to.

    Returns
    -------
    EngineRun or None
        Scanned, with its special rows fetched; None when DuckDB cannot read the file as the
        pandas reader does (the pandas path then reads it and names any problem).

    Raises
    ------
    InputError
        When the headers fit no table or lack a required column, or the file has no data row.
    """
    import duckdb

    spec, found = table_columns(src.name, src.headers, spec, mapping)
    for parallel in (True, False):
        src.parallel = parallel
        try:
            run = EngineRun(src, spec, found, as_of, mapping, chunk_rows, tmp)
        except _Unsupported:
            return None
        try:
            run.scan()
        except duckdb.Error as exc:
            run.close()
            if parallel and "parallel" in str(exc).lower():
                continue  # quoted line breaks with short lines: read the file in one thread
            return None
        if not run.read:
            run.close()
            raise InputError([Problem(src.name, None, None, None,
                                      "has a header but no data rows; nothing was read from it")],
                             summary=f"{src.name}: no data rows")
        return run
    return None
