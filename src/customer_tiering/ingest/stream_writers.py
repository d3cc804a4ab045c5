"""Where a streamed load writes, block by block: the clean Parquet file, the rejects CSV, or nowhere.

Shared by the pandas path (:mod:`customer_tiering.ingest.bulk_loading`) and the DuckDB path
(:mod:`customer_tiering.ingest.engine_streaming`), so both write the same files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from customer_tiering.ingest.contract import TableSpec
from customer_tiering.ingest.validation import empty_table

__all__ = ["MAX_LISTED_PROBLEMS", "Progress"]

MAX_LISTED_PROBLEMS = 100_000
"""Problems kept per file for the report; the others are counted (the rejects file has all)."""

Progress = Callable[[str, int, int | None], None]
"""``(file, rows read so far, rows in the file or None when unknown)``."""


class _TableWriter:
    """The clean Parquet file of one table, written block by block with the canonical types."""

    def __init__(self, path: Path, spec: TableSpec) -> None:
        self.schema = pa.Schema.from_pandas(empty_table(spec), preserve_index=False)
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, frame: pd.DataFrame) -> None:
        if len(frame):
            self.writer.write_table(pa.Table.from_pandas(frame, schema=self.schema,
                                                         preserve_index=False))

    def write_table(self, table: pa.Table) -> None:
        self.writer.write_table(table)

    def close(self) -> None:
        self.writer.close()


class _RejectsWriter:
    """A rejects CSV (UTF-8 with one BOM, for Excel), its header written with the first block."""

    def __init__(self, path: Path) -> None:
        self.handle: IO[str] = path.open("w", encoding="utf-8-sig", newline="")
        self.started = False

    def write(self, rejects: pd.DataFrame) -> None:
        if len(rejects) or not self.started:
            rejects.to_csv(self.handle, index=False, header=not self.started)
            self.started = True

    def close(self) -> None:
        self.handle.close()


class _NoTable:
    """Where a validation without a load sends its clean rows: nowhere."""

    def write(self, frame: pd.DataFrame) -> None:
        pass

    def write_table(self, table: pa.Table) -> None:
        pass

    def close(self) -> None:
        pass
