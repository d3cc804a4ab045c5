"""A rating's export as a workbook set up to be read and printed.

The grades sheet prints landscape, one page wide (as many pages down as it takes), with the group
and header rows repeated on every page; columns are as wide as their text (a Chinese character
counts twice), long texts wrap; churn reads as a percentage, amounts and points with thousands
separators. The About sheet (说明) is two readable columns. Written in openpyxl's write-only mode,
so a million rows stream to disk.
"""

from __future__ import annotations

import contextlib
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from customer_tiering.store.tier_store import RatingRecord, TierStore

__all__ = ["NUMBER_FORMATS", "display_width", "write_xlsx"]

# How a person reads each numeric column.
NUMBER_FORMATS: dict[str, str] = {"churn_probability": "0.0%", "expected_value": "#,##0",
                                  "total": "#,##0.00"}
_POINTS_FORMAT = "#,##0.00"
_WRAPPED = {"reason": 48, "recommended_actions": 36}  # widths of the long texts, which wrap
_MAX_WIDTH = 30
_SAMPLE_ROWS = 2_000  # rows read to size the columns


def display_width(value: Any) -> int:
    """How many character cells ``value`` takes in a spreadsheet (wide CJK characters count 2).

    Parameters
    ----------
    value : object
        A cell value.

    Returns
    -------
    int
    """
    if value is None:
        return 0
    text = value if isinstance(value, str) else (f"{value:,.2f}" if isinstance(value, float)
                                                 else str(value))
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _widths(columns: list[tuple[str, str, str]], sample: list[list[Any]]) -> list[float]:
    widths = []
    for i, (key, header, _) in enumerate(columns):
        if key in _WRAPPED:
            widths.append(float(_WRAPPED[key]))
            continue
        # a header wraps at its spaces; a value does not
        head = max((display_width(word) for word in header.split()), default=0)
        body = max((display_width(row[i]) for row in sample), default=0)
        widths.append(float(min(_MAX_WIDTH, max(head, body, 6) + 2)))
    return widths


def _set_up_printing(sheet: Any) -> None:
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = 9  # A4 (openpyxl Worksheet.PAPERSIZE_A4)
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0  # as many pages down as it takes
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:2"  # the group and header rows on every page
    sheet.print_options.gridLines = True
    sheet.page_margins.left = sheet.page_margins.right = 0.4
    sheet.page_margins.top = sheet.page_margins.bottom = 0.5


def write_xlsx(path: Path, store: TierStore, record: RatingRecord, lang: str,
               columns: list[tuple[str, str, str]], keep: set[str] | None = None) -> None:
    """Write a rating's export as a workbook: a sheet of grades and an About sheet.

    Parameters
    ----------
    path : pathlib.Path
        The file to write.
    store : TierStore
        The tier store.
    record : RatingRecord
        The rating's header.
    lang : str
        ``zh`` or ``en``.
    columns : list of tuple of str
        :func:`~customer_tiering.rating.exports.export_columns`.
    keep : set of str, optional
        Only these customers (default: all).
    """
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    try:
        _fill_and_save(book, path, store, record, lang, columns, keep)
    except BaseException:
        _discard(book)
        raise


def _discard(book: Any) -> None:
    """Close a failed write-only workbook's sheet streams and delete their temporary files now.

    Each sheet streams its rows into a temporary file through a generator (openpyxl's private
    ``_writer``). Left to the garbage collector after, say, a full disk, each would try to flush
    into that disk again and print a traceback as an "exception ignored"; the error that stopped
    the export is already on its way up, so what these fail with is of no further interest.
    """
    for sheet in book.worksheets:
        writer = getattr(sheet, "_writer", None)
        if writer is None:
            continue
        for step in (writer.close, writer.cleanup):
            with contextlib.suppress(Exception):
                step()


def _fill_and_save(book: Any, path: Path, store: TierStore, record: RatingRecord, lang: str,
                   columns: list[tuple[str, str, str]], keep: set[str] | None) -> None:
    """The body of :func:`write_xlsx`, on a write-only ``book`` it made."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from customer_tiering.i18n.catalogue import text as message
    from customer_tiering.rating.exports import about_rows, cells, export_frames, group_names

    sheet = book.create_sheet(message("sheet_grades", lang))
    sheet.freeze_panes = "B3"
    keys = [k for k, _, _ in columns]
    frames = export_frames(store, record, lang)

    def rows() -> Any:
        for frame in frames:
            if keep is not None:
                frame = frame[frame["customer_id"].isin(keep)]
            yield from cells(frame, keys)

    stream = rows()
    sample: list[list[Any]] = []
    for row in stream:
        sample.append(row)
        if len(sample) >= _SAMPLE_ROWS:
            break
    for i, width in enumerate(_widths(columns, sample), start=1):
        sheet.column_dimensions[get_column_letter(i)].width = width
    _set_up_printing(sheet)

    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")
    groups = group_names(lang)
    group_row, seen = [], set()
    for _, _, group in columns:
        cell = WriteOnlyCell(sheet, value=groups[group] if group not in seen else None)
        seen.add(group)
        cell.font, cell.fill = bold, fill
        group_row.append(cell)
    sheet.append(group_row)
    header_row = []
    for _, header, _ in columns:
        cell = WriteOnlyCell(sheet, value=header)
        cell.font, cell.alignment = bold, wrap
        header_row.append(cell)
    sheet.append(header_row)

    formats = {i: NUMBER_FORMATS.get(k, _POINTS_FORMAT if k.startswith("points.") else "")
               for i, k in enumerate(keys)}
    formats = {i: f for i, f in formats.items() if f}
    wrapped = {i for i, k in enumerate(keys) if k in _WRAPPED}

    def styled(row: list[Any]) -> list[Any]:
        out: list[Any] = list(row)
        for i, number_format in formats.items():
            if isinstance(out[i], int | float):
                cell = WriteOnlyCell(sheet, value=out[i])
                cell.number_format = number_format
                out[i] = cell
        for i in wrapped:
            if out[i] is not None:
                cell = WriteOnlyCell(sheet, value=out[i])
                cell.alignment = wrap
                out[i] = cell
        return out

    count = 0
    for row in sample:
        sheet.append(styled(row))
        count += 1
    for row in stream:
        sheet.append(styled(row))
        count += 1
    sheet.auto_filter.ref = f"A2:{get_column_letter(len(columns))}{count + 2}"

    about = book.create_sheet(message("sheet_about", lang))
    about_rows_ = about_rows(record, lang)
    about.column_dimensions["A"].width = max(12, *(display_width(n) + 2 for n, _ in about_rows_))
    about.column_dimensions["B"].width = 80
    about.page_setup.orientation = "portrait"
    about.sheet_properties.pageSetUpPr.fitToPage = True
    about.page_setup.fitToWidth = 1
    about.page_setup.fitToHeight = 0
    for name, value in about_rows_:
        label = WriteOnlyCell(about, value=name)
        label.font = bold
        text = WriteOnlyCell(about, value=value)
        text.alignment = wrap
        about.append([label, text])
    book.save(path)
