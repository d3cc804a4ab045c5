"""XLSX sheets are read by the rows they hold, not their stated size; formulas without a stored
value are named as such (issue 18)."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import zipfile
from pathlib import Path

import openpyxl
import pytest

from customer_tiering.core.errors import InputError
from customer_tiering.ingest.contract import TRANSACTIONS
from customer_tiering.ingest.loading import read_table

HEADER = ["customer_id", "order_date", "amount"]


def _book(path: Path, rows: list[list[object]], extra: dict[str, object] | None = None) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    for cell, value in (extra or {}).items():
        sheet[cell] = value
    book.save(path)
    return path


def _fifty_rows() -> list[list[object]]:
    return [[f"C{i}", "2024-03-05", i + 1] for i in range(50)]


def test_a_stray_cell_far_below_is_one_row_not_a_million_empty_ones(tmp_path: Path) -> None:
    path = _book(tmp_path / "stray.xlsx", _fifty_rows(), {"C1048576": 5})
    result = read_table(path, TRANSACTIONS)
    assert (result.read, result.loaded, result.rejected) == (51, 50, 1)
    assert {(p.row, p.column) for p in result.problems} == {
        (1048576, "customer_id"), (1048576, "order_date")}


def test_a_stray_cell_at_the_last_cell_of_a_sheet_is_read_in_bounded_memory(
        tmp_path: Path) -> None:
    """The stated size is 1,048,576 x 16,384 cells; reading it as that rectangle needs 12 GB.
    The child process gets 1 GB of address space: enough for the real rows, far too little for
    the rectangle (it then dies with MemoryError)."""
    path = _book(tmp_path / "xfd.xlsx", _fifty_rows(), {"XFD1048576": "x"})
    with zipfile.ZipFile(path) as archive:
        assert b'ref="A1:XFD1048576"' in archive.read("xl/worksheets/sheet1.xml")
    code = ("import sys; from customer_tiering.ingest.loading import read_table; "
            "r = read_table(sys.argv[1]); print(r.read, r.loaded, r.rejected)")
    limit = 1 << 30

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    child = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                           text=True, preexec_fn=cap, timeout=600)
    assert child.returncode == 0, child.stderr[-2000:]
    assert child.stdout.split() == ["51", "50", "1"]


def test_empty_rows_between_and_after_the_data_are_not_rows_and_keep_the_sheet_numbers(
        tmp_path: Path) -> None:
    path = _book(tmp_path / "gaps.xlsx", [["C1", "2024-03-05", 1], [None, None, None],
                                          ["  ", None, ""], ["C2", "2024-03-05", "x"]],
                 {"A9": None, "C12": " "})
    result = read_table(path, TRANSACTIONS)
    assert (result.read, result.loaded, result.rejected) == (2, 1, 1)
    assert [(p.row, p.column) for p in result.problems] == [(5, "amount")]


def test_a_formula_without_a_stored_value_is_reported_as_a_formula_not_as_empty(
        tmp_path: Path) -> None:
    path = _book(tmp_path / "formula.xlsx", [["C1", "2024-03-05", "=2*3"],
                                             ["C2", "2024-03-05", 7]])
    result = read_table(path, TRANSACTIONS)
    assert (result.read, result.loaded, result.rejected) == (2, 1, 1)
    (problem,) = result.problems
    assert (problem.row, problem.column, problem.value) == (2, "amount", "=2*3")
    assert "cell C2 is a formula with no stored value" in problem.rule
    assert "open it in Excel or LibreOffice and save it" in problem.rule
    assert "empty" not in problem.rule


def test_a_formula_with_a_stored_value_loads_its_value(tmp_path: Path) -> None:
    path = _book(tmp_path / "computed.xlsx", [["C1", "2024-03-05", "=2*3"]])
    # what Excel writes on saving: the formula and its last computed value
    with zipfile.ZipFile(path) as archive:
        parts = {name: archive.read(name) for name in archive.namelist()}
    xml = parts["xl/worksheets/sheet1.xml"].decode()
    xml, count = re.subn(r"<f>2\*3</f>(<v\s*/>|<v></v>)?", "<f>2*3</f><v>6</v>", xml)
    assert count == 1
    parts["xl/worksheets/sheet1.xml"] = xml.encode()
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    result = read_table(path, TRANSACTIONS)
    assert result.rejected == 0
    assert result.frame["amount"].tolist() == [6.0]


def test_an_empty_first_sheet_is_named_instead_of_a_missing_column_list(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.title = "Cover"
    data = book.create_sheet("Orders")
    data.append(HEADER)
    data.append(["C1", "2024-03-05", 1])
    book.save(tmp_path / "two.xlsx")
    with pytest.raises(InputError, match="its first sheet 'Cover' is empty"):
        read_table(tmp_path / "two.xlsx", TRANSACTIONS)


def test_a_large_sheet_is_read_in_blocks_with_sheet_row_numbers(tmp_path: Path) -> None:
    from customer_tiering.ingest.loading import iter_table

    rows: list[list[object]] = [[f"C{i}", "2024-03-05", i] for i in range(7)]
    rows[5][2] = "bad"
    path = _book(tmp_path / "blocks.xlsx", rows)
    blocks = list(iter_table(path, TRANSACTIONS, chunk_rows=3))
    assert [b.read for b in blocks] == [3, 3, 1]
    assert [p.row for b in blocks for p in b.problems] == [7]
