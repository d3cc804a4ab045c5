"""`tiering load` memory: streamed block by block against the whole file in memory (run by hand).

    .venv/bin/python benchmarks/bench_load.py --raw /work/bench-train/raw --runs 3

``--raw`` is a demo data folder (``tiering demo-data``). Measured, alternating, each run in a
fresh process: :func:`customer_tiering.ingest.bulk_loading.load_to_directory` (what ``tiering load``
runs) against :func:`customer_tiering.ingest.loading.load_dataset` + ``write_dataset`` (the same rules
with every file held in memory, as ``tiering load`` did before). Both load the transactions,
customers and interactions files with ``--as-of``; with ``--csv`` the transactions are first
written as a UTF-8 CSV (most books arrive as CSV exports) and loaded from it.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from _measure import measure, median

SETUP = """
from datetime import date
from pathlib import Path
tx, cust, inter, out = (Path(p) for p in {paths!r})
"""
STREAMED = """
from customer_tiering.ingest.bulk_loading import load_to_directory
results = load_to_directory(out, tx, cust, inter, as_of=date(2025, 12, 31))
RESULT = sum(r.loaded for r in results)
"""
IN_MEMORY = """
from customer_tiering.ingest.loading import load_dataset, write_dataset
dataset = load_dataset(tx, cust, inter, as_of=date(2025, 12, 31))
write_dataset(dataset, out)
RESULT = sum(r.loaded for r in dataset.results)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--csv", action="store_true", help="load the transactions from a CSV")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        tx = args.raw / "transactions.parquet"
        if args.csv:
            tx = work / "transactions.csv"
            pd.read_parquet(args.raw / "transactions.parquet").to_csv(tx, index=False)
        paths = [str(tx), str(args.raw / "customers.parquet"),
                 str(args.raw / "interactions.parquet"), str(work / "clean")]
        lines = len(pd.read_parquet(args.raw / "transactions.parquet", columns=["amount"]))
        print(f"{lines:,} transaction lines from {tx.name}")
        runs: dict[str, list] = {"streamed": [], "in memory": []}
        for i in range(args.runs):
            for name, body in (("streamed", STREAMED), ("in memory", IN_MEMORY)):
                run = measure(body, SETUP.format(paths=paths))
                runs[name].append(run)
                print(f"  run {i + 1} {name}: {run.seconds:.1f} s, {run.peak_mb / 1024:.2f} GB, "
                      f"{run.extra:,} rows loaded", flush=True)
        print("| | streamed (tiering load) | in memory | ratio |\n| --- | --- | --- | --- |")
        for label, key, scale in (("wall time, median (s)", "seconds", 1.0),
                                  ("peak RSS, median (GB)", "peak_mb", 1 / 1024)):
            ours = median([getattr(r, key) for r in runs["streamed"]]) * scale
            ref = median([getattr(r, key) for r in runs["in memory"]]) * scale
            print(f"| {label} | {ours:.2f} | {ref:.2f} | {ours / ref:.2f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
