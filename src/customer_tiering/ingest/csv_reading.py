"""Read a CSV file as blocks of raw text cells, each row numbered by the line it is on.

The encoding is decided once for the whole file (:mod:`~customer_tiering.ingest.encodings`), the
separator is sniffed (``,`` ``;`` or tab), and the header is the first line holding something.
Cells stay text; nothing is parsed here. What a file must not do, it is refused for, naming the
line: a line with more fields than the header whose extra fields hold something (an unquoted
separator inside a value shifts every value after it), a double quote never closed, and bytes
that are not text at all (a gzip, ZIP, Parquet, ``.xls`` or PDF file named ``.csv``).

pandas would take a first column without a header as the row index when every data line has one
more field than the header (the common trailing separator), moving every value one column to the
left; here the extra fields are read as columns of their own and dropped when empty.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from customer_tiering.core.errors import InputError, Problem
from customer_tiering.ingest.encodings import csv_encoding
from customer_tiering.ingest.headers import column_labels

__all__ = ["open_csv"]

_DELIMITERS = ",;\t"
# pandas' words for a ragged line and an unclosed quote (its "row" counts from 0, header included)
_RAGGED = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")
_OPEN_QUOTE = re.compile(r"EOF inside string starting at row (\d+)")
_QUOTE_IT = "a value holding the separator must be in double quotes"
# Files that are not text, by their first bytes, and what to do about each.
_NOT_TEXT = (
    (b"\x1f\x8b", "is gzip-compressed, not CSV text; decompress it first"),
    (b"PK\x03\x04", "is a ZIP archive (an XLSX workbook, or zipped files), not CSV text; a "
                    "workbook must be named .xlsx"),
    (b"PAR1", "is a Parquet file, not CSV text; name it .parquet"),
    (b"\xd0\xcf\x11\xe0", "is an old Excel (.xls) or other Office file, not CSV text; save it "
                         "as .xlsx or CSV"),
    (b"BZh9", "is bzip2-compressed, not CSV text; decompress it first"),
    (b"\xfd7zXZ\x00", "is xz-compressed, not CSV text; decompress it first"),
    (b"%PDF-", "is a PDF document, not CSV text"),
)


def _problem(name: str, row: int | None, rule: str) -> InputError:
    return InputError([Problem(name, row, None, None, rule)])


def _delimiter(path: Path, encoding: str) -> str:
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


def _header(path: Path, encoding: str, delimiter: str) -> tuple[int, list[str], int]:
    """The number of lines before the header (the first row holding something), the header row
    as written (pandas renames a repeated header, which would hide that two columns claim one
    name) and the number of fields of the first data row (0: none, or unknown)."""
    before, header = 0, None
    with path.open(encoding=encoding, newline="", errors="replace") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            for row in reader:
                if header is not None:
                    return before, header, len(row)
                if any(cell.strip() for cell in row):
                    header = row
                else:
                    before = reader.line_num
        except csv.Error:
            pass  # pandas reports the broken line
    return before, header or [], 0


def _blank(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is empty or white space (a blank line, a line of separators)."""
    blank = np.ones(len(frame), dtype=bool)
    for column in frame.columns:
        at = np.flatnonzero(blank)
        if not at.size:
            break
        cells = frame[column].iloc[at]
        blank[at] = (cells.isna() | (cells.str.len() == 0) | cells.str.isspace()).to_numpy(
            dtype=bool, na_value=True)
    return blank


def _parse_error(name: str, exc: Exception, header_fields: int) -> InputError:
    """A pandas parse error in our words, naming the line when pandas gives it."""
    text = str(exc)
    if ragged := _RAGGED.search(text):
        _, line, saw = (int(g) for g in ragged.groups())
        return _problem(name, line, f"is not a readable CSV: this line has {saw} fields where "
                                    f"the header has {header_fields} ({_QUOTE_IT})")
    if quote := _OPEN_QUOTE.search(text):
        return _problem(name, int(quote.group(1)) + 1, "is not a readable CSV: a double quote "
                                                       "opened on this line is never closed")
    return _problem(name, None, f"is not a readable CSV: {text}")


def _without_extra_fields(name: str, frame: pd.DataFrame, width: int) -> pd.DataFrame:
    """Drop the fields beyond the header's ``width``; refuse the file if one holds something."""
    if frame.shape[1] == width:
        return frame
    extra = frame.iloc[:, width:]
    filled = ~_blank(extra)
    if filled.any():
        at = int(np.flatnonzero(filled)[0])
        raise _problem(name, int(frame.index[at]),
                       f"is not a readable CSV: this line has a value beyond the header's "
                       f"{width} columns ({_QUOTE_IT}, or the column needs a header)")
    return frame.iloc[:, :width]


def open_csv(path: Path, chunk_rows: int) -> tuple[list[str], Iterator[pd.DataFrame]]:
    """Open a CSV file to read it in blocks of at most ``chunk_rows`` rows.

    Parameters
    ----------
    path : pathlib.Path
        The file (``.csv``, ``.tsv`` or ``.txt``).
    chunk_rows : int
        Rows per block.

    Returns
    -------
    headers : list of str
        The header row as written.
    blocks : iterator of pandas.DataFrame
        Text cells (missing where a line is short), columns labelled by
        :func:`~customer_tiering.ingest.headers.column_labels`, indexed by line number; rows
        holding nothing are left out.

    Raises
    ------
    InputError
        When the file is empty, is not text, mixes encodings, or (while the blocks are read) a
        line cannot be read as a row of the table.
    """
    name = str(path)
    with path.open("rb") as handle:
        head = handle.read(8)
    if not head:
        raise _problem(name, None, "is empty: not even a header row")
    for magic, rule in _NOT_TEXT:
        if head.startswith(magic):
            raise _problem(name, None, rule)
    encoding = csv_encoding(path)
    delimiter = _delimiter(path, encoding)
    skip, written, first_width = _header(path, encoding, delimiter)
    options = {"sep": delimiter, "dtype": str, "keep_default_na": False,
               "skip_blank_lines": False, "encoding": encoding, "index_col": False}
    try:
        headers = [str(h) for h in pd.read_csv(path, nrows=0, skiprows=skip, **options).columns]  # type: ignore[call-overload]
    except (pd.errors.ParserError, ValueError) as exc:
        raise _parse_error(name, exc, len(written)) from None
    if len(written) == len(headers):
        headers = written
    width = len(headers)
    # the extra fields of a first data row longer than the header get columns of their own
    names = column_labels([*headers, *(f"(field {i + 1})" for i in range(width, first_width))])
    first_row = skip + 2  # lines are 1-based and the header takes one

    def blocks() -> Iterator[pd.DataFrame]:
        try:
            with pd.read_csv(path, chunksize=chunk_rows, header=None, names=names,  # type: ignore[call-overload]
                             skiprows=skip + 1, **options) as reader:
                for frame in reader:
                    frame.index = frame.index + first_row  # a RangeIndex over the file
                    frame = _without_extra_fields(name, frame, width)
                    yield frame[~_blank(frame)]
        except InputError:
            raise  # ours already (InputError is a ValueError too)
        except (pd.errors.ParserError, ValueError) as exc:
            raise _parse_error(name, exc, width) from None

    return headers, blocks()
