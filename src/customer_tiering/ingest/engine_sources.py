"""The files DuckDB reads as the pandas reader does: a UTF-8 CSV or a Parquet file, or None.

:func:`open_engine_source` checks a file's bytes, header and column types, and gives the SQL of
its records (:class:`EngineSource`); every other input stays on the pandas path
(:mod:`customer_tiering.ingest.loading`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from customer_tiering.core.errors import InputError
from customer_tiering.ingest.csv_reading import _NOT_TEXT, _delimiter, _header
from customer_tiering.ingest.encodings import csv_encoding
from customer_tiering.ingest.headers import column_labels
from customer_tiering.ingest.raw_reading import parquet_null_columns

__all__ = ["EngineSource", "open_engine_source"]

_NULL_TEXT = "\x02tiering: no null text\x03"


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
