"""Values that used to load wrong, and files that used to pass while useless (issue 18): decimal
commas, files mixing encodings, control characters in ids and text, header-only and one-column
files. Each is refused naming the file, and the row and column where there is one."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.errors import InputError
from customer_tiering.ingest.contract import CUSTOMERS, TRANSACTIONS
from customer_tiering.ingest.headers import ColumnMapping
from customer_tiering.ingest.loading import read_table, validate_sources

HEADER = "customer_id,order_date,amount"


def _csv(path: Path, *lines: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def _mapping(tmp_path: Path, decimal: str) -> ColumnMapping:
    path = tmp_path / "mapping.yaml"
    path.write_text(f'version: 1\ndecimal: "{decimal}"\n', encoding="utf-8")
    return ColumnMapping.from_yaml(path)


@pytest.mark.parametrize("amount", ["1.234,50", "1,5", "-1.234.567,8", "1,23"])
def test_a_decimal_comma_is_refused_as_ambiguous_not_read_as_another_number(
        tmp_path: Path, amount: str) -> None:
    path = _csv(tmp_path / "o.csv", HEADER, "C1,2024-03-05,10", f'C2,2024-03-05,"{amount}"')
    result = read_table(path, TRANSACTIONS)
    assert result.frame["amount"].tolist() == [10.0]
    (problem,) = result.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        str(path), 3, "amount", amount)
    assert problem.rule.startswith("is ambiguous") and 'decimal: ","' in problem.rule


@pytest.mark.parametrize(("amount", "value"), [
    ("1,234.50", 1234.5), ("1,234", 1234.0), ("-12,345,678.9", -12345678.9), ("¥1,234", 1234.0),
    ("1234.5", 1234.5), ("(1,000)", -1000.0)])
def test_thousands_commas_in_the_dot_decimal_form_still_load(tmp_path: Path, amount: str,
                                                              value: float) -> None:
    path = _csv(tmp_path / "o.csv", HEADER, f'C1,2024-03-05,"{amount}"')
    assert read_table(path, TRANSACTIONS).frame["amount"].tolist() == [value]


@pytest.mark.parametrize(("amount", "value"), [
    ("1.234,50", 1234.5), ("1,5", 1.5), ("1.234", 1234.0), ("-1.234.567,8", -1234567.8),
    ("1 234,50", 1234.5), ("12", 12.0)])
def test_a_declared_decimal_comma_reads_numbers_in_that_form(tmp_path: Path, amount: str,
                                                             value: float) -> None:
    path = _csv(tmp_path / "o.csv", "customer_id;order_date;amount", f"C1;2024-03-05;{amount}")
    result = read_table(path, TRANSACTIONS, mapping=_mapping(tmp_path, ","))
    assert result.problems == []
    assert result.frame["amount"].tolist() == pytest.approx([value])


@pytest.mark.parametrize("amount", ["1,234.50", "1.5", "1,2,3"])
def test_with_a_declared_decimal_comma_a_dot_decimal_number_is_refused(tmp_path: Path,
                                                                         amount: str) -> None:
    path = _csv(tmp_path / "o.csv", "customer_id;order_date;amount", f"C1;2024-03-05;{amount}")
    result = read_table(path, TRANSACTIONS, mapping=_mapping(tmp_path, ","))
    assert [(p.row, p.column) for p in result.problems] == [(2, "amount")]


def test_a_declared_decimal_comma_leaves_typed_xlsx_numbers_alone(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    book.active.append(["customer_id", "order_date", "amount"])
    book.active.append(["C1", "2024-03-05", 1234.5])
    book.active.append(["C2", "2024-03-05", "1.234,5"])
    book.save(tmp_path / "o.xlsx")
    result = read_table(tmp_path / "o.xlsx", TRANSACTIONS, mapping=_mapping(tmp_path, ","))
    assert result.frame["amount"].tolist() == [1234.5, 1234.5]


def test_the_decimal_option_is_validated_naming_the_mapping_file(tmp_path: Path) -> None:
    from customer_tiering.core.errors import ConfigError

    path = tmp_path / "mapping.yaml"
    path.write_text('version: 1\ndecimal: ";"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mapping.yaml: decimal: "):
        ColumnMapping.from_yaml(path)


def test_validate_with_a_decimal_comma_mapping_through_the_cli(tmp_path: Path) -> None:
    path = _csv(tmp_path / "o.csv", "customer_id;order_date;amount", "C1;2024-03-05;1.234,50")
    mapping = tmp_path / "m.yaml"
    mapping.write_text('version: 1\ndecimal: ","\n', encoding="utf-8")
    plain = CliRunner().invoke(app, ["validate", str(path), "--rejects", str(tmp_path / "r")])
    assert plain.exit_code == 2 and "is ambiguous" in plain.output
    declared = CliRunner().invoke(app, ["validate", str(path), "--mapping", str(mapping),
                                        "--rejects", str(tmp_path / "r")])
    assert declared.exit_code == 0, declared.output
    assert "read 1 = loaded 1 + rejected 0" in declared.output


NAMES = ["甲医院", "乙药房", "丙诊所", "丁连锁药店"]


def _names_file(path: Path, encodings: list[str]) -> Path:
    lines = [b"customer_id,name"]
    lines += [f"C{i},{name}".encode(enc) for i, (name, enc) in enumerate(zip(NAMES, encodings,
                                                                            strict=True))]
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize(("encodings", "row", "says"), [
    (["utf-8", "utf-8", "gbk", "gbk"], 4, "is not UTF-8, the encoding of the file from row 2 on"),
    (["gbk", "utf-8", "gbk", "gbk"], 3, "is UTF-8, but the file is GBK/GB18030 from row 2 on"),
])
def test_a_file_mixing_utf8_and_gbk_lines_is_refused_naming_the_first_line_that_differs(
        tmp_path: Path, encodings: list[str], row: int, says: str) -> None:
    path = _names_file(tmp_path / "c.csv", encodings)
    with pytest.raises(InputError) as err:
        read_table(path, CUSTOMERS)
    (problem,) = err.value.problems
    assert (problem.file, problem.row) == (str(path), row)
    assert says in problem.rule and "mixes encodings" in problem.rule


def test_a_utf8_bom_file_with_a_gbk_line_is_mixed(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_bytes(b"\xef\xbb\xbfcustomer_id,name\nC1,ok\n" + "C2,乙药房\n".encode("gbk"))
    with pytest.raises(InputError, match="row 3: is not UTF-8, the encoding of the file from "
                                         "row 1 on"):
        read_table(path, CUSTOMERS)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_a_file_in_one_encoding_loads_every_name_intact(tmp_path: Path, encoding: str) -> None:
    lines = ["customer_id,name", *(f"C{i},{name}" for i, name in enumerate(NAMES))]
    path = tmp_path / "c.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))  # one BOM, if any
    result = read_table(path, CUSTOMERS)
    assert result.frame["name"].tolist() == NAMES


@pytest.mark.parametrize(("cell", "column", "code"), [
    ("C\x001", "customer_id", "U+0000"), ("C1\u200b", "customer_id", "U+200B"),
    ("C\ufeff1", "customer_id", "U+FEFF"), ("C\x1b1", "customer_id", "U+001B")])
def test_a_control_or_invisible_character_in_an_id_is_refused_naming_row_and_column(
        tmp_path: Path, cell: str, column: str, code: str) -> None:
    path = _csv(tmp_path / "o.csv", HEADER, f"{cell},2024-03-05,10", "C2,2024-03-05,10")
    result = read_table(path, TRANSACTIONS)
    (problem,) = result.problems
    assert (problem.row, problem.column, problem.value) == (2, column, cell)
    assert f"contains the control character {code}" in problem.rule
    assert result.frame["customer_id"].tolist() == ["C2"]


def test_a_nul_in_a_name_is_refused_but_a_line_break_in_a_quoted_name_is_text(
        tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", "customer_id,name", "C1,甲\x00医院", 'C2,"乙\n药房"',
                "C3,丙\t诊所")
    result = read_table(path, CUSTOMERS)
    assert [(p.row, p.column) for p in result.problems] == [(2, "name")]
    assert result.frame["name"].tolist() == ["乙\n药房", "丙\t诊所"]


def test_a_header_only_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = _csv(tmp_path / "o.csv", HEADER, ",,", "  ,, ")
    with pytest.raises(InputError, match=r"o\.csv: has a header but no data rows"):
        read_table(path, TRANSACTIONS)
    result = CliRunner().invoke(app, ["load", "--transactions", str(path),
                                      "--out", str(tmp_path / "clean")])
    assert result.exit_code == 2 and "no data rows" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "clean").exists()


@pytest.mark.parametrize("header", ["customer_id", "客户编号", "customer_id|order_date|amount",
                                    "amount"])
def test_a_one_column_file_does_not_pass_validate(tmp_path: Path, header: str) -> None:
    path = _csv(tmp_path / "one.csv", header, "C1", "C2")
    with pytest.raises(InputError, match="fit no input table") as err:
        validate_sources([path])
    rule = err.value.problems[0].rule
    assert "a transactions file needs" in rule and "order_date" in rule
    assert "is the separator one of" in rule
    result = CliRunner().invoke(app, ["validate", str(path), "--rejects", str(tmp_path / "r")])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_a_customers_file_with_an_id_and_a_name_is_still_told_apart(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", "客户编号,客户名称", "C1,甲医院")
    [result] = validate_sources([path])
    assert result.table == "customers" and result.loaded == 1


def test_blank_lines_keep_the_row_numbers_of_the_lines_after_them(tmp_path: Path) -> None:
    path = _csv(tmp_path / "o.csv", "", HEADER, "C1,2024-03-05,10", "", ",,",
                "C2,2024-03-05,x")
    result = read_table(path, TRANSACTIONS)
    assert (result.read, result.rejected) == (2, 1)
    assert [(p.row, p.column) for p in result.problems] == [(6, "amount")]  # the 6th line
    assert isinstance(result.frame, pd.DataFrame)


def test_a_trailing_separator_on_every_data_line_keeps_each_value_in_its_column(
        tmp_path: Path) -> None:
    """pandas took such a first column as the row index and moved every value one column left
    (the customer id became the name)."""
    path = _csv(tmp_path / "c.csv", "customer_id,name", "C1,甲医院,", "C2,乙药房,")
    result = read_table(path, CUSTOMERS)
    assert result.frame[["customer_id", "name"]].values.tolist() == [["C1", "甲医院"],
                                                                    ["C2", "乙药房"]]


def test_a_value_beyond_the_header_is_refused_naming_its_line(tmp_path: Path) -> None:
    path = _csv(tmp_path / "c.csv", "customer_id,name", "C1,甲医院,北京", "C2,乙药房,")
    with pytest.raises(InputError, match=r"c\.csv, row 2: .*a value beyond the header's 2 "):
        read_table(path, CUSTOMERS)


def test_two_byte_order_marks_before_the_header_do_not_hide_it(tmp_path: Path) -> None:
    path = tmp_path / "o.csv"
    path.write_bytes(b"\xef\xbb\xbf\xef\xbb\xbf" + f"{HEADER}\nC1,2024-03-05,1\n".encode())
    assert read_table(path, TRANSACTIONS).loaded == 1


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31"])
def test_a_date_no_spreadsheet_could_mean_is_refused(tmp_path: Path, day: str) -> None:
    path = _csv(tmp_path / "o.csv", HEADER, "C1,2024-03-05,1", f"C2,{day},1")
    (problem,) = read_table(path, TRANSACTIONS).problems
    assert (problem.row, problem.column) == (3, "order_date")
    assert problem.rule == "is outside the dates accepted (1900-01-01 to 2199-12-31)"


@pytest.mark.parametrize(("head", "says"), [
    (b"\x1f\x8b\x08\x00", "is gzip-compressed"), (b"PK\x03\x04", "is a ZIP archive"),
    (b"PAR1", "is a Parquet file"), (b"\xd0\xcf\x11\xe0", "is an old Excel (.xls)")])
def test_a_file_named_csv_that_is_not_text_is_named_for_what_it_is(tmp_path: Path, head: bytes,
                                                                   says: str) -> None:
    path = tmp_path / "o.csv"
    path.write_bytes(head + bytes(range(256)))
    with pytest.raises(InputError, match=f"o\\.csv: {re.escape(says)}"):
        read_table(path, TRANSACTIONS)
