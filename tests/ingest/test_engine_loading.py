"""Loading inside DuckDB writes, byte for byte, what the pandas path writes, and reports the same.

Each test loads the same inputs twice, ``engine="pandas"`` (every row through pandas, block by
block, as before issue 20) and ``engine="auto"`` (DuckDB for UTF-8 CSV and Parquet files), and
compares every file of the clean data set and the results (counts, problems, warnings). Small
blocks (``chunk_rows``) put duplicates, rejects and rows only pandas parses in several blocks.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.errors import TooManyRejectsError
from customer_tiering.ingest import (
    engine_loading,
    engine_settings,
    engine_sources,
    engine_streaming,
)
from customer_tiering.ingest.bulk_loading import load_to_directory, validate_to_directory

AS_OF = date(2025, 6, 30)


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _summary(results: list) -> list:
    return [(r.table, r.source, r.read, r.loaded, r.rejected, r.problems, r.warnings,
             r.unlisted_problems) for r in results]


def _load_both(tmp_path: Path, *inputs: Path | None, chunk_rows: int = 7,
               as_of: date = AS_OF, **options: object) -> dict[str, bytes]:
    answers = {}
    for engine in ("pandas", "auto"):
        out = tmp_path / f"clean-{engine}"
        results = load_to_directory(out, *inputs, as_of=as_of, chunk_rows=chunk_rows,  # type: ignore[arg-type]
                                    engine=engine, **options)  # type: ignore[arg-type]
        answers[engine] = (_summary(results), _files(out))
    assert answers["auto"][0] == answers["pandas"][0]
    assert answers["auto"][1] == answers["pandas"][1]
    return answers["auto"][1]


def _engine_reads(path: Path, **options: object) -> bool:
    """Whether DuckDB validates the file itself (else the pandas path reads it)."""
    source = engine_sources.open_engine_source(path)
    if source is None:
        return False
    run = engine_loading.run_engine(source, None, mapping=None, as_of=AS_OF, chunk_rows=7,
                                    tmp=path.parent, **options)  # type: ignore[arg-type]
    if run is None:
        return False
    run.close()
    return True


def _hostile_orders() -> list[str]:
    rows = ["customer_id,order_date,amount,quantity,product_id,channel,order_id"]
    for i in range(60):
        rows.append(f"C{i % 9},2024-0{1 + i % 9}-{10 + i % 19},{10 + i * 1.25},{i % 4},"
                    f"P{i % 5},direct,O{i}")
    hostile = {
        3: "C1,2024年3月5日,5,1,P1,direct,O-cn",          # a date only pandas parses
        5: 'C2,2024-03-05,"1,234.50",1,P1,direct,O-th',     # thousands separator
        8: "C3,2024-03-05,abc,1,P1,direct,O-bad",          # not a number
        11: " C4 ,2024-03-05,5,1,P1,direct,O-pad",         # padded id
        14: "C5,2026-01-01,5,1,P1,direct,O-late",          # after as_of
        17: "C6,1899-12-31,5,1,P1,direct,O-old",           # before 1900
        19: ",,,,,,",                                       # a line of separators only
        21: "C7,2024-02-30,5,1,P1,direct,O-feb",           # no such day
        23: "C8,2024-03-05,1e13,1,P1,direct,O-huge",       # out of range
        26: "C1,2024-03-05,,1,,,",                          # empty amount, empty optionals
        29: "C2,45356,7,1,P1,direct,O-serial",              # an Excel serial number
        31: "C3,2024-03-05,NaN,1,P1,direct,O-nan",          # not finite
        33: "C\x1b4,2024-03-05,5,1,P1,direct,O-esc",       # a control character
        35: "null,2024-03-05,5,1,P1,direct,O-null",         # an empty id
        37: "C5,2024-03-05,-0,1,P1,direct,O-zero",          # negative zero
        39: "C6,20240305,5,1,P1,direct,O-compact",          # compact date
        41: "C7,2024-03-05,5,1,P1,direct,O-short",          # (a short line below)
    }
    for at, line in hostile.items():
        rows[at] = line
    rows[42] = "C7,2024-03-05"
    rows += [rows[2], rows[9], rows[3], rows[30], rows[19]]  # exact duplicates, later blocks
    return rows


def test_hostile_csv_rows_in_many_blocks_load_to_the_same_bytes(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("\n".join(_hostile_orders()) + "\n", encoding="utf-8")
    customers = tmp_path / "customers.csv"
    customers.write_text("\n".join([
        "customer_id,name,customer_type,region,first_contract_date,loyalty,nps",
        "C0,甲医院(1),hospital,华东,2020-01-01,5,10",
        "C1,乙药房,医院,华南,2021-05-01,11,0",        # label mapped; loyalty out of range
        "C2,丙,chain,,2019-02-03,-0.0,-100",           # an English label
        "C1,丁,clinic,华北,2020-01-01,5,0",            # customer_id on an earlier row
        " C3 ,戊,clinic,华北,2020-01-01,5,0",          # padded id
        "C3,己,clinic,华北,2020-01-01,5,0",            # the same id as the padded one
        "C4,庚,诊所,西北,2022-02-29,5,0",              # no such day
        "C5,Zoë & Co,Distributor,east,2020-01-01,,",
        "C0,甲医院(1),hospital,华东,2020-01-01,5,10",  # an exact copy
    ]) + "\n", encoding="utf-8")
    interactions = tmp_path / "interactions.csv"
    interactions.write_text("\n".join([
        "customer_id,interaction_type,opened_at,closed_at,score",
        "C1,complaint,2024-03-01 09:00,2024-03-02 10:00:05,",
        "C2,投诉,2024-03-01T09:00,2024-02-01,",          # closed before opened
        "C3,visit,2024-03-04,,",
        "C4,phone,2024-03-04,,",                         # not a type
        "C5,survey,2024-03-04 25:00,,9",                 # hour 25
        "C6,survey,2024-03-04,,101",                     # out of range
        "C9,visit,2024-03-04 8:05,,",                    # a one-digit hour
    ]) + "\n", encoding="utf-8")
    assert all(_engine_reads(p) for p in (orders, customers, interactions))
    files = _load_both(tmp_path, orders, customers, interactions,
                       max_reject_share=1.0)
    rejects = files["rejects/transactions_rejects.csv"].decode("utf-8-sig")
    assert "exact duplicate of row 3" in rejects and "is after as_of 2025-06-30" in rejects


def test_hostile_parquet_values_load_to_the_same_bytes(tmp_path: Path) -> None:
    n = 40
    frame = pd.DataFrame({
        "customer_id": [f"C{i % 6}" for i in range(n)],
        "order_date": pd.to_datetime([f"2024-03-{1 + i % 28:02d}" for i in range(n)]),
        "amount": [float(i) * 1.5 for i in range(n)],
        "quantity": pd.array([i % 3 for i in range(n)], dtype="Int64"),
        "product_id": [f"P{i}" for i in range(n)],
        "extra": [i % 2 for i in range(n)],
    })
    frame.loc[3, "amount"] = math.nan                       # empty but required
    frame.loc[5, "amount"] = math.inf                       # not finite
    frame.loc[7, "amount"] = 2e12                           # out of range
    frame.loc[9, "order_date"] = pd.Timestamp("1850-01-01")  # before 1900
    frame.loc[11, "order_date"] = pd.Timestamp("2025-12-01")  # after as_of
    frame.loc[13, "customer_id"] = " C1"                    # padded
    frame.loc[15, "customer_id"] = None                     # missing
    frame.loc[17, "quantity"] = pd.NA                       # an integer column with a null
    frame.loc[19] = frame.loc[2]                            # an exact copy
    frame.loc[21, "amount"], frame.loc[22, "amount"] = 0.0, -0.0
    frame.loc[23] = frame.loc[22]                           # -0.0 again: a copy of row 23
    frame.loc[24] = frame.loc[21]
    frame.loc[24, "amount"] = -0.0                          # differs from row 22 in one bit
    orders = tmp_path / "orders.parquet"
    frame.to_parquet(orders, index=False)
    customers = tmp_path / "customers.parquet"
    pd.DataFrame({"customer_id": ["C0", "C1", "C1", "C2"], "name": ["a", "b", "c", None],
                  "first_contract_date": [date(2020, 1, 1), date(1800, 1, 1), None,
                                          date(2021, 1, 1)],
                  "loyalty": [1.0, 12.0, math.nan, 3.0]}).to_parquet(customers, index=False)
    interactions = tmp_path / "interactions.parquet"
    pd.DataFrame({"customer_id": ["C0", "C1", "C2"], "interaction_type": ["visit", "拜访", "x"],
                  "opened_at": pd.to_datetime(["2024-01-01 10:00", "2024-01-02 00:00", "2024-01-03 00:00"]),
                  "closed_at": pd.to_datetime([None, "2024-01-01", None]),
                  "score": [np.nan, 5, 200]}).to_parquet(interactions, index=False)
    assert all(_engine_reads(p) for p in (orders, customers, interactions))
    files = _load_both(tmp_path, orders, customers, interactions, chunk_rows=6,
                       max_reject_share=1.0)
    assert files["transactions.parquet"].startswith(b"PAR1")


def test_the_demo_book_and_its_csv_export_load_to_the_same_bytes(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(app, ["demo-data", "--out", "raw", "--customers", "150",
                                    "--seed", "5"]).exit_code == 0
    raw = tmp_path / "raw"
    tables = [raw / f"{t}.parquet" for t in ("transactions", "customers", "interactions")]
    assert all(_engine_reads(p) for p in tables)
    files = _load_both(tmp_path / "parquet", *tables, chunk_rows=5000, as_of=date(2025, 12, 31))
    assert pd.read_parquet(raw / "transactions.parquet").shape[0] > 5000
    csvs = []
    for table in tables:
        csv = table.with_suffix(".csv")
        pd.read_parquet(table).to_csv(csv, index=False)
        csvs.append(csv)
    assert all(_engine_reads(p) for p in csvs)
    files_csv = _load_both(tmp_path / "csv", *csvs, chunk_rows=5000, as_of=date(2025, 12, 31))
    assert files_csv.keys() == files.keys()


def test_a_blank_line_between_rows_sends_the_file_to_the_pandas_reader(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date,amount\nC1,2024-03-05,1\n\nC2,2024-03-06,x\n",
                      encoding="utf-8")
    assert engine_sources.open_engine_source(orders) is None
    files = _load_both(tmp_path, orders, max_reject_share=1.0)
    assert b"4,C2,2024-03-06,x" in files["rejects/transactions_rejects.csv"]


def test_the_pandas_engine_never_opens_a_file_with_duckdb(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date,amount\nC1,2024-03-05,1\n", encoding="utf-8")
    opened: list[object] = []
    monkeypatch.setattr(engine_streaming, "open_engine_source",
                        lambda source: opened.append(source))
    monkeypatch.setenv(engine_settings.ENGINE_ENV, "pandas")
    load_to_directory(tmp_path / "clean", orders)
    assert opened == []
    monkeypatch.delenv(engine_settings.ENGINE_ENV)
    load_to_directory(tmp_path / "clean", orders)
    assert opened == [orders]
    with pytest.raises(ValueError, match="auto or pandas"):
        engine_settings.engine_choice("spark")


def test_too_many_rejects_through_duckdb_leave_the_old_data_set(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date,amount\nC1,2024-03-05,1\n", encoding="utf-8")
    out = tmp_path / "clean"
    load_to_directory(out, orders, engine="auto")
    before = _files(out)
    orders.write_text("customer_id,order_date,amount\nC1,2024-03-05,1\nC2,x,1\n",
                      encoding="utf-8")
    with pytest.raises(TooManyRejectsError, match=r"orders\.csv: 1 of 2 rows rejected"):
        load_to_directory(out, orders, engine="auto")
    assert _files(out) == before


def test_streamed_validation_writes_the_same_rejects_with_both_engines(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("\n".join(_hostile_orders()) + "\n", encoding="utf-8")
    customers = tmp_path / "customers.csv"
    customers.write_text("customer_id,name\nC1,a\nC1,b\n", encoding="utf-8")
    answers = {}
    for engine in ("pandas", "auto"):
        out = tmp_path / f"rejects-{engine}"
        results, written = validate_to_directory([orders, customers], out, as_of=AS_OF,
                                                 max_reject_share=1.0, chunk_rows=9,
                                                 engine=engine)
        answers[engine] = (_summary(results), [p.name for p in written], _files(out))
    assert answers["auto"] == answers["pandas"]
    assert answers["auto"][1] == ["orders_rejects.csv", "customers_rejects.csv"]


def test_printable_ascii_files_checked_without_regular_expressions_load_the_same(
        tmp_path: Path) -> None:
    lines = [line for line in _hostile_orders()
             if line.isascii() and line.isprintable() and '"' not in line]
    lines += ["C 4,2024-03-05,5,1,P 1,direct ,O-space", "NaN,2024-03-05,5,1,P1,direct,O-nan",
              "C4,2024-03-05,5,1,nan,  ,O-blank", "C5,2024-3-5,5,1,P1,direct,O-short-date",
              "C5,2024-03-05 10:00,5,1,P1,direct,O-time"]
    orders = tmp_path / "orders.csv"
    orders.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    interactions = tmp_path / "interactions.csv"
    interactions.write_text("\n".join([
        "customer_id,interaction_type,opened_at,closed_at,score",
        "C1,visit,2024-03-01 09:00,,", "C1,visit,2024-03-01T09:00,,",
        "C1,complaint,2024-03-01 09:00:00,2024-03-01 9:30,", "C1,visit,2024-03-01 24:00,,",
        "C1,survey,2024-03-01,2024-03-01 08:00,7", " C1,visit,2024-03-02,,",
    ]) + "\n", encoding="ascii")
    for path in (orders, interactions):
        source = engine_sources.open_engine_source(path)
        assert source is not None and source.printable
    files = _load_both(tmp_path, orders, None, interactions, max_reject_share=1.0)
    assert files["interactions.parquet"].startswith(b"PAR1")
