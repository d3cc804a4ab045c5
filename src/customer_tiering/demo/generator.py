"""Realistic demo data with hidden truth: a pharma B2B book of business.

What is simulated (per customer, vectorised per block of customers, streamed to Parquet): who the
customers are, with their latent size, satisfaction, growth and churn hazard
(:mod:`~customer_tiering.demo.population`), and what they do: order lines with seasonality, a slump
before churn and returns, visits, complaints and surveys (:mod:`~customer_tiering.demo.activity`).
This module runs the blocks and writes the files.

The truth is written apart from the data: ``truth/customers_truth.parquet`` (latent values and the
churn date) and ``truth/future_transactions.parquet`` (what happens in the ``future_days`` after
``end``), so that any label of a horizon up to ``future_days`` at ``as_of = end`` can be computed
and models scored against it.

Determinism: customers are simulated in fixed blocks of :data:`BLOCK_CUSTOMERS`, each with its own
child of ``numpy.random.SeedSequence(seed)`` drawn from in a fixed order (population, orders,
interactions, then the customers file); so the output depends only on the seed and the arguments,
not on how many blocks are written at once.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from customer_tiering.demo.activity import order_lines, product_catalogue, simulate_interactions
from customer_tiering.demo.cycles import event_churn
from customer_tiering.demo.population import (
    Timeline,
    active_share,
    customer_tables,
    draw_population,
)

__all__ = ["BLOCK_CUSTOMERS", "GENERATOR_VERSION", "PROCESSES", "DemoDataSummary",
           "generate_demo_data"]

GENERATOR_VERSION = "3"
PROCESSES = ("cycles", "poisson")
"""How customers order and leave: on their own reorder cycle with event-driven churn (the B2B
case, :mod:`~customer_tiering.demo.cycles`), or BG/NBD's own Poisson process with a dropout."""
BLOCK_CUSTOMERS = 10_000
DEFAULT_START = date(2023, 1, 1)
DEFAULT_END = date(2025, 12, 31)

ProgressCallback = Callable[[int, int], None]


@dataclass
class DemoDataSummary:
    """What was generated: counts, dates and where the files are."""

    out_dir: str
    seed: int
    customers: int
    transactions: int
    future_transactions: int
    interactions: int
    start: str
    end: str
    future_days: int
    process: str = "cycles"
    generator_version: str = GENERATOR_VERSION
    files: dict[str, str] = field(default_factory=dict)



@dataclass
class _Block:
    customers: pa.Table
    truth: pa.Table
    transactions: pa.Table
    future_transactions: pa.Table
    interactions: pa.Table


def _simulate_block(
    block_index: int,
    n: int,
    seq: np.random.SeedSequence,
    start: date,
    end: date,
    future_days: int,
    catalogue: tuple[np.ndarray, np.ndarray],
    process: str,
) -> _Block:
    """Simulate ``n`` customers (numbers ``block_index * BLOCK_CUSTOMERS + 1 ...``)."""
    rng = np.random.default_rng(seq)
    first_number = block_index * BLOCK_CUSTOMERS + 1
    timeline = Timeline.of(start, end, future_days)
    population = draw_population(rng, np.arange(first_number, first_number + n), timeline)
    if process == "cycles":
        population = event_churn(rng, population, timeline)
    active = active_share(population, timeline)
    transactions, future = order_lines(rng, population, timeline, active, catalogue, block_index,
                                       process)
    interactions = simulate_interactions(rng, population, timeline, active)
    customers, truth = customer_tables(rng, population, timeline)
    return _Block(customers, truth, transactions, future, interactions)


def _writer(path: Path, schema: pa.Schema) -> pq.ParquetWriter:
    return pq.ParquetWriter(path, schema, compression="zstd")


def generate_demo_data(
    out_dir: str | os.PathLike[str],
    *,
    customers: int = 2_000,
    seed: int = 42,
    start: date = DEFAULT_START,
    end: date = DEFAULT_END,
    future_days: int = 365,
    blocks_per_chunk: int = 5,
    progress: ProgressCallback | None = None,
    process: str = "cycles",
) -> DemoDataSummary:
    """Generate a demo book of business and its hidden truth, streamed to Parquet.

    Parameters
    ----------
    out_dir : folder to write; it is replaced as a whole only when generation finished (files
        are written into a sibling temporary folder first), so a crash leaves no half data set.
    customers : number of customers simulated (those whose contract starts after ``end`` are
        left out of the files, so the files hold slightly fewer).
    seed : the only source of randomness; same seed and arguments give identical files.
    start, end : the observed history ``[start, end]`` (default 2023-01-01 to 2025-12-31).
    future_days : days after ``end`` simulated into ``truth/future_transactions.parquet``.
    blocks_per_chunk : how many blocks of :data:`BLOCK_CUSTOMERS` are held in memory at once.
    progress : called as ``progress(customers_done, customers_total)`` after each chunk.
    process : ``"cycles"`` (default: reorder cycles, event-driven churn) or ``"poisson"``
        (BG/NBD's own process), see :data:`PROCESSES`.

    Returns
    -------
    DemoDataSummary with the row counts and file paths.

    Raises
    ------
    ValueError
        When ``customers`` is below 1 or ``end`` is not after ``start``.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if process not in PROCESSES:
        raise ValueError(f"process must be one of {', '.join(PROCESSES)}, got {process!r}")
    if end <= start:
        raise ValueError("end must be after start")
    target = Path(out_dir)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "truth").mkdir(parents=True)
    catalogue = product_catalogue(seed)
    n_blocks = -(-customers // BLOCK_CUSTOMERS)
    seqs = np.random.SeedSequence(seed).spawn(n_blocks)
    writers: dict[str, pq.ParquetWriter] = {}
    counts = {"customers": 0, "transactions": 0, "future_transactions": 0, "interactions": 0}
    paths = {
        "customers": tmp / "customers.parquet",
        "transactions": tmp / "transactions.parquet",
        "interactions": tmp / "interactions.parquet",
        "truth": tmp / "truth" / "customers_truth.parquet",
        "future_transactions": tmp / "truth" / "future_transactions.parquet",
    }
    try:
        done = 0
        for chunk_start in range(0, n_blocks, blocks_per_chunk):
            for b in range(chunk_start, min(chunk_start + blocks_per_chunk, n_blocks)):
                n = min(BLOCK_CUSTOMERS, customers - b * BLOCK_CUSTOMERS)
                block = _simulate_block(b, n, seqs[b], start, end, future_days, catalogue,
                                        process)
                for key, table in (
                    ("customers", block.customers),
                    ("truth", block.truth),
                    ("transactions", block.transactions),
                    ("future_transactions", block.future_transactions),
                    ("interactions", block.interactions),
                ):
                    if key not in writers:
                        writers[key] = _writer(paths[key], table.schema)
                    writers[key].write_table(table, row_group_size=1_000_000)
                    if key in counts:
                        counts[key] += table.num_rows
                done += n
            if progress is not None:
                progress(done, customers)
    finally:
        for w in writers.values():
            w.close()
    summary = DemoDataSummary(
        out_dir=str(target),
        seed=seed,
        customers=counts["customers"],
        transactions=counts["transactions"],
        future_transactions=counts["future_transactions"],
        interactions=counts["interactions"],
        start=start.isoformat(),
        end=end.isoformat(),
        future_days=future_days,
        process=process,
        files={k: str(target / v.relative_to(tmp)) for k, v in paths.items()},
    )
    (tmp / "manifest.json").write_text(json.dumps(asdict(summary), indent=2, ensure_ascii=False))
    if target.exists():
        shutil.rmtree(target)
    os.replace(tmp, target)
    return summary
