"""`tiering load` through DuckDB against the pandas path and against DuckDB alone (run by hand).

    flock /work/bench.lock .venv/bin/python benchmarks/bench_load.py \
        --raw /work/bench-data/100000/raw --runs 3 --csv /work/bench-out/duckdb-load/tx.csv

``--raw`` is a demo data folder (``tiering demo-data``). Measured, alternating, each run in a
fresh process:

* **engine**: :func:`customer_tiering.ingest.bulk_loading.load_to_directory` as ``tiering load``
  runs it (``engine="auto"``: DuckDB for UTF-8 CSV and Parquet files);
* **pandas**: the same with ``engine="pandas"`` (every row through pandas, block by block, as
  ``tiering load`` ran before issue 20), ``--old-runs`` times;
* **DuckDB alone**: DuckDB reading the same transactions file (a CSV with every column as
  VARCHAR), hashing every line and writing it as zstd Parquet, with the same 2 threads: the
  floor any load of that file through DuckDB stands on.

The loads read the transactions file with ``--as-of 2025-12-31``; with ``--book`` the customers
and interactions files too. With ``--csv PATH`` the transactions are first written to ``PATH`` as
a UTF-8 CSV by pandas (most books arrive as CSV exports; kept for later runs) and loaded from it.
After the runs, the engine's and the pandas path's clean data sets are compared byte for byte.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import tempfile
from pathlib import Path

import pyarrow.parquet as pq
from _measure import Run, measure, median

SETUP = """
from datetime import date
from pathlib import Path
tx, cust, inter, out = {paths!r}
"""
LOAD = """
from customer_tiering.ingest.bulk_loading import load_to_directory
results = load_to_directory(Path(out), tx, cust, inter, as_of=date(2025, 12, 31),
                            engine={engine!r})
RESULT = [r.loaded for r in results]
"""
DUCKDB_ALONE = """
import duckdb
con = duckdb.connect(config={"threads": 2})
source = ("read_csv(?, all_varchar=true)" if tx.endswith(".csv") else "read_parquet(?)")
con.execute(f"COPY (SELECT *, hash(COLUMNS(*)) AS line_hash FROM {source}) TO ? "
            "(FORMAT parquet, COMPRESSION zstd)", [tx, out + ".parquet"])
RESULT = con.execute("SELECT count(*) FROM read_parquet(?)", [out + ".parquet"]).fetchone()[0]
"""


def _same_files(a: Path, b: Path) -> bool:
    names = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    return names == sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file()) and all(
        filecmp.cmp(a / n, b / n, shallow=False) for n in names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--old-runs", type=int, default=1, help="runs of the pandas path")
    parser.add_argument("--csv", type=Path, help="load the transactions from this CSV")
    parser.add_argument("--book", action="store_true", help="load customers, interactions too")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    try:
        tx = args.raw / "transactions.parquet"
        if args.csv:
            if not args.csv.exists():  # in its own process: a child inherits its parent's
                # peak RSS at fork on Linux, which would floor every measured run's
                measure(f"import pandas as pd\npd.read_parquet({str(tx)!r}).to_csv("
                        f"{str(args.csv)!r}, index=False)")
            tx = args.csv
        cust = str(args.raw / "customers.parquet") if args.book else None
        inter = str(args.raw / "interactions.parquet") if args.book else None
        lines = pq.ParquetFile(args.raw / "transactions.parquet").metadata.num_rows
        print(f"{lines:,} transaction lines from {tx.name} ({tx.stat().st_size / 1e6:,.0f} MB)"
              + (", with customers and interactions" if args.book else ""))
        runs: dict[str, list[Run]] = {"engine": [], "pandas": [], "DuckDB alone": []}
        bodies = {"engine": LOAD.format(engine="auto"), "pandas": LOAD.format(engine="pandas"),
                  "DuckDB alone": DUCKDB_ALONE}
        for i in range(max(args.runs, args.old_runs)):
            for name, body in bodies.items():
                if i >= (args.old_runs if name == "pandas" else args.runs):
                    continue
                out = work / name.replace(" ", "-")
                shutil.rmtree(out, ignore_errors=True)
                paths = (str(tx), cust, inter, str(out))
                run = measure(body, SETUP.format(paths=paths))
                runs[name].append(run)
                print(f"  run {i + 1} {name}: {run.seconds:.1f} s, {run.peak_mb / 1024:.2f} GB, "
                      f"{run.extra} rows", flush=True)
        same = _same_files(work / "engine", work / "pandas") if args.old_runs else None
        print(f"engine and pandas clean data sets byte for byte equal: {same}")
        print("| | engine (`tiering load`) | pandas path | DuckDB alone | engine / DuckDB | "
              "pandas / engine |\n| --- | --- | --- | --- | --- | --- |")
        for label, key, scale in (("wall time, median (s)", "seconds", 1.0),
                                  ("peak RSS, median (GB)", "peak_mb", 1 / 1024)):
            value = {n: median([getattr(r, key) for r in rs]) * scale if rs else float("nan")
                     for n, rs in runs.items()}
            print(f"| {label} | {value['engine']:.2f} | {value['pandas']:.2f} | "
                  f"{value['DuckDB alone']:.2f} | "
                  f"{value['engine'] / value['DuckDB alone']:.2f} | "
                  f"{value['pandas'] / value['engine']:.2f} |")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
