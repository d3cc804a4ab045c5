"""Read an XLSX workbook's first sheet row by row, trusting the rows it holds, not its stated size.

A sheet states its size (``<dimension ref="A1:XFD1048576"/>``), and one stray cell far away makes
that a million rows by sixteen thousand columns. Reading the sheet as a rectangle of that size
(pandas ``read_excel``) took 12 GB for a 5 KB file, and turned the empty rows between the data and
a stray cell into a million rejected rows. Here the sheet is streamed in openpyxl's read-only mode
with its stated size reset, so only the rows the file holds are parsed:

* the header is the first row that holds something; the table's columns are those with a header;
* a row with no cell holding anything (empty or blank text) is not a row: not read, not counted,
  not rejected; its number is skipped, so every row keeps the number the spreadsheet shows;
* a row whose only content is outside the headed columns is a row (with empty cells), so a stray
  value is reported where it is instead of vanishing;
* a formula cell the workbook stores no value for (a file written by a program and never opened
  in Excel) comes as :class:`FormulaWithoutValue`, which validation reports as such, instead of as
  an empty cell.

Memory is one block of ``chunk_rows`` rows of the headed columns, whatever the stated size.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from customer_tiering.core.errors import InputError, Problem
from customer_tiering.ingest.headers import column_labels

__all__ = ["FormulaWithoutValue", "Sheet", "open_first_sheet"]

# A formula element, with or without a namespace prefix (<f>, <x:f ...>).
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")


@dataclass(frozen=True)
class FormulaWithoutValue:
    """A formula cell with no stored value: its cell reference (``D5``) and formula."""

    cell: str
    formula: str

    def __str__(self) -> str:
        return self.formula


@dataclass
class Sheet:
    """The first sheet of a workbook: its name, headers and blocks of rows.

    Each block's index holds the rows' numbers as the spreadsheet shows them.
    """

    title: str
    headers: list[str]
    blocks: Iterator[pd.DataFrame]
    close: Callable[[], None]


def _unreadable(name: str, exc: BaseException) -> InputError:
    return InputError([Problem(name, None, None, None,
                               f"is not a readable XLSX workbook ({type(exc).__name__}: {exc})")])


def _bad_workbook_errors() -> tuple[type[BaseException], ...]:
    from openpyxl.utils.exceptions import InvalidFileException

    # SyntaxError: the XML parse errors of ElementTree and lxml both derive from it;
    # NotImplementedError and RuntimeError: zipfile's words for an unknown compression method
    # and for an encrypted member
    return (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, KeyError, ValueError,
            TypeError, OSError, EOFError, SyntaxError, NotImplementedError, RuntimeError,
            InvalidFileException)


def _filled(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _has_formulas(book: Any, sheet: Any) -> bool:
    """Whether the sheet's XML holds a formula element; scanned in blocks of the decompressed
    XML, which is much cheaper than parsing the sheet a second time. True when unsure."""
    path = getattr(sheet, "_worksheet_path", None)
    archive = getattr(book, "_archive", None)
    if path is None or archive is None:
        return True
    tail = b""
    with archive.open(path) as xml:
        while block := xml.read(1 << 20):
            if _FORMULA_TAG.search(tail + block):
                return True
            tail = block[-16:]
    return False


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def _rows(values: Iterator[tuple[Any, ...]], formulas: Iterator[tuple[Any, ...]] | None
          ) -> Iterator[tuple[int, tuple[Any, ...]]]:
    """``(row number, cells)`` for every row holding something; formula cells without a stored
    value become :class:`FormulaWithoutValue`."""
    for number, cells in enumerate(values, start=1):
        written = next(formulas, ()) if formulas is not None else ()
        if not cells:  # a row the file does not hold (openpyxl fills the gaps)
            continue
        row = tuple(cells)
        if written:
            row = tuple(
                FormulaWithoutValue(f"{_column_letter(i)}{number}", str(text))
                if v is None and i < len(written)
                and isinstance(text := getattr(written[i], "text", written[i]), str)
                and text.startswith("=") else v
                for i, v in enumerate(row))
        if any(_filled(v) for v in row):
            yield number, row


def open_first_sheet(path: Path, chunk_rows: int) -> Sheet:
    """Open a workbook's first sheet to read it in blocks of at most ``chunk_rows`` rows.

    Parameters
    ----------
    path : pathlib.Path
        An ``.xlsx`` or ``.xlsm`` file.
    chunk_rows : int
        Rows per block.

    Returns
    -------
    Sheet
        The sheet's title, its headers as written (first row holding something) and its blocks
        of raw cells (as openpyxl gives them: text, numbers, datetimes, booleans, None,
        :class:`FormulaWithoutValue`), indexed by row number; ``close`` releases the file.

    Raises
    ------
    InputError
        When the file is not a readable workbook, or its first sheet holds nothing.
    """
    import openpyxl

    name = str(path)
    errors = _bad_workbook_errors()
    books: list[Any] = []

    def close() -> None:
        for book in books:
            book.close()

    try:
        books.append(openpyxl.load_workbook(path, read_only=True, data_only=True,
                                            keep_links=False))
        sheet = books[0].worksheets[0]
        sheet.reset_dimensions()  # the stated size is not trusted
        formulas = None
        if _has_formulas(books[0], sheet):
            books.append(openpyxl.load_workbook(path, read_only=True, data_only=False,
                                                keep_links=False))
            written = books[1].worksheets[0]
            written.reset_dimensions()
            formulas = written.iter_rows(values_only=True)
        rows = _rows(sheet.iter_rows(values_only=True), formulas)
        first = next(rows, None)
    except errors as exc:
        close()
        raise _unreadable(name, exc) from None
    except IndexError:
        close()
        raise InputError([Problem(name, None, None, None, "has no worksheet")]) from None
    if first is None:
        close()
        raise InputError([Problem(name, None, None, None,
                                  f"its first sheet {sheet.title!r} is empty; the table must "
                                  "be on the first sheet")])
    header_row = first[1]
    keep = [i for i, v in enumerate(header_row) if _filled(v)]
    headers = [str(header_row[i]).strip() for i in keep]
    columns = column_labels(headers)

    def blocks() -> Iterator[pd.DataFrame]:
        numbers: list[int] = []
        cells: list[tuple[Any, ...]] = []
        try:
            for number, row in rows:
                numbers.append(number)
                cells.append(tuple(row[i] if i < len(row) else None for i in keep))
                if len(cells) == chunk_rows:
                    yield pd.DataFrame(cells, columns=columns, index=numbers, dtype=object)
                    numbers, cells = [], []
            if cells:
                yield pd.DataFrame(cells, columns=columns, index=numbers, dtype=object)
        except errors as exc:
            raise _unreadable(name, exc) from None
        finally:
            close()

    return Sheet(sheet.title, headers, blocks(), close)
