"""Loading block by block writes what the in-memory load writes, and keeps its all-or-nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer_tiering.core.errors import InputError, TooManyRejectsError
from customer_tiering.ingest import bulk_loading, engine_streaming
from customer_tiering.ingest.bulk_loading import load_to_directory
from customer_tiering.ingest.contract import CUSTOMERS
from customer_tiering.ingest.loading import load_dataset, read_table, write_dataset

AS_OF = date(2024, 12, 31)
TABLES = ("transactions", "customers", "interactions")


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    tx_rows = [(f"C{i % 7}", f"2024-0{1 + i % 9}-1{i % 10}", f"{10 + i}", "2") for i in range(40)]
    tx_rows[5] = tx_rows[1]  # exact duplicates, in the same block and in later blocks
    tx_rows[33] = tx_rows[1]
    tx_rows[12] = ("C3", "not a date", "5", "1")
    tx_rows[20] = ("C4", "2025-02-01", "5", "1")  # after as_of
    tx_rows[27] = ("GHOST", "2024-05-05", "8", "1")  # not in the customers file
    tx = write_csv(tmp_path / "orders.csv", ["客户编号", "订单日期", "金额", "数量"], tx_rows)
    cust_rows = [(f"C{i}", f"客户{i}", "hospital") for i in range(7)]
    cust_rows += [("C2", "别名", "hospital"), ("C5", "客户5", "hospital"), ("C9", "", "alien")]
    cust = write_csv(tmp_path / "customers.csv", ["customer_id", "name", "customer_type"],
                     cust_rows)
    inter_rows = [(f"C{i % 7}", "visit", f"2024-03-0{1 + i % 8} 10:00", f"2024-03-0{1 + i % 8} "
                   "11:00") for i in range(12)]
    inter_rows[9] = ("C1", "complaint", "2024-03-05 10:00", "2024-03-01 10:00")
    inter = write_csv(tmp_path / "interactions.csv",
                      ["customer_id", "interaction_type", "opened_at", "closed_at"], inter_rows)
    return tx, cust, inter


def in_memory(out: Path, tx: Path, cust: Path | None, inter: Path | None) -> Path:
    dataset = load_dataset(tx, cust, inter, as_of=AS_OF, max_reject_share=0.5)
    return write_dataset(dataset, out)


@pytest.mark.parametrize("chunk_rows", [1, 4, 1_000_000])
def test_streamed_load_writes_the_same_files_as_the_in_memory_load(
        tmp_path: Path, inputs: tuple[Path, Path, Path], chunk_rows: int) -> None:
    tx, cust, inter = inputs
    expected = in_memory(tmp_path / "expected", tx, cust, inter)
    results = load_to_directory(tmp_path / "streamed", tx, cust, inter, as_of=AS_OF,
                                max_reject_share=0.5, chunk_rows=chunk_rows)
    streamed = tmp_path / "streamed"
    for table in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(streamed / f"{table}.parquet"),
                                      pd.read_parquet(expected / f"{table}.parquet"))
        assert ((streamed / "rejects" / f"{table}_rejects.csv").read_bytes()
                == (expected / "rejects" / f"{table}_rejects.csv").read_bytes())
    reference = load_dataset(tx, cust, inter, as_of=AS_OF, max_reject_share=0.5).results
    for got, want in zip(results, reference, strict=True):
        assert (got.table, got.read, got.loaded, got.rejected) == (
            want.table, want.read, want.loaded, want.rejected)
        assert got.problems == want.problems and got.warnings == want.warnings
    rejects = pd.read_csv(streamed / "rejects" / "transactions_rejects.csv", encoding="utf-8-sig")
    assert rejects["row"].tolist() == [7, 14, 22, 35]
    assert rejects["reasons"].tolist()[-1] == "exact duplicate of row 3"
    customers = pd.read_csv(streamed / "rejects" / "customers_rejects.csv", encoding="utf-8-sig")
    assert "duplicate customer_id, first at row 4" in customers["reasons"].tolist()[0]
    assert [w.value for w in results[0].warnings] == ["GHOST"]


def test_without_a_customers_file_every_customer_is_derived(
        tmp_path: Path, inputs: tuple[Path, Path, Path]) -> None:
    tx, _, _ = inputs
    expected = in_memory(tmp_path / "expected", tx, None, None)
    load_to_directory(tmp_path / "streamed", tx, as_of=AS_OF, max_reject_share=0.5,
                      chunk_rows=3)
    for table in TABLES:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "streamed" / f"{table}.parquet"),
                                      pd.read_parquet(expected / f"{table}.parquet"))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.sampled_from(["A", "B", "C", "D"]), min_size=1, max_size=25),
       chunk_rows=st.integers(1, 6))
def test_duplicates_across_blocks_are_found_as_in_one_block(
        tmp_path: Path, ids: list[str], chunk_rows: int) -> None:
    path = write_csv(tmp_path / "c.csv", ["customer_id", "name"],
                     [(cid, "same" if i % 2 else f"n{i % 3}") for i, cid in enumerate(ids)])
    whole = read_table(path, CUSTOMERS)
    blocks = read_table(path, CUSTOMERS, chunk_rows=chunk_rows)
    assert blocks.problems == whole.problems
    pd.testing.assert_frame_equal(blocks.frame, whole.frame)
    pd.testing.assert_frame_equal(blocks.rejects, whole.rejects)


def test_a_streamed_load_that_rejects_too_much_leaves_the_old_data_set(
        tmp_path: Path, inputs: tuple[Path, Path, Path]) -> None:
    tx, cust, inter = inputs
    out = load_to_directory(tmp_path / "clean", tx, cust, inter, as_of=AS_OF,
                            max_reject_share=0.5) and tmp_path / "clean"
    before = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    with pytest.raises(TooManyRejectsError, match="4 of 40 rows rejected"):
        load_to_directory(out, tx, cust, inter, as_of=AS_OF, max_reject_share=0.01,
                          chunk_rows=4)
    assert {p.name: p.read_bytes() for p in out.glob("*.parquet")} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "clean", "customers.csv", "interactions.csv", "orders.csv"]


def test_a_csv_broken_in_a_later_block_names_the_file_and_writes_nothing(
        tmp_path: Path) -> None:
    rows = [(f"C{i}", "2024-01-01", "10") for i in range(30)]
    path = write_csv(tmp_path / "o.csv", ["customer_id", "order_date", "amount"], rows)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("C1,2024-01-01,10,extra,cells\n")
    with pytest.raises(InputError, match=r"o\.csv.*is not a readable CSV"):
        load_to_directory(tmp_path / "clean", path, chunk_rows=8)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.csv"]


def test_problems_beyond_the_listed_limit_are_counted_and_every_row_is_in_the_rejects_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bulk_loading, "MAX_LISTED_PROBLEMS", 2)  # the pandas path
    monkeypatch.setattr(engine_streaming, "MAX_LISTED_PROBLEMS", 2)  # the DuckDB path
    rows = [(f"C{i}", "bad" if i < 3 else "2024-01-01", "10") for i in range(10)]
    path = write_csv(tmp_path / "o.csv", ["customer_id", "order_date", "amount"], rows)
    [result] = load_to_directory(tmp_path / "clean", path, max_reject_share=0.5, chunk_rows=2)
    assert (result.rejected, len(result.problems), result.unlisted_problems) == (3, 2, 1)
    rejects = pd.read_csv(tmp_path / "clean" / "rejects" / "transactions_rejects.csv",
                          encoding="utf-8-sig")
    assert rejects["row"].tolist() == [2, 3, 4]


def test_parquet_batches_with_and_without_nulls_still_find_duplicates(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"customer_id": ["C1", "C2", "C1", "C3"],
                      "order_date": ["2024-01-01"] * 4,
                      "amount": [10.0, 20.0, 10.0, 30.0],
                      "quantity": pa.array([1, None, 1, 3], pa.int64())})
    path = tmp_path / "o.parquet"
    pq.write_table(table, path)  # no pandas metadata: integers with a null
    whole = read_table(path)
    blocks = read_table(path, chunk_rows=2)
    assert [p.rule for p in blocks.problems] == ["exact duplicate of row 1"]
    assert blocks.problems == whole.problems
    pd.testing.assert_frame_equal(blocks.frame, whole.frame)


def test_a_number_and_the_same_digits_as_text_are_different_lines(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["customer_id", "order_date", "amount", "order_id"])
    sheet.append(["C1", "2024-01-01", 10, 1001])
    sheet.append(["C1", "2024-01-01", 10, "1001"])
    sheet.append(["C1", "2024-01-01", 10, 1001])
    book.save(tmp_path / "o.xlsx")
    result = read_table(tmp_path / "o.xlsx")
    assert [(p.row, p.rule) for p in result.problems] == [(4, "exact duplicate of row 2")]


def test_a_parquet_file_whose_id_is_the_pandas_index_lacks_the_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"customer_id": ["C1"], "order_date": ["2024-01-01"], "amount": [1.0]})
    frame.set_index("customer_id").to_parquet(tmp_path / "o.parquet")
    with pytest.raises(InputError, match="customer_id: required column is missing"):
        load_to_directory(tmp_path / "clean", tmp_path / "o.parquet")


def test_a_header_only_csv_is_refused_and_the_clean_data_set_is_kept(tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", ["customer_id", "order_date", "amount"],
                     [("C1", "2024-01-01", "10")])
    load_to_directory(tmp_path / "clean", good)
    path = write_csv(tmp_path / "o.csv", ["customer_id", "order_date", "amount"], [])
    with pytest.raises(InputError, match=r"o\.csv: has a header but no data rows"):
        load_to_directory(tmp_path / "clean", path)
    assert pd.read_parquet(tmp_path / "clean" / "transactions.parquet")["customer_id"].tolist() == [
        "C1"]


def test_transactions_of_which_no_row_passes_do_not_replace_the_clean_data_set(
        tmp_path: Path) -> None:
    good = write_csv(tmp_path / "good.csv", ["customer_id", "order_date", "amount"],
                     [("C1", "2024-01-01", "10")])
    load_to_directory(tmp_path / "clean", good)
    bad = write_csv(tmp_path / "bad.csv", ["customer_id", "order_date", "amount"],
                    [("C1", "not a day", "10"), ("C2", "2024-01-01", "x")])
    with pytest.raises(InputError, match=r"bad\.csv: no row passed validation"):
        load_to_directory(tmp_path / "clean", bad, max_reject_share=1.0)
    assert len(pd.read_parquet(tmp_path / "clean" / "transactions.parquet")) == 1


def test_streamed_validation_reports_and_writes_what_the_in_memory_one_does(
        tmp_path: Path, inputs: tuple[Path, Path, Path]) -> None:
    from customer_tiering.ingest.bulk_loading import validate_to_directory
    from customer_tiering.ingest.loading import validate_sources, write_rejects

    files = list(inputs)
    expected = validate_sources(files, as_of=AS_OF)
    expected_paths = write_rejects([r for r in expected if r.rejected], tmp_path / "expected")
    results, written = validate_to_directory(files, tmp_path / "streamed", as_of=AS_OF,
                                             max_reject_share=0.5, chunk_rows=3)
    for got, want in zip(results, expected, strict=True):
        assert (got.table, got.read, got.rejected) == (want.table, want.read, want.rejected)
        assert got.problems == want.problems and got.warnings == want.warnings
    assert [p.name for p in written] == [p.name for p in expected_paths]
    for got_path, want_path in zip(written, expected_paths, strict=True):
        assert got_path.read_bytes() == want_path.read_bytes()
    assert [w.value for w in results[0].warnings] == ["GHOST"]


def test_streamed_validation_over_the_share_writes_no_rejects_file(
        tmp_path: Path, inputs: tuple[Path, Path, Path]) -> None:
    from customer_tiering.ingest.bulk_loading import validate_to_directory

    results, written = validate_to_directory(list(inputs), tmp_path / "rejects", as_of=AS_OF,
                                             max_reject_share=0.01, chunk_rows=3)
    assert written == [] and results[0].rejected == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "customers.csv", "interactions.csv", "orders.csv"]
