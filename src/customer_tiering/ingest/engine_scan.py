"""The engine's first pass run: every record's flag and hash read from DuckDB in file order,
and the records whose hash occurs twice (the candidate exact duplicates)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from customer_tiering.ingest.engine_queries import _Plan


def _batches(con: Any, sql: str, rows: int = 1 << 20) -> Iterator[pa.RecordBatch]:
    reader = con.sql(sql).to_arrow_reader(rows)
    yield from reader


@dataclass
class _Scan:
    flags: np.ndarray  # per record: 0 clean, 1 special, 2 blank
    hashes: np.ndarray
    ids: pa.Array | None  # customers: the plain customer_id of every record


def _scan(con: Any, plan: _Plan, with_id: bool, total: int | None) -> _Scan:
    """Every record's flag and hash, in file order (filled in place when the size is known, so
    a hundred million records take 9 bytes each, once)."""
    flags: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    ids: list[pa.Array] = []
    all_flags = np.empty(total or 0, dtype=np.uint8)
    all_hashes = np.empty(total or 0, dtype=np.uint64)
    expected = 0
    for batch in _batches(con, plan.flags):
        rn = batch.column(0).to_numpy()
        n = len(rn)
        if n and (rn[0] != expected or rn[-1] != expected + n - 1):
            raise RuntimeError("DuckDB returned the records out of order")
        if total is not None and expected + n <= total:
            all_flags[expected:expected + n] = batch.column(1).to_numpy()
            all_hashes[expected:expected + n] = batch.column(2).to_numpy()
        else:
            flags.append(batch.column(1).to_numpy())
            hashes.append(batch.column(2).to_numpy())
        expected += n
        if with_id:
            ids.append(batch.column(3))
    if total is not None and not flags:
        flags, hashes = [all_flags[:expected]], [all_hashes[:expected]]
    elif total is not None:
        raise RuntimeError("DuckDB read more records than the file holds")
    if not flags:
        flags, hashes = [np.empty(0, dtype=np.uint8)], [np.empty(0, dtype=np.uint64)]
    return _Scan(np.concatenate(flags) if len(flags) != 1 else flags[0],
                 np.concatenate(hashes) if len(hashes) != 1 else hashes[0],
                 pa.concat_arrays(ids).cast(pa.large_string()) if with_id and ids else None)


def _repeated(hashes: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Where a record's hash is that of another record (of ``rows``, a mask)."""
    kept = hashes[rows]
    kept.sort()
    twice = kept[1:][kept[1:] == kept[:-1]]
    del kept
    dups = np.unique(twice)
    out = np.zeros(len(hashes), dtype=bool)
    if not dups.size:
        return out
    step = 1 << 23
    for start in range(0, len(hashes), step):
        part = hashes[start:start + step]
        at = np.minimum(np.searchsorted(dups, part), dups.size - 1)
        out[start:start + step] = (dups[at] == part) & rows[start:start + step]
    return out
