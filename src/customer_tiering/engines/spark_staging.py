"""Staged rating rows: the executors' output as Parquet parts with a manifest.

Executors never write to the tier store. They write the grade rows of a rating as Parquet parts
into a staging folder; the driver then lists the parts in a ``manifest.json`` (file, rows, bytes,
schema, the rating's key) and loads them into the store in one transaction
(:mod:`customer_tiering.store.bulk_load`). A job killed before the load leaves a staging folder and
no rating; a manifest whose parts do not add up to the rated customers is refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from customer_tiering.core.errors import TieringError

__all__ = ["MANIFEST", "iter_staged", "read_manifest", "write_manifest"]

MANIFEST = "manifest.json"


def write_manifest(folder: Path, *, rating_key: str, customers: int) -> dict[str, Any]:
    """List the Parquet parts Spark wrote in ``folder`` and write the manifest beside them.

    Parameters
    ----------
    folder : pathlib.Path
        The staging folder (the output of ``DataFrame.write.parquet``).
    rating_key : str
        The rating these rows belong to.
    customers : int
        How many customers were rated (the rows must add up to it).

    Returns
    -------
    dict
        The manifest.

    Raises
    ------
    TieringError
        When the parts hold another number of rows than ``customers``.
    """
    parts = []
    schema = None
    for path in sorted(folder.rglob("*.parquet")):
        meta = pq.read_metadata(path)
        if meta.num_rows == 0:
            continue
        schema = schema or meta.schema.to_arrow_schema()
        parts.append({"file": str(path.relative_to(folder)), "rows": meta.num_rows,
                      "bytes": path.stat().st_size})
    rows = sum(p["rows"] for p in parts)
    if rows != customers:
        raise TieringError(f"{folder}: the staged parts hold {rows:,} rows for {customers:,} "
                           "rated customers; nothing was loaded")
    manifest = {"rating_key": rating_key, "rows": rows, "parts": parts,
                "columns": [] if schema is None else schema.names}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def read_manifest(folder: Path, rating_key: str) -> dict[str, Any]:
    """The manifest of ``folder``, checked against the rating and the files on disk."""
    path = folder / MANIFEST
    if not path.exists():
        raise TieringError(f"{path} is missing: the staged rows are incomplete")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("rating_key") != rating_key:
        raise TieringError(f"{path} belongs to another rating ({manifest.get('rating_key')})")
    for part in manifest["parts"]:
        found = folder / part["file"]
        if not found.exists() or found.stat().st_size != part["bytes"]:
            raise TieringError(f"{found}: missing or changed since the manifest was written")
    return manifest


def iter_staged(folder: Path, manifest: dict[str, Any], *, columns: list[str] | None = None,
                batch_rows: int = 50_000) -> Iterator[pa.RecordBatch]:
    """The staged rows part by part, ``batch_rows`` at a time (bounded memory)."""
    for part in manifest["parts"]:
        handle = pq.ParquetFile(folder / part["file"])
        yield from handle.iter_batches(batch_size=batch_rows, columns=columns)


def read_staged(folder: Path, manifest: dict[str, Any], columns: list[str]) -> pa.Table:
    """Some columns of every staged row, as one table (the driver's population-wide checks)."""
    batches = list(iter_staged(folder, manifest, columns=columns))
    if not batches:
        return pa.table({c: pa.array([]) for c in columns})
    return pa.Table.from_batches(batches)
