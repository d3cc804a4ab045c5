"""A property-based fuzzer over the CSV and XLSX readers: whatever the bytes or cells, a file
either loads with ``read = loaded + rejected`` (every rejected row with a problem naming its row),
or is refused with an :class:`InputError` naming it. Never another exception.

The number of examples is bounded and the examples are fixed (derandomised), so the fuzzer runs
in seconds and the same way every time; ``HYPOTHESIS_PROFILE=fuzz`` in the environment makes it
a random hunt of 1,000 examples per property.
"""

from __future__ import annotations

import io
import os
import tempfile
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from customer_tiering.core.errors import InputError
from customer_tiering.ingest.headers import ColumnMapping
from customer_tiering.ingest.loading import read_table
from tests.support.hostile_files import ORDER_ROWS, xlsx_bytes

HUNT = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz"
FUZZ = settings(max_examples=1_000 if HUNT else 60, deadline=None, derandomize=not HUNT,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

HEADERS = ["customer_id", "order_date", "amount", "quantity", "name", "loyalty", "金额",
           "客户编号", "订单日期", "interaction_type", "opened_at", "closed_at", "", "x"]
CELL_TEXT = st.text(alphabet=st.sampled_from(list(
    "0123456789.,;-+eE ()¥$'\"\t\n\r\x00\x1b\u200b\ufeffabcCxyz年月日甲乙医院/:１２")),
    max_size=12)
CELLS = st.one_of(CELL_TEXT, st.sampled_from(["", "NaN", "inf", "2024-03-05", "2025-02-30",
                                              "1,234.50", "1.234,50", "45356", "C1", "投诉"]))


def _check(path: Path, mapping: ColumnMapping | None = None, chunk_rows: int = 1_000) -> None:
    try:
        result = read_table(path, mapping=mapping, chunk_rows=chunk_rows)
    except InputError as exc:
        assert exc.problems and all(p.file == str(path) for p in exc.problems), str(exc)
        return
    assert result.read == result.loaded + result.rejected
    assert result.read > 0
    assert len(result.rejects) == result.rejected == len({p.row for p in result.problems})
    assert all(p.file == str(path) and p.row is not None for p in result.problems)


def _csv_text(header: list[str], rows: list[list[str]], sep: str) -> str:
    def cell(v: str) -> str:
        return '"' + v.replace('"', '""') + '"' if any(c in v for c in f'{sep}"\n\r') else v

    return "".join(sep.join(cell(v) for v in line) + "\n" for line in [header, *rows])


@FUZZ
@given(data=st.binary(max_size=600))
@example(data=b"customer_id,order_date,amount\n\xff\xfe\x00")
@example(data=b"\xef\xbb\xbf\xef\xbb\xbfcustomer_id,order_date,amount\nC1,2024-03-05,1\n")
def test_random_bytes_named_csv_load_or_are_refused_cleanly(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_bytes(data)
        _check(path)


@FUZZ
@given(header=st.lists(st.sampled_from(HEADERS), min_size=1, max_size=6),
       rows=st.lists(st.lists(CELLS, max_size=7), max_size=8),
       sep=st.sampled_from([",", ";", "\t"]),
       encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
       decimal=st.sampled_from([".", ","]), chunk_rows=st.integers(1, 4))
def test_random_tables_written_as_csv_load_or_are_refused_cleanly(
        header: list[str], rows: list[list[str]], sep: str, encoding: str, decimal: str,
        chunk_rows: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_bytes(_csv_text(header, rows, sep).encode(encoding, errors="replace"))
        _check(path, ColumnMapping(version=1, decimal=decimal),  # type: ignore[arg-type]
               chunk_rows)


XLSX_VALUES = st.one_of(
    st.none(), st.integers(-10**15, 10**15), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(2100, 1, 1)),
    st.text(alphabet=st.sampled_from(list("0123456789.,- abcC甲医院年月日=+*()")), max_size=10),
    st.sampled_from(["=1+1", "=SUM(A1:A2)", "#DIV/0!", "2024-03-05", "1,5", "C1"]))
FAR = st.sampled_from(["C1048576", "XFD1048576", "XFD1", "A1048576", "D40", "Z7"])


@FUZZ
@given(header=st.lists(st.one_of(st.sampled_from(HEADERS), st.none()), min_size=1, max_size=6),
       rows=st.lists(st.lists(XLSX_VALUES, max_size=7), max_size=8),
       far=st.dictionaries(FAR, XLSX_VALUES, max_size=2), chunk_rows=st.integers(1, 4))
@example(header=["customer_id", "order_date", "amount"], rows=[["C1", "2024-03-05", 1]],
         far={"XFD1048576": "x"}, chunk_rows=2)
def test_random_cells_written_as_xlsx_load_or_are_refused_cleanly(
        header: list[str | None], rows: list[list[object]], far: dict[str, object],
        chunk_rows: int) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in [header, *rows]:
        sheet.append(row)
    for ref, value in far.items():
        sheet[ref] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.xlsx"
        book.save(path)
        _check(path, chunk_rows=chunk_rows)


VALID_XLSX = xlsx_bytes([*ORDER_ROWS, ["C3", "2024-03-07", "=2*3"]])


@FUZZ
@given(edits=st.lists(st.tuples(st.integers(0, len(VALID_XLSX) - 1), st.integers(0, 255)),
                      min_size=1, max_size=6),
       cut=st.one_of(st.none(), st.integers(0, len(VALID_XLSX))))
def test_a_workbook_with_flipped_bytes_loads_or_is_refused_cleanly(
        edits: list[tuple[int, int]], cut: int | None) -> None:
    data = bytearray(VALID_XLSX)
    for at, value in edits:
        data[at] = value
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.xlsx"
        path.write_bytes(bytes(data[:cut]))
        _check(path)


@pytest.mark.parametrize("member", ["xl/worksheets/sheet1.xml", "xl/workbook.xml",
                                    "xl/sharedStrings.xml", "[Content_Types].xml",
                                    "xl/styles.xml"])
@FUZZ
@given(junk=st.binary(max_size=200))
def test_a_workbook_part_replaced_by_junk_loads_or_is_refused_cleanly(member: str,
                                                                      junk: bytes) -> None:
    source = zipfile.ZipFile(io.BytesIO(VALID_XLSX))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.xlsx"
        with zipfile.ZipFile(path, "w") as target:
            for item in source.namelist():
                target.writestr(item, junk if item == member else source.read(item))
        _check(path)
