"""The hostile-input corpus: malformed CSV, XLSX, Parquet and mapping files through the real CLI.

Every case is built fresh in its own folder and run through ``tiering validate`` (or ``tiering
load``) in process with Typer's runner; a handful also run as a child process through the console
script. Each case asserts its exit code, that the output names the file and the row, column or
field where there is one, that no traceback reaches the user, and, wherever a report is printed,
that every file's ``read = loaded + rejected``. Files are small: the whole corpus runs in seconds.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import customer_tiering
from customer_tiering.cli import app
from tests.support.hostile_files import (
    GOOD,
    HEADER,
    ORDER_ROWS,
    Case,
    amount,
    both,
    orders,
    parquet,
    raw,
    text,
    with_mapping,
    xlsx,
    xlsx_bytes,
    xlsx_with_sheet_xml,
)

AS_OF = "2025-12-31"
ROW3 = (3, 2, 1)  # read, loaded, rejected: row 3 of four lines is the bad one
FILE_REFUSED = 2
CUSTOMERS = "customer_id,name,customer_type,loyalty,nps,first_contract_date"
CUSTOMER_OK = "C1,甲医院,医院,7,30,2020-01-01"
INTERACTIONS = "customer_id,interaction_type,opened_at,closed_at,score"
INTERACTION_OK = "C1,投诉,2024-03-01 09:00,2024-03-02 10:00,"


def bad_cell(name: str, build: object, column: str, rule: str, file: str = "o.csv") -> Case:
    """A case whose row 3 is rejected in ``column`` for ``rule``; the other rows load."""
    return Case(name, build, 0, (f"{file}, row 3, column {column}", rule), ROW3)  # type: ignore[arg-type]


def refused(name: str, build: object, *says: str) -> Case:
    """A case whose file is refused as a whole (exit 2, no report)."""
    return Case(name, build, FILE_REFUSED, says)  # type: ignore[arg-type]


def loads(name: str, build: object, read: int, *says: str) -> Case:
    """A case that holds already: every row loads."""
    return Case(name, build, 0, says, (read, read, 0))  # type: ignore[arg-type]


def customers(bad_row: str) -> object:
    return text("c.csv", [CUSTOMERS, CUSTOMER_OK, bad_row, "C2,乙药房,大药房,5,10,2021-05-01"])


def interactions(bad_row: str) -> object:
    return text("i.csv", [INTERACTIONS, INTERACTION_OK, bad_row,
                          "C2,visit,2024-03-04,,"])


NOT_A_DATE = "is not a date in a supported form"
NOT_A_NUMBER = "is not a number"
NOT_FINITE = "is not a finite number"
AMBIGUOUS = "is ambiguous: its comma is not a thousands separator"
CONTROL = "contains the control character"

CSV_VALUES = [
    bad_cell("amount text", amount("abc"), "amount", NOT_A_NUMBER),
    bad_cell("amount NaN", amount("NaN"), "amount", NOT_FINITE),
    bad_cell("amount Infinity", amount("Infinity"), "amount", NOT_FINITE),
    bad_cell("amount -inf", amount("-inf"), "amount", NOT_FINITE),
    bad_cell("amount 1e308", amount("1e308"), "amount", "is outside -1e+12..1e+12"),
    bad_cell("amount 400 digits", amount("9" * 400), "amount", NOT_FINITE),
    bad_cell("amount 1e13", amount("1e13"), "amount", "is outside"),
    bad_cell("amount decimal comma and dot", amount("1.234,50"), "amount", AMBIGUOUS),
    bad_cell("amount lone decimal comma", amount("1,5"), "amount", AMBIGUOUS),
    bad_cell("amount comma in a wrong group", amount("12,34,567"), "amount", AMBIGUOUS),
    bad_cell("amount hexadecimal", amount("0x1F"), "amount", NOT_A_NUMBER),
    bad_cell("amount two minus signs", amount("--5"), "amount", NOT_A_NUMBER),
    bad_cell("amount trailing minus", amount("5-"), "amount", NOT_A_NUMBER),
    bad_cell("amount empty", amount(""), "amount", "is empty but required"),
    bad_cell("amount white space", amount("   "), "amount", "is empty but required"),
    bad_cell("amount NUL", amount("1\x000"), "amount", NOT_A_NUMBER),
    bad_cell("quantity text", orders("C3,2024-03-07,5,几件", header=HEADER + ",quantity"),
             "quantity", NOT_A_NUMBER),
    bad_cell("date 30 February", orders("C3,2025-02-30,5"), "order_date", NOT_A_DATE),
    bad_cell("date month 13", orders("C3,2024-13-01,5"), "order_date", NOT_A_DATE),
    bad_cell("date month first or day first", orders("C3,03/05/2024,5"), "order_date",
             NOT_A_DATE),
    bad_cell("date 30 February in Chinese", orders("C3,2024年2月30日,5"), "order_date",
             NOT_A_DATE),
    bad_cell("date compact 30 February", orders("C3,20240230,5"), "order_date", NOT_A_DATE),
    bad_cell("date hour 25", orders("C3,2024-03-05 25:00,5"), "order_date", NOT_A_DATE),
    bad_cell("date far future", orders("C3,9999-12-31,5"), "order_date",
             "is outside the dates accepted"),
    bad_cell("date after as_of", orders("C3,2026-06-01,5"), "order_date",
             f"is after as_of {AS_OF}"),
    bad_cell("date far past", orders("C3,0001-01-01,5"), "order_date",
             "is outside the dates accepted"),
    bad_cell("date before 1900", orders("C3,1899-12-31,5"), "order_date",
             "is outside the dates accepted"),
    bad_cell("date empty", orders("C3,,5"), "order_date", "is empty but required"),
    bad_cell("id empty", orders(",2024-03-07,5"), "customer_id", "is empty but required"),
    bad_cell("id white space", orders("   ,2024-03-07,5"), "customer_id",
             "is empty but required"),
    bad_cell("id NUL byte", orders("C\x003,2024-03-07,5"), "customer_id", f"{CONTROL} U+0000"),
    bad_cell("id escape", orders("C\x1b3,2024-03-07,5"), "customer_id", f"{CONTROL} U+001B"),
    bad_cell("id DEL", orders("C\x7f3,2024-03-07,5"), "customer_id", f"{CONTROL} U+007F"),
    bad_cell("id zero-width space", orders("C\u200b3,2024-03-07,5"), "customer_id",
             f"{CONTROL} U+200B"),
    bad_cell("id BOM inside", orders("C\ufeff3,2024-03-07,5"), "customer_id",
             f"{CONTROL} U+FEFF"),
    bad_cell("repeated header line with a second BOM", orders("\ufeff" + HEADER), "customer_id",
             f"{CONTROL} U+FEFF"),
    bad_cell("repeated header line", orders(HEADER), "order_date", NOT_A_DATE),
    bad_cell("short row", orders("C3,2024-03-07"), "amount", "is empty but required"),
    bad_cell("Chinese headers, text amount", orders("C3,2024-03-07,五元",
                                                    header="客户编号,订单日期,金额"),
             "金额 (amount)", NOT_A_NUMBER),
    Case("exact duplicate line", orders(GOOD[0]), 0, ("o.csv, row 3: exact duplicate of row 2",),
         ROW3),
    bad_cell("loyalty above 10", customers("C3,丙,诊所,11,0,2020-01-01"), "loyalty",
             "is outside 0..10", "c.csv"),
    bad_cell("negative loyalty", customers("C3,丙,诊所,-1,0,2020-01-01"), "loyalty",
             "is outside 0..10", "c.csv"),
    bad_cell("nps 150", customers("C3,丙,诊所,5,150,2020-01-01"), "nps",
             "is outside -100..100", "c.csv"),
    bad_cell("contract date impossible", customers("C3,丙,诊所,5,0,2021-02-29"),
             "first_contract_date", NOT_A_DATE, "c.csv"),
    bad_cell("NUL in a name", customers("C3,丙\x00诊所,诊所,5,0,2020-01-01"), "name",
             f"{CONTROL} U+0000", "c.csv"),
    Case("duplicate customer id", customers("C1,丙,诊所,5,0,2020-01-01"), 0,
         ("c.csv, row 3, column customer_id", "duplicate customer_id, first at row 2"), ROW3),
    bad_cell("interaction type unknown", interactions("C1,phone,2024-03-01,,"),
             "interaction_type", "is not one of visit, complaint, survey", "i.csv"),
    bad_cell("closed before opened", interactions("C1,complaint,2024-03-05,2024-03-01,"),
             "closed_at", "is before opened_at", "i.csv"),
    bad_cell("opened at nonsense", interactions("C1,visit,yesterday,,"), "opened_at",
             "is not a date/time", "i.csv"),
    bad_cell("score 101", interactions("C1,survey,2024-03-01,,101"), "score",
             "is outside -100..100", "i.csv"),
]

CSV_FILES = [
    refused("empty file", raw("o.csv", b""), "o.csv: is empty"),
    refused("header only", text("o.csv", [HEADER]), "o.csv: has a header but no data rows"),
    refused("header and blank lines only", text("o.csv", [HEADER, "", ",,", " , , "]),
            "o.csv: has a header but no data rows"),
    refused("one column", text("o.csv", ["customer_id", "C1", "C2"]),
            "o.csv", "fit no input table", "a transactions file needs order_date, amount"),
    refused("pipe separated", text("o.csv", ["customer_id|order_date|amount", "C1|2024-03-05|1"]),
            "o.csv", "is the separator one of"),
    refused("a title line above the header", text("o.csv", ["订单导出 2024", HEADER, *GOOD]),
            "o.csv", "fit no input table"),
    refused("required column missing", text("o.csv", ["customer_id,order_date", "C1,2024-03-05"]),
            "o.csv", "fit no input table", "amount"),
    refused("amount named twice", text("o.csv", [HEADER + ",金额", "C1,2024-03-05,10,10"]),
            "o.csv, column amount", "is named by 2 headers"),
    refused("ragged row with an extra field", orders("C3,2024-03-07,5,extra"),
            "o.csv, row 3: is not a readable CSV", "has 4 fields where the header has 3"),
    refused("unbalanced quote", orders('C3,"2024-03-07,5'),
            "o.csv, row 3: is not a readable CSV", "never closed"),
    refused("UTF-8 then GBK lines", raw("o.csv", f"{HEADER},channel\nC1,2024-03-05,1,直销\n"
                                        .encode() + "C2,2024-03-05,1,分销\n".encode("gbk")),
            "o.csv, row 3: is not UTF-8", "mixes encodings"),
    refused("GBK then UTF-8 lines", raw("o.csv", f"{HEADER},channel\nC1,2024-03-05,1,直销\n"
                                        .encode("gbk") + "C2,2024-03-05,1,分销\n".encode()),
            "o.csv, row 3: is UTF-8, but the file is GBK", "mixes encodings"),
    refused("UTF-8 BOM then a GBK line", raw("o.csv", b"\xef\xbb\xbf" + f"{HEADER},channel\n"
                                             f"C1,2024-03-05,1,x\n".encode()
                                             + "C2,2024-03-05,1,分销\n".encode("gbk")),
            "o.csv, row 3: is not UTF-8", "mixes encodings"),
    refused("Latin-1 text", raw("o.csv", f"{HEADER},channel\nC1,2024-03-05,1,Café,\n"
                                .encode("latin-1")),
            "o.csv, row 2: is neither UTF-8 nor GBK"),
    refused("binary garbage", raw("o.csv", bytes(range(256)) * 4),
            "o.csv, row 2: is neither UTF-8"),
    refused("gzip named csv", raw("o.csv", b"\x1f\x8b\x08\x00" + bytes(40)),
            "o.csv: is gzip-compressed"),
    refused("workbook named csv", raw("o.csv", xlsx_bytes(ORDER_ROWS)), "o.csv: is a ZIP archive"),
    refused("PDF named csv", raw("o.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
            "o.csv: is a PDF document"),
    refused("UTF-16 BOM on garbage", raw("o.csv", b"\xff\xfe\x00\xd8a"),
            "o.csv: is neither UTF-8 nor GBK/GB18030 text, nor the UTF-16"),
    refused("unknown suffix", raw("o.json", b"{}"), "o.json: has an unknown type"),
    refused("a folder named csv", lambda d: (d / "x.csv").mkdir() or ["x.csv"],
            "x.csv: is a folder"),
    refused("missing file", lambda d: ["nope.csv"], "nope.csv: does not exist"),
    loads("CRLF line ends", text("o.csv", [HEADER, *GOOD], eol="\r\n"), 2),
    loads("CR line ends", text("o.csv", [HEADER, *GOOD], eol="\r"), 2),
    loads("UTF-8 BOM", text("o.csv", [HEADER, *GOOD], encoding="utf-8-sig"), 2),
    loads("UTF-16 LE with BOM", text("o.csv", [HEADER, *GOOD], encoding="utf-16"), 2),
    loads("UTF-16 BE with BOM", raw("o.csv", b"\xfe\xff" + "\n".join([HEADER, *GOOD, ""])
                                    .encode("utf-16-be")), 2),
    loads("GBK with Chinese headers", text("o.csv", ["客户编号,订单日期,金额", "甲,2024-03-05,1"],
                                           encoding="gbk"), 1),
    loads("semicolons", text("o.csv", [HEADER.replace(",", ";"), "C1;2024-03-05;1"]), 1),
    loads("tabs", text("o.tsv", [HEADER.replace(",", "\t"), "C1\t2024-03-05\t1"]), 1),
    loads("blank lines before the header", text("o.csv", ["", "", HEADER, *GOOD]), 2),
    loads("separator lines after the data", text("o.csv", [HEADER, *GOOD, ",,", ",,", ""]), 2),
    loads("padded cells", text("o.csv", [HEADER, " C1 , 2024-03-05 , 10 "]), 1),
    loads("a trailing separator on every data line", text("o.csv", [HEADER, *(
        f"{line}," for line in GOOD)]), 2),
    loads("two BOMs before the header", raw("o.csv", b"\xef\xbb\xbf\xef\xbb\xbf" + "\n".join(
        [HEADER, *GOOD, ""]).encode()), 2),
    refused("a value beyond the header", text("o.csv", [HEADER, f"{GOOD[0]},北京", GOOD[1]]),
            "o.csv, row 2: is not a readable CSV", "a value beyond the header's 3 columns"),
    loads("thousands, currency and brackets", text("o.csv", [
        HEADER, 'C1,2024-03-05,"1,234.50"', "C2,2024-03-05,¥12", "C3,2024-03-05,(50)",
        "C4,2024-03-05,１２３", "C5,2024-03-05,1.5E3"]), 5),
    loads("Excel serial date", text("o.csv", [HEADER, "C1,45356,1"]), 1),
    loads("very long id and name", text("c.csv", ["customer_id,name", f"{'C' * 50_000},"
                                                                     f"{'名' * 200_000}"]), 1),
    loads("quoted line break in a name", text("c.csv", ["customer_id,name", 'C1,"甲\n医院"']), 1),
    loads("unknown customer type", text("c.csv", ["customer_id,customer_type", "C1,兽医站"]), 1),
    loads("negative quantity (a return)", text("o.csv", [HEADER + ",quantity",
                                                         "C1,2024-03-05,-10,-2"]), 1),
    Case("unknown customers are kept and warned about",
         both(text("o.csv", [HEADER, "GHOST,2024-03-05,1"]),
              text("c.csv", ["customer_id,name", "C1,甲"])),
         0, ("warning", "GHOST", "has transactions but is not in the customers file"), None),
    Case("too many rejects: nothing written", amount("x"), FILE_REFUSED,
         ("o.csv, row 3, column amount", "more than 1.0% of rows rejected; nothing was written"),
         ROW3, options=()),
]

XLSX_FILES = [
    Case("stray cell at C1048576", xlsx("o.xlsx", ORDER_ROWS, {"C1048576": 5}), 0,
         ("o.xlsx, row 1048576, column customer_id", "is empty but required"), (3, 2, 1)),
    Case("stray cell at XFD1048576", xlsx("o.xlsx", ORDER_ROWS, {"XFD1048576": "x"}), 0,
         ("o.xlsx, row 1048576, column amount", "is empty but required"), (3, 2, 1)),
    Case("formula without a stored value", xlsx("o.xlsx", [*ORDER_ROWS, ["C3", "2024-03-07",
                                                                         "=2*3"]]), 0,
         ("o.xlsx, row 4, column amount", "'=2*3': cell C4 is a formula with no stored value",
          "open it in Excel or LibreOffice and save it"), (3, 2, 1)),
    Case("error value cell", xlsx("o.xlsx", [*ORDER_ROWS, ["C3", "2024-03-07", "#DIV/0!"]]), 0,
         ("o.xlsx, row 4, column amount", NOT_A_NUMBER), (3, 2, 1)),
    Case("boolean amount", xlsx("o.xlsx", [*ORDER_ROWS, ["C3", "2024-03-07", True]]), 0,
         ("o.xlsx, row 4, column amount", NOT_A_NUMBER), (3, 2, 1)),
    Case("huge amount", xlsx("o.xlsx", [*ORDER_ROWS, ["C3", "2024-03-07", 1e308]]), 0,
         ("o.xlsx, row 4, column amount", "is outside"), (3, 2, 1)),
    Case("sheet date far past", xlsx("o.xlsx", [*ORDER_ROWS, ["C3", "1000-01-01", 1]]), 0,
         ("o.xlsx, row 4, column order_date", "is outside the dates accepted"), (3, 2, 1)),
    Case("empty rows between the data", xlsx("o.xlsx", [*ORDER_ROWS, [], [None, None], ["C3"]]),
         0, ("o.xlsx, row 6, column order_date", "is empty but required"), (3, 2, 1)),
    refused("data on the second sheet", xlsx("o.xlsx", ORDER_ROWS, sheets=["Cover"]),
            "o.xlsx: its first sheet 'Cover' is empty"),
    refused("a title above the header", xlsx("o.xlsx", [["2024 订单"], [], *ORDER_ROWS]),
            "o.xlsx", "fit no input table"),
    refused("empty workbook", xlsx("o.xlsx", []), "o.xlsx: its first sheet 'Sheet' is empty"),
    refused("header only workbook", xlsx("o.xlsx", ORDER_ROWS[:1]),
            "o.xlsx: has a header but no data rows"),
    refused("text named xlsx", raw("o.xlsx", b"customer_id,order_date\n"),
            "o.xlsx: is not a readable XLSX workbook"),
    refused("zip without a workbook", lambda d: _zip(d / "o.xlsx"),
            "o.xlsx: is not a readable XLSX workbook"),
    refused("truncated workbook", lambda d: (d / "o.xlsx").write_bytes(
        xlsx_bytes(ORDER_ROWS)[:3000]) and ["o.xlsx"], "o.xlsx: is not a readable XLSX workbook"),
    refused("sheet XML cut short", xlsx_with_sheet_xml("o.xlsx", lambda x: x[:x.rindex("<row")]),
            "o.xlsx: is not a readable XLSX workbook"),
    refused("sheet XML not XML", xlsx_with_sheet_xml("o.xlsx", lambda x: "<<<" + x),
            "o.xlsx: is not a readable XLSX workbook"),
    loads("sheet stating a huge dimension", xlsx_with_sheet_xml(
        "o.xlsx", lambda x: re.sub(r'<dimension ref="[^"]*"', '<dimension ref="A1:XFD1048576"',
                                   x)), 2),
    loads("numeric ids and real dates", xlsx("o.xlsx", [
        ["客户编号", "订单日期", "金额"], [1001, pd.Timestamp("2024-03-05").to_pydatetime(), 1],
        [1002, 45356, 2]]), 2),
]

PARQUET_FILES = [
    Case("text amount with a decimal comma", parquet("o.parquet", pd.DataFrame({
        "customer_id": ["C1", "C2"], "order_date": ["2024-03-05"] * 2, "amount": ["1", "1,5"]})),
        0, ("o.parquet, row 2, column amount", AMBIGUOUS), (2, 1, 1)),
    Case("infinite float amount", parquet("o.parquet", pd.DataFrame({
        "customer_id": ["C1", "C2"], "order_date": pd.to_datetime(["2024-03-05"] * 2),
        "amount": [1.0, math.inf]})), 0, ("o.parquet, row 2, column amount", NOT_FINITE),
        (2, 1, 1)),
    Case("NaN amount", parquet("o.parquet", pd.DataFrame({
        "customer_id": ["C1", "C2"], "order_date": ["2024-03-05"] * 2, "amount": [1.0, math.nan]})),
        0, ("o.parquet, row 2, column amount", "is empty but required"), (2, 1, 1)),
    Case("NUL in an id", parquet("o.parquet", pd.DataFrame({
        "customer_id": ["C1", "C\x002"], "order_date": ["2024-03-05"] * 2, "amount": [1, 2]})),
        0, ("o.parquet, row 2, column customer_id", f"{CONTROL} U+0000"), (2, 1, 1)),
    refused("no rows", parquet("o.parquet", pd.DataFrame({
        "customer_id": pd.Series([], dtype=str), "order_date": pd.Series([], dtype=str),
        "amount": pd.Series([], dtype=float)})), "o.parquet: has a header but no data rows"),
    refused("column missing", parquet("o.parquet", pd.DataFrame({"customer_id": ["C1"],
                                                                 "amount": [1.0]})),
            "o.parquet", "fit no input table"),
    refused("truncated", lambda d: _truncated_parquet(d / "o.parquet"),
            "o.parquet: is not a readable Parquet file"),
]

ORDERS = text("o.csv", [HEADER, *GOOD])
MAPPINGS = [
    loads("decimal comma declared", with_mapping('version: 1\ndecimal: ","\n', text(
        "o.csv", ["customer_id;order_date;amount", "C1;2024-03-05;1.234,50"])), 1),
    Case("dot decimal under a declared comma", with_mapping('version: 1\ndecimal: ","\n', text(
        "o.csv", ["customer_id;order_date;amount", "C1;2024-03-05;1", "C2;2024-03-05;1.5"])), 0,
        ("o.csv, row 3, column amount", "is not a number with a decimal comma"), (2, 1, 1)),
    loads("headers in German", with_mapping(
        "version: 1\ntransactions:\n  Kunde: customer_id\n  Datum: order_date\n  Umsatz: amount\n",
        text("o.csv", ["Kunde,Datum,Umsatz", "C1,05.03.2024,7"])), 1),
    refused("decimal neither dot nor comma", with_mapping('version: 1\ndecimal: ";"\n', ORDERS),
            "m.yaml: decimal:"),
    refused("target not a column", with_mapping("version: 1\ntransactions:\n  Kunde: client\n",
                                                ORDERS), "m.yaml: transactions", "'client'"),
    refused("unknown key", with_mapping("version: 1\nlocale: de_DE\n", ORDERS), "m.yaml: locale"),
    refused("no version", with_mapping("transactions: {}\n", ORDERS), "m.yaml: version"),
    refused("empty mapping", with_mapping("", ORDERS), "m.yaml: version"),
    refused("a list, not a mapping", with_mapping("- a\n- b\n", ORDERS), "m.yaml"),
    refused("invalid YAML", with_mapping("version: 1\ntransactions: {Kunde: [\n", ORDERS),
            "m.yaml, line", "is not valid YAML"),
    refused("binary mapping", with_mapping(b"\x00\x01\xff\xfe", ORDERS),
            "m.yaml: (file): cannot be read"),
    refused("missing mapping", lambda d: [*ORDERS(d), "--mapping", "none.yaml"],
            "none.yaml: (file): cannot be read"),
]

LOADS = [
    Case("load: header-only file keeps nothing", text("o.csv", [HEADER]), FILE_REFUSED,
         ("o.csv: has a header but no data rows",), command="load", options=()),
    Case("load: mixed encodings", raw("o.csv", f"{HEADER},channel\nC1,2024-03-05,1,直销\n"
                                      .encode() + "C2,2024-03-05,1,分销\n".encode("gbk")),
         FILE_REFUSED, ("o.csv, row 3: is not UTF-8",), command="load", options=()),
    Case("load: every row rejected", text("o.csv", [HEADER, "C1,x,1"]), FILE_REFUSED,
         ("o.csv: no row passed validation", "nothing was written"), command="load",
         options=("--max-reject-share", "1")),
    Case("load: a bad row within the share", amount("x"), 0,
         ("o.csv, row 3, column amount", NOT_A_NUMBER), ROW3, command="load",
         options=("--max-reject-share", "0.5")),
    Case("load: stray sheet cell", xlsx("o.xlsx", ORDER_ROWS, {"C1048576": 5}), 0,
         ("o.xlsx, row 1048576",), (3, 2, 1), command="load", options=("--max-reject-share", "1")),
]

CASES = [*CSV_VALUES, *CSV_FILES, *XLSX_FILES, *PARQUET_FILES, *MAPPINGS, *LOADS]
REPORT = re.compile(r"(\S+): read ([\d,]+) = loaded ([\d,]+) \+ rejected ([\d,]+)")


def _zip(path: Path) -> list[str]:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    return [path.name]


def _truncated_parquet(path: Path) -> list[str]:
    pd.DataFrame({"customer_id": ["C1"] * 50, "order_date": ["2024-03-05"] * 50,
                  "amount": range(50)}).to_parquet(path)
    path.write_bytes(path.read_bytes()[:-40])
    return [path.name]


def _arguments(case: Case, folder: Path) -> list[str]:
    files = case.build(folder)
    if case.command == "load":
        return ["load", "--transactions", *files, "--out", "clean", "--as-of", AS_OF,
                *case.options]
    return ["validate", *files, "--as-of", AS_OF, "--rejects", "rejects", *case.options]


def _check(case: Case, code: int, output: str) -> None:
    flat = " ".join(output.split())
    assert "Traceback" not in output, output
    assert code == case.code, output
    for fragment in case.says:
        assert fragment in flat, f"{fragment!r} not in:\n{output}"
    reports = REPORT.findall(flat)
    for _, read, loaded, rejected in reports:
        assert int(read.replace(",", "")) == int(loaded.replace(",", "")) + int(
            rejected.replace(",", ""))
    if case.counts is not None:
        assert reports, output
        assert tuple(int(n.replace(",", "")) for n in reports[0][1:]) == case.counts, output


def test_the_corpus_holds_at_least_eighty_cases_with_distinct_names() -> None:
    names = [c.name for c in CASES]
    assert len(names) >= 80 and len(set(names)) == len(names)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_malformed_input_gets_its_exit_code_and_a_message_naming_where(
        case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, _arguments(case, tmp_path))
    _check(case, result.exit_code, result.output)
    if case.command == "load" and case.code != 0:
        assert not (tmp_path / "clean").exists()


SUBPROCESS_CASES = ["UTF-8 then GBK lines", "stray cell at XFD1048576",
                    "amount decimal comma and dot", "header only", "binary mapping"]


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_the_console_script_answers_the_same_in_a_child_process(name: str,
                                                                tmp_path: Path) -> None:
    [case] = [c for c in CASES if c.name == name]
    src = str(Path(customer_tiering.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (src, os.environ.get("PYTHONPATH")) if p), "COLUMNS": "200"}
    tiering = Path(sys.executable).with_name("tiering")
    child = subprocess.run([str(tiering), *_arguments(case, tmp_path)], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=300)
    _check(case, child.returncode, child.stdout + child.stderr)
