"""Read an input source as it is, a block of rows at a time: CSV, Parquet, XLSX or a database table.

Nothing is parsed here; cells come as the file holds them (CSV cells as text). A source is opened
once (:func:`open_source`), which checks that it exists and can be read and gives its headers, and
then yields blocks of at most ``chunk_rows`` rows, so that a file of a hundred million lines is
never held at once. CSV and Parquet are read block by block; an XLSX sheet (at most about a
million rows) and a database table come as one block.

Row numbers: ``first_row`` is the number a person sees for the first data row (CSV and XLSX: the
header is line 1, so 2; Parquet and database tables: the 1-based record number, so 1).
"""

from __future__ import annotations

import codecs
import csv
import os
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from customer_tiering.core.errors import InputError, Problem

__all__ = ["CHUNK_ROWS", "RawSource", "open_source"]

CHUNK_ROWS = 1_000_000
_ENCODINGS = ("utf-8-sig", "gb18030")
_DELIMITERS = ",;\t"
_BLOCK_BYTES = 1 << 24


@dataclass
class RawSource:
    """An opened source: its name for messages, headers, size if known, and its blocks of rows."""

    name: str
    first_row: int
    headers: list[str]
    total_rows: int | None
    chunks: Iterator[pd.DataFrame]
    close: Callable[[], None] = lambda: None  # release the file when the blocks are not read


def _problem(name: str, rule: str) -> InputError:
    return InputError([Problem(name, None, None, None, rule)])


def _csv_encoding(path: Path) -> str:
    """The first of UTF-8 (BOM or not) and GB18030 that decodes the whole file (read in blocks)."""
    for encoding in _ENCODINGS:
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as handle:
                while block := handle.read(_BLOCK_BYTES):
                    decoder.decode(block)
                decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise _problem(str(path), "is neither UTF-8 nor GBK/GB18030 text; save it as UTF-8 CSV")


def _csv_delimiter(path: Path, encoding: str) -> str:
    size = 1 << 20
    with path.open("rb") as handle:
        data = handle.read(size)
    lines = data.decode(encoding, errors="ignore").splitlines()
    if len(data) == size and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    sample = "\n".join(lines[:20])
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        counts = {d: first.count(d) for d in _DELIMITERS}
        return max(counts, key=lambda d: counts[d])


def _headers_as_written(path: Path, encoding: str, delimiter: str, parsed: list[str]
                        ) -> list[str]:
    """The header row as the file has it: pandas renames a repeated header (``amount.1``), which
    would hide that two columns claim one name; the first non-blank row is read as text instead."""
    with path.open(encoding=encoding, newline="", errors="replace") as handle:
        for row in csv.reader(handle, delimiter=delimiter):
            if any(cell.strip() for cell in row):
                return row if len(row) == len(parsed) else parsed
    return parsed


def _open_csv(path: Path, chunk_rows: int) -> RawSource:
    name = str(path)
    encoding = _csv_encoding(path)
    options = {"sep": _csv_delimiter(path, encoding), "dtype": str, "keep_default_na": False,
               "skip_blank_lines": True, "encoding": encoding}
    try:
        headers = [str(h) for h in pd.read_csv(path, nrows=0, **options).columns]  # type: ignore[call-overload]
    except (pd.errors.ParserError, ValueError) as exc:
        raise _problem(name, f"is not a readable CSV: {exc}") from None
    headers = _headers_as_written(path, encoding, str(options["sep"]), headers)

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            with pd.read_csv(path, chunksize=chunk_rows, **options) as reader:  # type: ignore[call-overload]
                yield from reader
        except (pd.errors.ParserError, ValueError) as exc:
            raise _problem(name, f"is not a readable CSV: {exc}") from None

    return RawSource(name, 2, headers, None, chunks())


def _open_parquet(path: Path, chunk_rows: int) -> RawSource:
    """Batches converted as a whole-file read converts them, whatever nulls each batch holds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        schema = file.schema_arrow
        # pandas' own columns: index columns written by pandas go back into the index
        headers = [str(c) for c in schema.empty_table().to_pandas().columns]
        with_nulls = {name for name in schema.names
                      if (pa.types.is_integer(schema.field(name).type)
                          or pa.types.is_boolean(schema.field(name).type))
                      and _has_nulls(file, name)}
    except (pa.ArrowException, OSError) as exc:
        raise _problem(str(path), f"is not a readable Parquet file: {exc}") from None

    def chunks() -> Iterator[pd.DataFrame]:
        try:
            for batch in file.iter_batches(batch_size=chunk_rows):
                frame = pa.Table.from_batches([batch]).to_pandas()
                for name in with_nulls & set(frame.columns):
                    # a whole-file read gives float64 (integers) or object (booleans) here
                    is_int = pa.types.is_integer(schema.field(name).type)
                    frame[name] = frame[name].astype("float64" if is_int else object)
                yield frame
        except (pa.ArrowException, OSError) as exc:
            raise _problem(str(path), f"is not a readable Parquet file: {exc}") from None
        finally:
            file.close()

    return RawSource(str(path), 1, headers, file.metadata.num_rows, chunks(), file.close)


def _has_nulls(file: Any, name: str) -> bool:
    """Whether a Parquet column holds a null: from the statistics, else by reading the column."""
    index = file.schema_arrow.get_field_index(name)
    counts = []
    for group in range(file.metadata.num_row_groups):
        stats = file.metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_null_count:
            return bool(file.read(columns=[name]).column(name).null_count)
        counts.append(stats.null_count)
    return bool(sum(counts) > 0)


def _whole(name: str, first_row: int, frame: pd.DataFrame) -> RawSource:
    return RawSource(name, first_row, [str(c) for c in frame.columns], len(frame), iter([frame]))


def _open_database(text: str) -> RawSource:
    url, _, table = text.partition("#")
    if not table:
        raise _problem(text, "a database source is written URL#table")
    import sqlalchemy as sa

    try:
        parsed = sa.make_url(url)
        engine = sa.create_engine(parsed)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
        raise _problem(text, f"is not a database URL this installation can open ({exc})") from None
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database not in ("", ":memory:") and not (
            Path(database).is_file()):
        engine.dispose()  # SQLite would create an empty database file: a typo is not a source
        raise _problem(text, f"does not exist (no SQLite file at {database})")
    try:
        with engine.connect() as conn:
            frame = pd.read_sql_table(table, conn)
    except (sa.exc.SQLAlchemyError, ValueError) as exc:
        raise _problem(f"{url}#{table}", f"cannot be read: {exc}") from None
    finally:
        engine.dispose()
    return _whole(f"{sa.make_url(url).render_as_string(hide_password=True)}#{table}", 1, frame)


def open_source(source: str | os.PathLike[str], chunk_rows: int = CHUNK_ROWS) -> RawSource:
    """Open a CSV, Parquet or XLSX path, or ``URL#table``, to read it in blocks of rows.

    Parameters
    ----------
    source : str or os.PathLike
        The input. A CSV's encoding (UTF-8 with or without BOM, GB18030) and delimiter are
        detected; an XLSX is read from its first sheet; a database table is written
        ``URL#table`` (``sqlite:///crm.db#orders``).
    chunk_rows : int
        Rows per block (a CSV or Parquet file is read a block at a time).

    Returns
    -------
    RawSource
        Its name for messages (a URL without its password), headers, row count if known and
        blocks of raw cells.

    Raises
    ------
    InputError
        When the source does not exist, has an unknown type or cannot be read (naming it).
    ValueError
        When ``chunk_rows`` is below 1.
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, got {chunk_rows}")
    text = os.fspath(source)
    if "://" in text:
        return _open_database(text)
    path = Path(text)
    if not path.exists():
        raise _problem(text, "does not exist")
    if path.is_dir():
        raise _problem(text, "is a folder, not a file")
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return _open_parquet(path, chunk_rows)
    if suffix in (".xlsx", ".xlsm"):
        try:
            sheet = pd.read_excel(path, dtype=object, engine="openpyxl")
        except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
            raise _problem(text, f"is not a readable XLSX workbook ({exc})") from None
        return _whole(text, 2, sheet)
    if suffix in (".csv", ".txt", ".tsv"):
        return _open_csv(path, chunk_rows)
    raise _problem(text, "has an unknown type; use .csv, .parquet, .xlsx or URL#table")
