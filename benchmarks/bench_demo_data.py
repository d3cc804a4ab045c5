"""Demo data generation throughput, side by side with the floor: pyarrow writing the same number
of random rows of the same schema to Parquet (what streaming alone costs).

    .venv/bin/python benchmarks/bench_demo_data.py --customers 1000000 --repeat 1 --keep DIR

Prints customers/s, transaction lines/s, peak RSS, and the ratio to the floor.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from _measure import measure, median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep the generated data set here (for bench_features.py)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-demo-"))
    ours, floor = [], []
    lines = 0
    for i in range(args.repeat):
        out = work / f"run{i}"
        run = measure(f"""
            from customer_tiering.demo.generator import generate_demo_data
            s = generate_demo_data({str(out)!r}, customers={args.customers}, seed={args.seed})
            RESULT = s.transactions + s.future_transactions
        """)
        lines = int(run.extra)
        ours.append(run)
        ref = measure(f"""
            import numpy as np, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq
            rng = np.random.default_rng(0)
            total, chunk = {lines}, 2_000_000
            w = None
            for start in range(0, total, chunk):
                n = min(chunk, total - start)
                cust = pc.binary_join_element_wise("C", pc.utf8_lpad(pc.cast(
                    pa.array(rng.integers(0, {args.customers}, n)), pa.string()), 7, "0"), "")
                t = pa.table({{
                    "customer_id": cust,
                    "order_date": pa.array(rng.integers(19000, 20500, n).astype("int32")).cast(
                        pa.date32()),
                    "amount": rng.lognormal(7, 1, n), "quantity": rng.integers(1, 30, n) * 1.0,
                    "product_id": pc.binary_join_element_wise("P", pc.utf8_lpad(pc.cast(
                        pa.array(rng.integers(1, 400, n)), pa.string()), 4, "0"), ""),
                    "channel": pa.array(np.array(["direct", "distributor"])[
                        rng.integers(0, 2, n)]),
                    "order_id": pc.binary_join_element_wise("O", pc.cast(
                        pa.array(np.arange(start, start + n)), pa.string()), ""),
                }})
                w = w or pq.ParquetWriter({str(work / "floor.parquet")!r}, t.schema,
                                          compression="zstd")
                w.write_table(t)
            w.close()
        """)
        floor.append(ref)
        if args.keep is not None and i == 0:
            if args.keep.exists():
                shutil.rmtree(args.keep)
            shutil.copytree(out, args.keep)
        shutil.rmtree(out, ignore_errors=True)
    t_ours = median([r.seconds for r in ours])
    t_floor = median([r.seconds for r in floor])
    print(f"customers: {args.customers:,}; transaction lines (history + future): {lines:,}")
    print(f"runs (ours s): {[round(r.seconds, 1) for r in ours]}; "
          f"floor s: {[round(r.seconds, 1) for r in floor]}")
    print(f"demo-data median {t_ours:.1f} s = {args.customers / t_ours:,.0f} customers/s, "
          f"{lines / t_ours:,.0f} lines/s; peak RSS {max(r.peak_mb for r in ours):,.0f} MB")
    print(f"floor (pyarrow writing the same rows) median {t_floor:.1f} s; peak RSS "
          f"{max(r.peak_mb for r in floor):,.0f} MB; ratio ours/floor {t_ours / t_floor:.2f}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
