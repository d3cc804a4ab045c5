from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.errors import ConfigError, InputError, TooManyRejectsError
from customer_tiering.ingest.contract import CUSTOMERS, INTERACTIONS, TRANSACTIONS
from customer_tiering.ingest.loading import (
    ColumnMapping,
    load_dataset,
    read_table,
    validate_sources,
    write_dataset,
)

GOOD_ROWS = [
    ("1001", "2024-03-05", "1,234.50", "3"),
    ("1002", "2024年3月6日", "200", "1"),
    ("1003", "2024/3/7", "-50", ""),
]
EXPECTED = pd.DataFrame({
    "customer_id": ["1001", "1002", "1003"],
    "order_date": pd.to_datetime(["2024-03-05", "2024-03-06", "2024-03-07"]),
    "amount": [1234.5, 200.0, -50.0],
    "quantity": [3.0, 1.0, float("nan")],
})


def write_csv(path: Path, header: list[str], rows: list[tuple], sep: str = ",",
              encoding: str = "utf-8") -> Path:
    lines = [sep.join(header)] + [sep.join(f'"{v}"' if sep in v else v for v in r) for r in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def assert_expected(frame: pd.DataFrame) -> None:
    got = frame[EXPECTED.columns].reset_index(drop=True)
    assert list(got["customer_id"]) == list(EXPECTED["customer_id"])
    assert list(got["order_date"]) == list(EXPECTED["order_date"])
    pd.testing.assert_series_equal(got["amount"], EXPECTED["amount"])
    pd.testing.assert_series_equal(got["quantity"], EXPECTED["quantity"])


def test_gbk_csv_with_chinese_headers_loads(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "订单.csv", ["客户编号", "订单日期", "金额", "数量"], GOOD_ROWS,
                     encoding="gbk")
    result = read_table(path)
    assert result.table == "transactions"
    assert (result.read, result.loaded, result.rejected) == (3, 3, 0)
    assert_expected(result.frame)


def test_gb18030_csv_loads(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", ["客户编号", "订单日期", "金额", "数量"], GOOD_ROWS,
                     encoding="gb18030")
    assert_expected(read_table(path).frame)


def test_utf8_bom_semicolon_csv_loads(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", ["customer_id", "order_date", "amount", "quantity"],
                     GOOD_ROWS, sep=";", encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert_expected(read_table(path).frame)


def test_tab_separated_csv_with_other_spellings_loads(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.tsv", ["Customer ID", "Order Date", "Revenue", "Qty"],
                     GOOD_ROWS, sep="\t")
    assert_expected(read_table(path).frame)


def test_parquet_loads(tmp_path: Path) -> None:
    frame = EXPECTED.copy()
    frame.to_parquet(tmp_path / "o.parquet")
    result = read_table(tmp_path / "o.parquet")
    assert_expected(result.frame)
    assert result.frame["order_date"].dtype.kind == "M"


def test_xlsx_with_excel_serial_dates_and_numeric_ids_loads(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["客户编号", "订单日期", "金额", "数量"])
    sheet.append([1001, 45356, 1234.5, 3])  # 45356 is 2024-03-05 as an Excel serial number
    sheet.append(["1002", "2024-03-06", "200", 1])
    from datetime import datetime

    sheet.append([1003, datetime(2024, 3, 7), -50, None])
    book.save(tmp_path / "orders.xlsx")
    result = read_table(tmp_path / "orders.xlsx")
    assert result.rejected == 0
    assert_expected(result.frame)


def test_database_table_loads_from_sqlite_and_postgresql(database_url: str) -> None:
    engine = sa.create_engine(database_url)
    EXPECTED.assign(order_date=EXPECTED["order_date"].dt.strftime("%Y-%m-%d")).rename(
        columns={"customer_id": "客户编号", "amount": "金额"}
    ).to_sql("orders", engine, index=False, if_exists="replace")
    engine.dispose()
    result = read_table(f"{database_url}#orders")
    assert result.table == "transactions"
    assert_expected(result.frame)


BAD_VALUES = [
    ("non-numeric amount", {"amount": "abc"}, "金额 (amount)", "is not a number"),
    ("unparseable date", {"order_date": "32/13/2024"}, "订单日期 (order_date)", "is not a date"),
    ("empty customer id", {"customer_id": ""}, "客户编号 (customer_id)", "is empty but required"),
    ("empty amount", {"amount": ""}, "金额 (amount)", "is empty but required"),
    ("infinite amount", {"amount": "inf"}, "金额 (amount)", "is not a finite number"),
    ("text quantity", {"quantity": "几件"}, "数量 (quantity)", "is not a number"),
    ("impossible calendar day", {"order_date": "2024-02-30"}, "订单日期 (order_date)",
     "is not a date"),
    ("date after as_of", {"order_date": "2030-01-01"}, "订单日期 (order_date)", "is after as_of"),
]


@pytest.mark.parametrize(("case", "change", "column", "rule"), BAD_VALUES,
                         ids=[b[0] for b in BAD_VALUES])
def test_bad_transaction_value_is_reported_with_row_and_column(
    tmp_path: Path, case: str, change: dict[str, str], column: str, rule: str
) -> None:
    rows = [dict(zip(["customer_id", "order_date", "amount", "quantity"], r, strict=True))
            for r in GOOD_ROWS]
    rows[1].update(change)
    path = write_csv(tmp_path / "o.csv", ["客户编号", "订单日期", "金额", "数量"],
                     [tuple(r.values()) for r in rows])
    result = read_table(path, TRANSACTIONS, as_of=date(2025, 1, 1))
    assert result.rejected == 1
    (problem,) = result.problems
    assert (problem.file, problem.row, problem.column) == (str(path), 3, column)
    assert rule in problem.rule
    assert result.rejects.loc[0, "row"] == 3 and rule in result.rejects.loc[0, "reasons"]


CUSTOMER_BAD = [
    ("loyalty above 10", "loyalty", "11", "is outside 0..10"),
    ("negative channel coverage", "channel_coverage", "-1", "is outside 0..10"),
    ("nps above 100", "nps", "150", "is outside -100..100"),
    ("prospects not a number", "prospects", "good", "is not a number"),
    ("contract date unparseable", "first_contract_date", "yesterday", "is not a date"),
]


@pytest.mark.parametrize(("case", "column", "value", "rule"), CUSTOMER_BAD,
                         ids=[c[0] for c in CUSTOMER_BAD])
def test_bad_customer_value_is_reported_with_row_and_column(
    tmp_path: Path, case: str, column: str, value: str, rule: str
) -> None:
    header = ["customer_id", "name", "customer_type", "first_contract_date", "channel_coverage",
              "loyalty", "prospects", "nps"]
    rows = [["C1", "甲医院", "医院", "2020-01-01", "8", "7", "6", "30"],
            ["C2", "乙药房", "大药房", "2021-05-01", "5", "5", "5", ""]]
    rows[1][header.index(column)] = value
    path = write_csv(tmp_path / "c.csv", header, [tuple(r) for r in rows])
    result = read_table(path, CUSTOMERS)
    assert [(p.row, p.column) for p in result.problems] == [(3, column)]
    assert rule in result.problems[0].rule
    assert result.frame["customer_type"].tolist() == ["hospital"]


def test_duplicate_customer_id_and_exact_duplicate_line_are_rejected_with_the_first_row(
    tmp_path: Path,
) -> None:
    path = write_csv(tmp_path / "c.csv", ["客户编号", "客户名称"],
                     [("C1", "甲"), ("C2", "乙"), ("C1", "丙"), ("C2", "乙")])
    result = read_table(path, CUSTOMERS)
    rules = {(p.row, p.rule) for p in result.problems}
    assert (4, "duplicate customer_id, first at row 2") in rules
    assert (5, "exact duplicate of row 3") in rules
    assert result.loaded == 2 and result.read == 4


def test_interaction_rules_unknown_type_and_closed_before_opened(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "i.csv", ["客户编号", "互动类型", "开始时间", "关闭时间"], [
        ("C1", "投诉", "2024-03-01 09:00", "2024-03-02 10:00"),
        ("C1", "phone call", "2024-03-01", ""),
        ("C2", "complaint", "2024-03-05 09:00", "2024-03-04 09:00"),
    ])
    result = read_table(path, INTERACTIONS)
    found = {(p.row, p.column): p.rule for p in result.problems}
    assert "is not one of visit, complaint, survey" in found[(3, "互动类型 (interaction_type)")]
    assert found[(4, "关闭时间 (closed_at)")] == "is before opened_at"
    assert result.frame["interaction_type"].tolist() == ["complaint"]


def test_missing_required_column_rejects_the_whole_file(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", ["客户编号", "金额"], [("1", "2")])
    with pytest.raises(InputError, match="required column is missing") as err:
        read_table(path, TRANSACTIONS)
    assert err.value.problems[0].column == "order_date"


def test_all_problems_of_a_file_are_collected_not_just_the_first(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", ["客户编号", "订单日期", "金额"],
                     [("1", "bad", "x"), ("2", "2024-01-01", "y"), ("", "2024-01-02", "3")])
    result = read_table(path, TRANSACTIONS)
    assert len(result.problems) == 4
    assert result.rejected == 3


cell = st.sampled_from(["1", "2,000.5", "-3", "abc", "", "1e3", "¥12", "(5)", "inf"])
day = st.sampled_from(["2024-01-01", "2024/2/3", "2024年3月4日", "45356", "nope", "", "20240105"])


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(st.sampled_from(["A", "B", ""]), day, cell), min_size=1,
                     max_size=40))
def test_read_equals_loaded_plus_rejected(tmp_path: Path, rows: list[tuple[str, str, str]]) -> None:
    path = write_csv(tmp_path / "o.csv", ["customer_id", "order_date", "amount"], rows)
    filled = [r for r in rows if any(r)]  # a line of separators only is not a row
    if not filled:
        with pytest.raises(InputError, match="no data rows"):
            read_table(path, TRANSACTIONS)
        return
    result = read_table(path, TRANSACTIONS)
    assert result.read == len(filled)
    assert result.read == result.loaded + result.rejected
    assert result.frame["amount"].notna().all() and result.frame["order_date"].notna().all()
    assert len(result.rejects) == len({p.row for p in result.problems})


def test_too_many_rejects_stops_and_writes_nothing(tmp_path: Path) -> None:
    rows = [(f"C{i}", "2024-01-01", "10") for i in range(98)] + [("C1", "bad", "1"),
                                                                  ("C2", "2024-01-01", "x")]
    path = write_csv(tmp_path / "o.csv", ["customer_id", "order_date", "amount"], rows)
    out = tmp_path / "clean"
    with pytest.raises(TooManyRejectsError, match="2 of 100 rows rejected"):
        load_dataset(path, max_reject_share=0.01)
    assert not out.exists()
    result = CliRunner().invoke(app, ["load", "--transactions", str(path), "--out", str(out)])
    assert result.exit_code == 2
    assert "nothing was written" in result.output and "Traceback" not in result.output
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


def test_within_the_allowed_share_rejects_are_written_beside_the_clean_data(tmp_path: Path) -> None:
    rows = [(f"C{i}", "2024-01-01", "10") for i in range(99)] + [("C1", "bad", "1")]
    path = write_csv(tmp_path / "o.csv", ["customer_id", "order_date", "amount"], rows)
    dataset = load_dataset(path, max_reject_share=0.01)
    out = write_dataset(dataset, tmp_path / "clean")
    assert len(pd.read_parquet(out / "transactions.parquet")) == 99
    rejects = pd.read_csv(out / "rejects" / "transactions_rejects.csv", encoding="utf-8-sig")
    assert rejects["row"].tolist() == [101]
    assert "order_date: is not a date" in rejects["reasons"][0]
    assert len(pd.read_parquet(out / "customers.parquet")) == 99  # derived from transactions


def test_unknown_customers_are_kept_and_reported(tmp_path: Path) -> None:
    tx = write_csv(tmp_path / "o.csv", ["customer_id", "order_date", "amount"],
                   [("C1", "2024-01-01", "10"), ("GHOST", "2024-01-02", "5")])
    cust = write_csv(tmp_path / "c.csv", ["customer_id", "name"], [("C1", "甲")])
    dataset = load_dataset(tx, cust)
    assert dataset.transactions["customer_id"].tolist() == ["C1", "GHOST"]
    assert set(dataset.customers["customer_id"]) == {"C1", "GHOST"}
    warnings = dataset.results[0].warnings
    assert [(w.value, w.column) for w in warnings] == [("GHOST", "customer_id")]
    results = validate_sources([tx, cust])
    assert [w.value for w in results[0].warnings] == ["GHOST"]


def test_user_column_mapping_adds_spellings(tmp_path: Path) -> None:
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text("version: 1\ntransactions:\n  Kunde: customer_id\n  Datum: order_date\n"
                            "  Umsatz: amount\n", encoding="utf-8")
    path = write_csv(tmp_path / "o.csv", ["Kunde", "Datum", "Umsatz"], [("1", "05.03.2024", "7")])
    result = read_table(path, mapping=ColumnMapping.from_yaml(mapping_file))
    assert result.table == "transactions"
    assert result.frame["order_date"].tolist() == [pd.Timestamp("2024-03-05")]


def test_bad_column_mapping_names_file_and_field(tmp_path: Path) -> None:
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text("version: 1\ntransactions:\n  Kunde: client\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mapping.yaml: transactions: .*'client'"):
        ColumnMapping.from_yaml(mapping_file)


def test_validate_command_prints_report_and_writes_rejects(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "o.csv", ["客户编号", "订单日期", "金额"],
                     [(f"C{i}", "2024-01-01", "10") for i in range(200)] + [("C1", "x", "1")])
    rejects = tmp_path / "rejects"
    result = CliRunner().invoke(app, ["validate", str(path), "--rejects", str(rejects)],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "read 201 = loaded 200 + rejected 1" in result.output
    assert "row 202, column 订单日期 (order_date)" in result.output
    assert (rejects / "o_rejects.csv").exists()


def test_validate_command_on_unreadable_input_exits_with_message_not_traceback(
    tmp_path: Path,
) -> None:
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\xff\xfe\x00\x81\x82garbage\x00")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "neither UTF-8 nor GBK" in result.output
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
