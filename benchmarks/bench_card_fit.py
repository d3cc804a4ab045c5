"""Grade shares of the shipped card and of a card fitted to the book, on several book shapes.

    .venv/bin/python benchmarks/bench_card_fit.py --work /tmp/bench-card-fit [--customers 5000]

A demo book (``tiering demo``'s seed 42) and the shapes ``../shared/tools/book_variant.py`` makes
of it: every amount in thousands, transactions only (no quantities, no customers or
interactions file), and the same with nine months of history for a young cohort. Each book is
loaded, trained on with the shipped training configs (the gate's champions, as they come),
rated with the shipped card, fitted (``tiering scorecard fit``) and rated with the fitted card.
Printed: each rating's grade shares, the checks that failed, and how many customers could reach
the top grade (the card's best total blended with full retention and value points).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TIERING = Path(sys.executable).with_name("tiering")
VARIANT = ROOT.parent / "shared" / "tools" / "book_variant.py"
AS_OF = date(2025, 12, 31)
SHAPES: dict[str, list[str]] = {
    "demo book": [],
    "in thousands, transactions only": ["--amount-scale", "0.001", "--transactions-only",
                                        "--drop-columns", "quantity"],
    "in thousands, transactions only, 9 months": [
        "--amount-scale", "0.001", "--transactions-only", "--drop-columns", "quantity",
        "--history-months", "9", "--cohort-months", "3"],
    "in thousands, with quantities and interactions": ["--amount-scale", "0.001"],
}


def tiering(*args: str, env: dict[str, str]) -> str:
    proc = subprocess.run([str(TIERING), *args], env=env, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"tiering {' '.join(args)} failed:\n{proc.stdout[-2000:]}"
                         f"{proc.stderr[-2000:]}")
    return proc.stdout


def load(raw: Path, out: Path, env: dict[str, str]) -> Path:
    args = ["load", "--transactions", str(raw / "transactions.parquet"), "--as-of",
            AS_OF.isoformat(), "--out", str(out)]
    for name in ("customers", "interactions"):
        if (raw / f"{name}.parquet").exists():
            args += [f"--{name}", str(raw / f"{name}.parquet")]
    tiering(*args, env=env)
    return out


def rate(clean: Path, config: Path, store: Path, env: dict[str, str]) -> dict[str, object]:
    from customer_tiering.core.settings import Settings
    from customer_tiering.rating.runs import run_periodic_rating

    settings = Settings(mlflow_uri=env["TIERING_MLFLOW_URI"], data_dir=Path(env["TIERING_DATA_DIR"]),
                        config_dir=config, database_url=f"sqlite:///{store}")
    record = run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=clean).record
    counts = pd.Series(record.counts, dtype=float).reindex(list(record.grade_labels),
                                                           fill_value=0.0)
    failed = [c["id"] for c in record.checks or [] if not c["passed"]]
    return {**(counts / counts.sum()).round(3).to_dict(), "failed checks": ", ".join(failed) or "-"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-card-fit"))
    parser.add_argument("--customers", type=int, default=5_000)
    args = parser.parse_args()
    work: Path = args.work
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base_env = {**os.environ, "TIERING_LANG": "en"}
    raw = work / "demo"
    tiering("demo-data", "--customers", str(args.customers), "--seed", "42", "--out", str(raw),
            env=base_env)
    rows: dict[str, dict[str, object]] = {}
    for i, (shape, variant_args) in enumerate(SHAPES.items()):
        book = work / f"book{i}"
        env = {**base_env, "TIERING_MLFLOW_URI": f"sqlite:///{book / 'mlflow.db'}",
               "TIERING_DATA_DIR": str(book / "work")}
        book.mkdir()
        source = raw
        if variant_args:
            subprocess.run([sys.executable, str(VARIANT), "--src", str(raw), "--out",
                            str(book / "raw"), *variant_args], check=True, capture_output=True)
            source = book / "raw"
        clean = load(source, book / "clean", env)
        tiering("train", "all", "--as-of", AS_OF.isoformat(), "--data", str(clean), env=env)
        shipped = ROOT / "serving" / "config"
        rows[f"{shape}, shipped card"] = rate(clean, shipped, book / "shipped.db", env)
        if variant_args:
            fitted = book / "fitted" / "scorecard.yaml"
            notes = tiering("scorecard", "fit", "--data", str(clean), "--as-of",
                            AS_OF.isoformat(), "--out", str(fitted), env=env)
            rows[f"{shape}, fitted card"] = rate(clean, fitted.parent, book / "fitted.db", env)
            print(f"## {shape}: fit notes\n" + "\n".join(
                line for line in notes.splitlines() if ":" in line and "no customer" in line))
        print(f"{shape}: done", flush=True)
    table = pd.DataFrame(rows).T.fillna(0.0)
    print("| book, card | " + " | ".join(map(str, table.columns)) + " |")
    print("| --- " * (len(table.columns) + 1) + "|")
    for name, row in table.iterrows():
        cells = [f"{v:.1%}" if isinstance(v, float) else str(v) for v in row]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
