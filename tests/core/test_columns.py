"""Columns: a frame's columns as arrays by name, read the same way as the frame itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from customer_tiering.core.columns import Columns


@pytest.fixture
def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": pd.array(["C1", "C2", "C3"], dtype="str"),
        "amount": [1.5, None, 3.0],
        "count": pd.array([1, None, 3], dtype="Int64"),
        "typed_as_text": ["7", "x", None],
        "region": pd.array(["华东", None, "西南"], dtype="str"),
    })


def test_numbers_come_as_float_with_nan_and_text_as_objects_with_none(frame: pd.DataFrame) -> None:
    columns = Columns.of(frame)
    assert columns.n_rows == 3 and list(columns) == list(frame.columns) and len(columns) == 5
    np.testing.assert_array_equal(columns["amount"], [1.5, np.nan, 3.0])
    np.testing.assert_array_equal(columns.numeric("count"), [1.0, np.nan, 3.0])
    assert columns.text("region").tolist() == ["华东", None, "西南"]
    np.testing.assert_array_equal(columns.numeric("typed_as_text"), [7.0, np.nan, np.nan])


def test_an_absent_column_reads_as_missing_for_every_row(frame: pd.DataFrame) -> None:
    columns = Columns.of(frame)
    assert "loyalty" not in columns
    assert np.isnan(columns.numeric("loyalty")).all()
    assert columns.text("loyalty").tolist() == [None, None, None]
    with pytest.raises(KeyError):
        columns["loyalty"]


def test_taking_rows_keeps_every_column_aligned(frame: pd.DataFrame) -> None:
    part = Columns.of(frame).take(np.array([2, 0]))
    assert part.n_rows == 2
    assert part["customer_id"].tolist() == ["C3", "C1"]
    np.testing.assert_array_equal(part["amount"], [3.0, 1.5])
    assert Columns.of(frame).take(slice(1, 3))["region"].tolist() == [None, "西南"]


def test_columns_of_unequal_length_are_refused() -> None:
    with pytest.raises(ValueError, match="'b' has 1 rows, not 2"):
        Columns({"a": np.zeros(2), "b": np.zeros(1)}, 2)
