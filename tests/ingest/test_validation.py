"""The per-cell rules of the data contract: a range check names only the bounds a column has."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from customer_tiering.ingest.contract import TRANSACTIONS, TableSpec
from customer_tiering.ingest.loading import read_table


def _quantity_bounded(lower: float | None, upper: float | None) -> TableSpec:
    """The transactions table with its ``quantity`` column given the bounds (it has none)."""
    columns = tuple(dataclasses.replace(c, min_value=lower, max_value=upper)
                    if c.name == "quantity" else c for c in TRANSACTIONS.columns)
    return dataclasses.replace(TRANSACTIONS, columns=columns)


@pytest.mark.parametrize(("lower", "upper", "bad", "rule"), [
    (0, None, "-2", "must be >= 0"),
    (None, 5, "7.5", "must be <= 5"),
    (1, 5, "7.5", "is outside 1..5"),
])
def test_a_range_check_names_only_the_bounds_the_column_has(
        tmp_path: Path, lower: float | None, upper: float | None, bad: str, rule: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_date,amount,quantity\n"
                    f"C1,2024-03-05,100,3\nC2,2024-03-06,200,{bad}\n", encoding="utf-8")
    result = read_table(path, _quantity_bounded(lower, upper))
    assert result.loaded == 1 and result.rejected == 1
    (problem,) = result.problems
    assert (problem.row, problem.column, problem.value, problem.rule) == (3, "quantity", bad, rule)
    assert result.rejects.loc[0, "reasons"] == f"quantity: {rule}"


def test_an_amount_too_large_to_sum_is_rejected_naming_its_row_and_column(tmp_path: Path) -> None:
    # two 1e308 lines of one customer would sum to infinity and grade it from nowhere
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,order_date,amount,quantity\n"
                    "C1,2024-03-05,1e308,1\nC1,2024-03-06,1e308,1\nC2,2024-03-06,250.5,-3e13\n"
                    "C3,2024-03-07,999999999999,2\n", encoding="utf-8")
    result = read_table(path, TRANSACTIONS)
    assert result.loaded == 1 and result.rejected == 3
    found = sorted((p.row, p.column, p.rule) for p in result.problems)
    assert found == [(2, "amount", "is outside -1e+12..1e+12"),
                     (3, "amount", "is outside -1e+12..1e+12"),
                     (4, "quantity", "is outside -1e+12..1e+12")]
