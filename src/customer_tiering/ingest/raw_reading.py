"""Read an input source as it is, a block of rows at a time: CSV, Parquet, XLSX or a database table.

Nothing is parsed here; cells come as the file holds them (CSV cells as text). A source is opened
once (:func:`open_source`), which checks that it exists and can be read and gives its headers, and
then yields blocks of at most ``chunk_rows`` rows, so that a file of a hundred million lines is
never held at once. CSV, Parquet and XLSX files are read block by block (an XLSX sheet by
:mod:`~customer_tiering.ingest.sheets`, which trusts the rows it holds, not its stated size); a
database table comes as one block. A CSV file's encoding is decided for the whole file
(:mod:`~customer_tiering.ingest.encodings`, which refuses a file mixing UTF-8 and GBK lines).

Row numbers: every block's index holds its rows' numbers as a person sees them (CSV: the file's
line, the header being line 1 when no blank line comes before it; XLSX: the sheet's row; Parquet
and database tables: the 1-based record number). Rows that hold nothing (a blank line, a line of
separators, an empty sheet row) are not rows: they are dropped, and their numbers skipped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from customer_tiering.core.errors import InputError, Problem
from customer_tiering.ingest.csv_reading import open_csv
from customer_tiering.ingest.sheets import open_first_sheet

__all__ = ["CHUNK_ROWS", "RawSource", "open_source", "parquet_frame", "parquet_null_columns"]

CHUNK_ROWS = 1_000_000


@dataclass
class RawSource:
    """An opened source: its name for messages, headers, size if known, and its blocks of rows,
    each indexed by its rows' numbers as a person sees them."""

    name: str
    headers: list[str]
    total_rows: int | None
    chunks: Iterator[pd.DataFrame]
    close: Callable[[], None] = lambda: None  # release the file when the blocks are not read


def _problem(name: str, rule: str) -> InputError:
    return InputError([Problem(name, None, None, None, rule)])


def _open_parquet(path: Path, chunk_rows: int) -> RawSource:
    """Batches converted as a whole-file read converts them, whatever nulls each batch holds."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        file = pq.ParquetFile(path)
        schema = file.schema_arrow
        # pandas' own columns: index columns written by pandas go back into the index
        headers = [str(c) for c in schema.empty_table().to_pandas().columns]
        with_nulls = parquet_null_columns(file)
    except (pa.ArrowException, OSError) as exc:
        raise _problem(str(path), f"is not a readable Parquet file: {exc}") from None

    def chunks() -> Iterator[pd.DataFrame]:
        next_record = 1
        try:
            for batch in file.iter_batches(batch_size=chunk_rows):
                frame = parquet_frame(pa.Table.from_batches([batch]), schema, with_nulls)
                frame.index = pd.RangeIndex(next_record, next_record + len(frame))
                next_record += len(frame)
                yield frame
        except (pa.ArrowException, OSError) as exc:
            raise _problem(str(path), f"is not a readable Parquet file: {exc}") from None
        finally:
            file.close()

    return RawSource(str(path), headers, file.metadata.num_rows, chunks(), file.close)


def parquet_frame(table: Any, schema: Any, with_nulls: set[str]) -> pd.DataFrame:
    """Rows of a Parquet file as pandas, converted as a whole-file read converts them.

    Parameters
    ----------
    table : pyarrow.Table
        Some of the file's rows.
    schema : pyarrow.Schema
        The file's schema.
    with_nulls : set of str
        The integer and boolean columns holding a null anywhere in the file.

    Returns
    -------
    pandas.DataFrame
        Integer columns with a null anywhere in the file as float64, such boolean columns as
        object, whatever nulls these rows hold.
    """
    import pyarrow as pa

    frame = table.to_pandas()
    for name in with_nulls & set(frame.columns):
        # a whole-file read gives float64 (integers) or object (booleans) here
        is_int = pa.types.is_integer(schema.field(name).type)
        frame[name] = frame[name].astype("float64" if is_int else object)
    return frame


def parquet_null_columns(file: Any) -> set[str]:
    """The integer and boolean columns of a Parquet file that hold a null.

    Parameters
    ----------
    file : pyarrow.parquet.ParquetFile
        The opened file.

    Returns
    -------
    set of str
    """
    import pyarrow as pa

    schema = file.schema_arrow
    return {name for name in schema.names
            if (pa.types.is_integer(schema.field(name).type)
                or pa.types.is_boolean(schema.field(name).type))
            and _has_nulls(file, name)}


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


def _whole(name: str, frame: pd.DataFrame) -> RawSource:
    """A table read at once, its records numbered from 1."""
    frame.index = pd.RangeIndex(1, len(frame) + 1)
    return RawSource(name, [str(c) for c in frame.columns], len(frame), iter([frame]))


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
    return _whole(f"{sa.make_url(url).render_as_string(hide_password=True)}#{table}", frame)


def open_source(source: str | os.PathLike[str], chunk_rows: int = CHUNK_ROWS) -> RawSource:
    """Open a CSV, Parquet or XLSX path, or ``URL#table``, to read it in blocks of rows.

    Parameters
    ----------
    source : str or os.PathLike
        The input. A CSV's encoding (UTF-8 with or without BOM, GB18030, UTF-16 with BOM) and
        delimiter are detected; an XLSX is read from its first sheet; a database table is written
        ``URL#table`` (``sqlite:///crm.db#orders``).
    chunk_rows : int
        Rows per block (a CSV, Parquet or XLSX file is read a block at a time).

    Returns
    -------
    RawSource
        Its name for messages (a URL without its password), headers, row count if known and
        blocks of raw cells indexed by row number.

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
        sheet = open_first_sheet(path, chunk_rows)
        return RawSource(text, sheet.headers, None, sheet.blocks, sheet.close)
    if suffix in (".csv", ".txt", ".tsv"):
        headers, blocks = open_csv(path, chunk_rows)
        return RawSource(text, headers, None, blocks)
    raise _problem(text, "has an unknown type; use .csv, .parquet, .xlsx or URL#table")
