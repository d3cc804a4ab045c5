"""Builders of malformed input files for the hostile-input corpus (``tests/reliability``).

Each builder returns a function that writes its file(s) into a folder and returns the command
line arguments that name them, so a case is written once and built fresh in every test's folder.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

Build = Callable[[Path], list[str]]

HEADER = "customer_id,order_date,amount"
GOOD = ("C1,2024-03-05,10", "C2,2024-03-06,20")


@dataclass(frozen=True)
class Case:
    """One malformed input and what the CLI must answer.

    ``code`` is the exit code; ``says`` are fragments the output must hold (the file, the row,
    the column or field, the rule); ``counts`` is ``(read, loaded, rejected)`` when the command
    prints a report; ``options`` are added after the files (``validate`` is run with
    ``--max-reject-share 1`` unless the case says otherwise, so row problems print a report).
    """

    name: str
    build: Build
    code: int
    says: tuple[str, ...]
    counts: tuple[int, int, int] | None = None
    command: str = "validate"
    options: tuple[str, ...] = field(default=("--max-reject-share", "1"))


def raw(name: str, data: bytes) -> Build:
    """A file holding exactly ``data``."""
    def build(folder: Path) -> list[str]:
        (folder / name).write_bytes(data)
        return [name]
    return build


def text(name: str, lines: Sequence[str], *, encoding: str = "utf-8", eol: str = "\n") -> Build:
    """A text file of ``lines``, each ended by ``eol``."""
    return raw(name, "".join(f"{line}{eol}" for line in lines).encode(encoding))


def orders(bad_row: str, *, header: str = HEADER, name: str = "o.csv", **kwargs: str) -> Build:
    """A transactions CSV whose row 3 (its second data line) is ``bad_row``."""
    return text(name, [header, GOOD[0], bad_row, GOOD[1]], **kwargs)


def amount(value: str) -> Build:
    """A transactions CSV whose row 3 has the amount cell ``value`` (quoted)."""
    return orders(f'C3,2024-03-07,"{value}"')


def xlsx(name: str, rows: Sequence[Sequence[object]], cells: dict[str, object] | None = None,
         *, sheets: Sequence[str] = ()) -> Build:
    """A workbook whose first sheet holds ``rows`` from A1 and ``cells`` by reference; the
    sheets named in ``sheets`` come first, empty."""
    def build(folder: Path) -> list[str]:
        import openpyxl

        book = openpyxl.Workbook()
        first = book.active
        for title in sheets:
            first.title = title
            first = book.create_sheet("data")
        for row in rows:
            first.append(list(row))
        for ref, value in (cells or {}).items():
            first[ref] = value
        book.save(folder / name)
        return [name]
    return build


def xlsx_bytes(rows: Sequence[Sequence[object]]) -> bytes:
    """A small valid workbook's bytes."""
    import openpyxl

    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_with_sheet_xml(name: str, edit: Callable[[str], str]) -> Build:
    """A valid orders workbook whose sheet XML is passed through ``edit``."""
    def build(folder: Path) -> list[str]:
        source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(ORDER_ROWS)))
        with zipfile.ZipFile(folder / name, "w") as target:
            for item in source.namelist():
                data = source.read(item)
                if item == "xl/worksheets/sheet1.xml":
                    data = edit(data.decode()).encode()
                target.writestr(item, data)
        return [name]
    return build


ORDER_ROWS: list[list[object]] = [["customer_id", "order_date", "amount"],
                                  ["C1", "2024-03-05", 10], ["C2", "2024-03-06", 20]]


def parquet(name: str, frame: pd.DataFrame) -> Build:
    """A Parquet file of ``frame``."""
    def build(folder: Path) -> list[str]:
        frame.to_parquet(folder / name, index=False)
        return [name]
    return build


def with_mapping(mapping: str | bytes, files: Build) -> Build:
    """``files`` plus ``--mapping m.yaml`` holding ``mapping``."""
    def build(folder: Path) -> list[str]:
        data = mapping.encode() if isinstance(mapping, str) else mapping
        (folder / "m.yaml").write_bytes(data)
        return [*files(folder), "--mapping", "m.yaml"]
    return build


def both(*builds: Build) -> Build:
    """Several files in one command."""
    def build(folder: Path) -> list[str]:
        return [arg for b in builds for arg in b(folder)]
    return build
