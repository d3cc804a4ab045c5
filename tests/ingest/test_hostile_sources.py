"""Sources that are not what they claim: a clear error naming them, never a traceback or a new file."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from customer_tiering.cli import app


def _validate(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", *args, "--as-of", "2025-12-31"])
    return result.exit_code, result.output


@pytest.mark.parametrize(("make", "says"), [
    (lambda d: (d / "x.csv").mkdir() or "x.csv", "is a folder, not a file"),
    (lambda d: (d / "bad.xlsx").write_text("not a zip") and "bad.xlsx",
     "is not a readable XLSX workbook"),
    (lambda d: "foo://host/db#orders", "is not a database URL this installation can open"),
])
def test_a_source_that_is_not_what_it_claims_names_itself(tmp_path: Path, make: object,
                                                           says: str, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    source = make(tmp_path)  # type: ignore[operator]
    code, output = _validate(source)
    assert code == 2
    assert f"{source}: {says}" in output
    assert "Traceback" not in output


def test_a_missing_sqlite_source_is_not_created(tmp_path: Path) -> None:
    database = tmp_path / "crm.db"
    code, output = _validate(f"sqlite:///{database}#orders")
    assert code == 2 and "does not exist (no SQLite file at" in output
    assert not database.exists()


def test_a_missing_or_binary_mapping_file_is_a_clear_error(tmp_path: Path) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text("customer_id,order_date,amount\nC1,2024-03-05,10\n", encoding="utf-8")
    binary = tmp_path / "map.yaml"
    binary.write_bytes(b"\x00\x01\x02\xff")
    for mapping, says in ((tmp_path / "none.yaml", "cannot be read: No such file or directory"),
                          (binary, "cannot be read")):
        result = CliRunner().invoke(app, ["validate", str(orders), "--mapping", str(mapping),
                                          "--as-of", "2025-12-31"])
        assert result.exit_code == 2, result.output
        assert f"{mapping}: (file): {says}" in " ".join(result.output.split())
        assert "Traceback" not in result.output


@pytest.mark.parametrize("header", ["amount", "金额"])
def test_a_column_named_by_two_headers_is_refused_not_silently_chosen(tmp_path: Path,
                                                                       header: str) -> None:
    orders = tmp_path / "orders.csv"
    orders.write_text(f"customer_id,order_date,amount,{header}\nC1,2024-03-05,10,20\n",
                      encoding="utf-8")
    code, output = _validate(str(orders))
    assert code == 2 and "Traceback" not in output
    flat = " ".join(output.split())
    assert f"column amount: 'amount, {header}': is named by 2 headers" in flat
