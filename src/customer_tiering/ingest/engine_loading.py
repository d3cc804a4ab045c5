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
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from customer_tiering.core.errors import InputError, Problem
from customer_tiering.ingest.contract import ColumnSpec, TableSpec
from customer_tiering.ingest.csv_reading import _NOT_TEXT, _delimiter, _header
from customer_tiering.ingest.encodings import csv_encoding
from customer_tiering.ingest.headers import ColumnMapping, column_labels
from customer_tiering.ingest.loading import table_columns
from customer_tiering.ingest.parsing import CATEGORY_LABELS, parse_id
from customer_tiering.ingest.raw_reading import parquet_frame, parquet_null_columns
from customer_tiering.ingest.validation import (
    BlockValidator,
    LoadResult,
    _DuplicateLines,
)

__all__ = ["ENGINE_ENV", "EngineRun", "engine_choice", "open_engine_source"]

ENGINE_ENV = "TIERING_LOAD_ENGINE"
"""``auto`` (the default: DuckDB for the files it can read as pandas does) or ``pandas``."""

MEMORY_ENV = "TIERING_DUCKDB_MEMORY_LIMIT"


def engine_choice(engine: str | None) -> str:
    """The loading engine: ``engine`` when given, else ``$TIERING_LOAD_ENGINE``, else ``auto``.

    Parameters
    ----------
    engine : str or None
        ``"auto"`` or ``"pandas"``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For another name.
    """
    choice = engine or os.environ.get(ENGINE_ENV) or "auto"
    if choice not in ("auto", "pandas"):
        raise ValueError(f"the loading engine is auto or pandas, not {choice!r}")
    return choice


# Characters Python's str.isspace() accepts: a CSV line of these only is no row.
_WHITE = "[" + "".join(f"\\x{{{c:x}}}" for c in range(0x3001) if chr(c).isspace()) + "]"
# Characters of a plain id or text: printable ASCII, CJK punctuation and ideographs, full-width
# forms; none is white space, a control or an invisible format character.
_EDGE = "[!-~\\x{3001}-\\x{9fff}\\x{ff01}-\\x{ffee}]"
_INNER = "[ !-~\\x{3001}-\\x{9fff}\\x{ff01}-\\x{ffee}]"
_PLAIN_CATEGORY = "[a-z0-9_\\x{4e00}-\\x{9fff}]+"
_NUMBER = {".": "-?(0|[1-9][0-9]{0,14})(\\.[0-9]{1,15})?", ",": "-?(0|[1-9][0-9]{0,14})"}
_NULL_TEXT = "\x02tiering: no null text\x03"
_SPECIAL, _BLANK = 1, 2


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@dataclass
class EngineSource:
    """A file DuckDB reads as the pandas reader would: its columns ``c0..`` and records ``rn``."""

    name: str
    path: Path
    headers: list[str]
    kind: str  # "csv" or "parquet"
    first_row: int  # the row a person sees = rn + first_row
    types: list[pa.DataType] = field(default_factory=list)  # Parquet
    with_nulls: set[str] = field(default_factory=set)  # Parquet
    total_rows: int | None = None
    parallel: bool = True
    delimiter: str = ","
    printable: bool = False  # CSV: every cell is printable ASCII

    def relation(self) -> str:
        """The SQL of the file's records: ``rn`` (0-based) and the raw cells ``c0, c1, ...``."""
        path = _literal(str(self.path))
        if self.kind == "parquet":
            cells = ", ".join('"' + h.replace('"', '""') + f'" AS c{i}'
                              for i, h in enumerate(self.headers))
            return f"SELECT file_row_number AS rn, {cells} FROM read_parquet({path}, " \
                   "file_row_number=true)"
        columns = "{" + ", ".join(f"'c{i}': 'VARCHAR'" for i in range(len(self.headers))) + "}"
        cells = ", ".join(f"coalesce(c{i}, '') AS c{i}" for i in range(len(self.headers)))
        return (f"SELECT row_number() OVER () - 1 AS rn, {cells} FROM read_csv({path}, "
                f"header=false, skip=1, columns={columns}, delim={_literal(self.delimiter)}, "
                f"quote='\"', escape='\"', nullstr={_literal(_NULL_TEXT)}, strict_mode=true, "
                f"null_padding=true, auto_detect=false, encoding='utf-8', "
                f"max_line_size=100000000, parallel={str(self.parallel).lower()})")


@dataclass
class _Bytes:
    """What one pass over a CSV file's bytes tells."""

    ascii: bool  # every byte is ASCII
    plain: bool  # ASCII without control bytes but line ends and tabs, and without quotes
    tabs: bool  # holds a tab
    blank_inside: bool  # a line holding nothing stands between two lines


# Bytes that are not printable ASCII, but line ends and tabs (counted apart).
_CONTROL_BYTES = bytes([*range(0, 9), 11, 12, *range(14, 32), 127])


def _blank_line(data: bytes) -> bool:
    """Whether ``data`` holds two line ends in a row (\\n\\n, \\r\\r or \\n\\r\\n)."""
    codes = np.frombuffer(data, dtype=np.uint8)
    lf = codes == 10
    if (lf[1:] & lf[:-1]).any():
        return True
    if b"\r" not in data:
        return False
    cr = codes == 13
    return bool((cr[1:] & cr[:-1]).any() or (lf[:-2] & cr[1:-1] & lf[2:]).any())


def _scan_bytes(path: Path) -> _Bytes:
    """One pass over a CSV file: is it ASCII, printable, are there blank lines between lines
    (DuckDB skips such lines, pandas counts them: the rows after would be numbered
    differently)."""
    size = path.stat().st_size
    found = _Bytes(True, True, False, False)
    with path.open("rb") as handle:
        handle.seek(max(size - 65536, 0))
        tail = handle.read()
        end = size - (len(tail) - len(tail.rstrip(b"\r\n")))
        handle.seek(0)
        carry, at = b"", 0
        while at < end:
            block = handle.read(min(1 << 24, end - at))
            if not block:
                break
            data = carry + block
            if _blank_line(data):
                found.blank_inside = True
                return found
            if found.ascii and not block.isascii():
                found.ascii = found.plain = False
            if found.plain and (b'"' in block
                                or len(block.translate(None, _CONTROL_BYTES)) != len(block)):
                found.plain = False
            found.tabs = found.tabs or b"\t" in block
            carry, at = data[-2:], at + len(block)
    return found


def _csv_source(path: Path, name: str) -> EngineSource | None:
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head or any(head.startswith(magic) for magic, _ in _NOT_TEXT):
        return None
    scanned = _scan_bytes(path)
    if scanned.blank_inside:
        return None
    if not scanned.ascii:
        try:
            if csv_encoding(path) != "utf-8-sig":
                return None
        except InputError:
            return None
    encoding = "utf-8-sig"
    delimiter = _delimiter(path, encoding)
    skip, written, first_width = _header(path, encoding, delimiter)
    if skip:
        return None
    try:
        headers = [str(h) for h in pd.read_csv(  # type: ignore[call-overload]
            path, nrows=0, sep=delimiter, dtype=str, keep_default_na=False,
            skip_blank_lines=False, encoding=encoding, index_col=False).columns]
    except (pd.errors.ParserError, ValueError):
        return None
    if (len(written) != len(headers) or not written or first_width > len(written)
            or column_labels(written) != written):
        return None
    # printable: every cell is printable ASCII (tabs only as separators), so cheap tests replace
    # the regular expressions of ids and text
    printable = scanned.plain and (not scanned.tabs or delimiter == "\t")
    return EngineSource(name, path, list(written), "csv", 2, delimiter=delimiter,
                        printable=printable)


def _typed(kind: str, arrow: pa.DataType) -> str | None:
    """How a Parquet column of ``arrow`` type is checked for a column of ``kind``: ``"text"``,
    ``"number"``, ``"moment"``, or None when only the pandas path reads it."""
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow) or pa.types.is_string_view(
            arrow):
        return "text"
    if kind in ("number", "score_0_10") and (pa.types.is_floating(arrow)
                                             or pa.types.is_integer(arrow)):
        return "number"
    if kind in ("date", "timestamp") and (pa.types.is_date32(arrow) or (
            pa.types.is_timestamp(arrow) and arrow.tz is None and arrow.unit in ("s", "ms", "us"))):
        return "moment"
    return None


def _parquet_source(path: Path, name: str) -> EngineSource | None:
    try:
        file = pq.ParquetFile(path)
        schema = file.schema_arrow
        headers = [str(c) for c in schema.empty_table().to_pandas().columns]
        with_nulls = parquet_null_columns(file)
        rows = file.metadata.num_rows
        file.close()
    except (pa.ArrowException, OSError):
        return None
    if headers != list(schema.names) or len(set(headers)) != len(headers):
        return None
    types = [schema.field(h).type for h in headers]
    for arrow in types:
        if not (pa.types.is_string(arrow) or pa.types.is_large_string(arrow)
                or pa.types.is_floating(arrow) or pa.types.is_integer(arrow)
                or pa.types.is_date32(arrow) or (pa.types.is_timestamp(arrow) and arrow.tz is None
                                                 and arrow.unit in ("s", "ms", "us"))):
            return None
    return EngineSource(name, path, headers, "parquet", 1, types, with_nulls, rows)


def open_engine_source(source: str | os.PathLike[str]) -> EngineSource | None:
    """The source as DuckDB reads it, or None when the pandas path must read it.

    Parameters
    ----------
    source : str or os.PathLike
        The input.

    Returns
    -------
    EngineSource or None
        None for a database table, an XLSX workbook, a file that does not exist or cannot be
        read (the pandas path names the problem), a CSV file that is not UTF-8 or that DuckDB
        would split into other rows than pandas, and a Parquet file with a column of a type the
        queries do not check.
    """
    name = os.fspath(source)
    if "://" in name:
        return None
    path = Path(name)
    if not path.is_file():
        return None
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        return _csv_source(path, name)
    if suffix in (".parquet", ".pq"):
        return _parquet_source(path, name)
    return None


class _Unsupported(Exception):
    """A column the queries do not check: the file goes to the pandas path."""


def _category_value(x: str, column: str) -> str:
    labels = CATEGORY_LABELS.get(column, {})
    plain = {k: v for k, v in labels.items() if k == k.lower()}
    if not plain:
        return x
    cases = " ".join(f"WHEN {_literal(k)} THEN {_literal(v)}" for k, v in plain.items())
    return f"(CASE {x} {cases} ELSE {x} END)"


@dataclass
class _Cell:
    """How one column's cells are checked (SQL, true where the cell is certainly valid in a plain
    form) and its parsed value (meaningful there)."""

    value: str
    checks: list[str] = field(default_factory=list)  # SQL, true where the cell is valid


def _column_sql(col: ColumnSpec, x: str, typed: str, decimal: str,
                printable: bool = False) -> _Cell:
    """The checks of cell ``x``: true where it is certainly valid in a plain form; its parsed
    value (meaningful there)."""
    nullable = "true" if col.nullable else "false"
    if typed == "number":
        v = f"CAST({x} AS DOUBLE)"
        bounds = "".join(
            ([f" AND {v} >= {col.min_value!r}"] if col.min_value is not None else [])
            + ([f" AND {v} <= {col.max_value!r}"] if col.max_value is not None else []))
        return _Cell(f"(CASE WHEN isnan({v}) THEN NULL ELSE {v} END)", [
            f"coalesce(CASE WHEN {x} IS NULL OR isnan({v}) THEN {nullable} "
            f"ELSE isfinite({v}){bounds} END, false)"])
    if typed == "moment":
        v = f"CAST({x} AS TIMESTAMP)"
        return _Cell(f"date_trunc('day', {v})" if col.kind == "date" else v, [
            f"coalesce(CASE WHEN {x} IS NULL THEN {nullable} ELSE {v} >= TIMESTAMP "
            f"'1900-01-01' AND {v} < TIMESTAMP '2200-01-01' END, false)"])
    if typed != "text":
        raise _Unsupported(col.name)
    # Only the empty cell counts as blank here; the other blank spellings (nan, NULL, white
    # space) are left to pandas, as are all forms but the plainest.
    value = x
    words = f"(length({x}) > 4 OR lower({x}) NOT IN ('nan', 'none', 'null', 'nat'))"
    if col.kind in ("id", "text") and printable:
        # printable ASCII cells: an id holds no space, a text none at either end
        edge = (f"NOT contains({x}, ' ')" if col.kind == "id"
                else f"left({x}, 1) <> ' ' AND right({x}, 1) <> ' '")
        checks = [edge, words]
    elif col.kind in ("id", "text"):
        pattern = f"{_EDGE}+" if col.kind == "id" else f"{_EDGE}({_INNER}*{_EDGE})?"
        checks = [f"regexp_full_match({x}, '{pattern}')", words]
    elif col.kind == "category":
        value = _category_value(x, col.name)
        checks = [f"regexp_full_match({x}, '{_PLAIN_CATEGORY}')"]
        if col.categories is not None:
            checks.append(f"{value} IN ({', '.join(_literal(c) for c in col.categories)})")
    elif col.kind in ("number", "score_0_10"):
        value = f"TRY_CAST({x} AS DOUBLE)"
        checks = [f"length({x}) <= 17", f"regexp_full_match({x}, '{_NUMBER[decimal]}')"]
        checks += ([f"{value} >= {col.min_value!r}"] if col.min_value is not None else []) + (
            [f"{value} <= {col.max_value!r}"] if col.max_value is not None else [])
    elif col.kind == "date":
        # exactly YYYY-MM-DD of a real day from 1900 to 2199: DuckDB writes it back the same
        value = f"CAST(TRY_CAST({x} AS DATE) AS TIMESTAMP)"
        checks = [f"CAST(TRY_CAST({x} AS DATE) AS VARCHAR) = {x}", f"{x} >= '1900'",
                  f"{x} < '2200'"]
    elif col.kind == "timestamp":
        # YYYY-MM-DD, optionally HH:MM or HH:MM:SS, written back the same by DuckDB
        value = f"TRY_CAST({x} AS TIMESTAMP)"
        checks = [f"length({x}) IN (10, 16, 19)",
                  f"left(CAST({value} AS VARCHAR), length({x})) = {x}",
                  f"{x} >= '1900'", f"{x} < '2200'"]
    else:
        raise _Unsupported(col.name)
    nullable = "true" if col.nullable else "false"
    return _Cell(f"(CASE WHEN {x} = '' THEN NULL ELSE {value} END)", [
        f"coalesce(CASE WHEN {x} IS NULL OR {x} = '' THEN {nullable} "
        f"ELSE {' AND '.join(checks)} END, false)"])


@dataclass
class _Plan:
    """The queries of one file: its flags and hashes, and its clean rows' parsed values."""

    flags: str
    values: str
    value_names: list[str]
    ok: str = "true"


def _plan(src: EngineSource, spec: TableSpec, found: dict[str, str], as_of: date | None,
          decimal: str, with_id: bool) -> _Plan:
    index = {h: i for i, h in enumerate(src.headers)}
    oks, values, names = [], [], []
    parsed: dict[str, str] = {}
    for col in spec.columns:
        header = found.get(col.name)
        names.append(col.name)
        if header is None:
            values.append("NULL")
            continue
        i = index[header]
        typed = "text" if src.kind == "csv" else _typed(col.kind, src.types[i])
        if typed is None:
            raise _Unsupported(col.name)
        cell = _column_sql(col, f"c{i}", typed, decimal,
                           src.kind == "csv" and src.printable)
        oks += cell.checks
        values.append(cell.value)
        parsed[col.name] = cell.value
    if spec.name == "transactions" and as_of is not None:
        oks.append(f"coalesce(NOT ({parsed['order_date']} > TIMESTAMP "
                   f"'{as_of.isoformat()}'), true)")
    if spec.name == "interactions" and "closed_at" in parsed:
        oks.append(f"coalesce(NOT ({parsed['closed_at']} < {parsed['opened_at']}), true)")
    cells = [f"c{i}" for i in range(len(src.headers))]
    if src.kind == "csv":
        blank = f"regexp_full_match({' || '.join(cells)}, '{_WHITE}*')"
        hashed = cells
    else:
        blank = "false"
        hashed = [f"(CASE WHEN isnan({c}) THEN NULL ELSE {c} END)"
                  if pa.types.is_floating(t) else c for c, t in zip(cells, src.types, strict=True)]
    ok = " AND ".join(oks) or "true"
    # a row whose cells are all valid has a customer_id, so it is no blank line: the blank
    # test runs only on the other rows
    flag = f"(CASE WHEN {ok} THEN 0 WHEN {blank} THEN {_BLANK} ELSE {_SPECIAL} END)"
    select = [f"{flag}::UTINYINT AS flag", f"hash({', '.join(hashed)}) AS h"]
    if with_id:
        select.append(f"{parsed['customer_id']} AS pid")
    flags = f"SELECT rn, {', '.join(select)} FROM ({src.relation()})"
    columns = ", ".join(f"{v} AS \"{n}\"" for v, n in zip(values, names, strict=True))
    values_sql = f"SELECT rn, {columns} FROM ({src.relation()})"  # kept: flag 0, not special
    return _Plan(flags, values_sql, names, ok)


def _connect(tmp: Path) -> Any:
    import duckdb

    con = duckdb.connect(config={
        "threads": max(1, min(2, os.cpu_count() or 1)),
        "memory_limit": os.environ.get(MEMORY_ENV, "1GB"),
        "temp_directory": str(tmp),
        "preserve_insertion_order": True,
    })
    con.execute("SET enable_progress_bar = false")
    return con


def _batches(con: Any, sql: str, rows: int = 1 << 20) -> Iterator[pa.RecordBatch]:
    reader = con.sql(sql).to_arrow_reader(rows)
    yield from reader


@dataclass
class _Scan:
    flags: np.ndarray  # per record: 0 clean, 1 special, 2 blank
    hashes: np.ndarray
    ids: pa.Array | None  # customers: the plain customer_id of every record


def _scan(con: Any, plan: _Plan, with_id: bool, total: int | None) -> _Scan:
    """Every record's flag and hash, in file order (filled in place when the size is known, so
    a hundred million records take 9 bytes each, once)."""
    flags: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    ids: list[pa.Array] = []
    all_flags = np.empty(total or 0, dtype=np.uint8)
    all_hashes = np.empty(total or 0, dtype=np.uint64)
    expected = 0
    for batch in _batches(con, plan.flags):
        rn = batch.column(0).to_numpy()
        n = len(rn)
        if n and (rn[0] != expected or rn[-1] != expected + n - 1):
            raise RuntimeError("DuckDB returned the records out of order")
        if total is not None and expected + n <= total:
            all_flags[expected:expected + n] = batch.column(1).to_numpy()
            all_hashes[expected:expected + n] = batch.column(2).to_numpy()
        else:
            flags.append(batch.column(1).to_numpy())
            hashes.append(batch.column(2).to_numpy())
        expected += n
        if with_id:
            ids.append(batch.column(3))
    if total is not None and not flags:
        flags, hashes = [all_flags[:expected]], [all_hashes[:expected]]
    elif total is not None:
        raise RuntimeError("DuckDB read more records than the file holds")
    if not flags:
        flags, hashes = [np.empty(0, dtype=np.uint8)], [np.empty(0, dtype=np.uint64)]
    return _Scan(np.concatenate(flags) if len(flags) != 1 else flags[0],
                 np.concatenate(hashes) if len(hashes) != 1 else hashes[0],
                 pa.concat_arrays(ids).cast(pa.large_string()) if with_id and ids else None)


def _repeated(hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Where a record's hash is that of another record (of ``rows``, a mask)."""
    kept = hashes[rows]
    kept.sort()
    twice = kept[1:][kept[1:] == kept[:-1]]
    del kept
    dups = np.unique(twice)
    out = np.zeros(len(hashes), dtype=bool)
    if not dups.size:
        return out
    step = 1 << 23
    for start in range(0, len(hashes), step):
        part = hashes[start:start + step]
        at = np.minimum(np.searchsorted(dups, part), dups.size - 1)
        out[start:start + step] = (dups[at] == part) & rows[start:start + step]
    return out


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


def engine_temp_dir() -> Path:
    """A fresh folder for DuckDB to spill to (removed by :func:`remove_temp_dir`)."""
    return Path(tempfile.mkdtemp(prefix="tiering-duckdb-"))


def remove_temp_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


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
