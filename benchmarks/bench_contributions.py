"""Contributions of the default-config champions: TreeSHAP tables against LightGBM's pred_contrib
(issue 20, item 1), on the same models and rows, side by side in the same run.

    .venv/bin/python benchmarks/bench_contributions.py [--customers 50000] [--rows 20000]
        [--repeats 5] [--work /tmp/bench-contributions] [--training-config training/config]

Steps:

1. A demo book (``generate_demo_data``, seed 5; already valid, so it is read as the clean data
   set) under ``--work``, kept for later runs.
2. The churn and value models the training job would serve, from the shipped configs
   (``training/config/``: depth 5, 31 leaves, early stopping on the purged window, refit):
   the gated fit on the training snapshots, then the serving refit on every snapshot with the
   gated fit's rounds (``refit_for_serving``). Kept as joblib files under ``--work``.
3. ``--rows`` customers of the rating at 2025-12-31 (their features as ``tiering rate`` computes
   them), as the float matrix the models predict on.
4. For each model, alternating, ``--repeats`` times each: ``booster.predict(pred_contrib=True)``
   and the tables' ``contributions``, both with every core (as a rating runs them) and both with
   one thread (a comparison that the other jobs on a shared machine disturb less). Medians,
   rows/s and the ratio; the largest absolute difference over every row and column (bias
   included); the one-time costs (dump + tables, loading the compiled kernel) and the tables'
   memory; one customer at a time (the what-if path), medians over 200 customers.
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2025, 12, 31)


def book(work: Path, customers: int) -> Path:
    from customer_tiering.demo.generator import generate_demo_data

    raw = work / f"book-{customers}"
    if not (raw / "transactions.parquet").exists():
        started = time.perf_counter()
        generate_demo_data(raw, customers=customers, seed=5)
        print(f"demo book, {customers:,} customers: {time.perf_counter() - started:.0f} s")
    return raw


def champions(work: Path, raw: Path, config_dir: Path, customers: int) -> dict[str, Any]:
    """The served churn and value models of the configs in ``config_dir``, trained once."""
    import joblib
    import pandas as pd

    from customer_tiering.core.config_io import load_yaml_model
    from customer_tiering.ingest.clean_data import CleanDataSet
    from customer_tiering.models.spec import TrainingConfig, make_estimator
    from customer_tiering.training.fitting import planned_dates, supervised_snapshots
    from customer_tiering.training.selection import refit_for_serving

    models: dict[str, Any] = {}
    inputs = CleanDataSet.from_dir(raw)
    for job, label in (("churn", "churned"), ("value", "future_amount")):
        path = work / f"{job}-{customers}-{config_dir.name}.joblib"
        if path.exists():
            models[job] = joblib.load(path)
            continue
        cfg = load_yaml_model(config_dir / f"{job}.yaml", TrainingConfig)
        started = time.perf_counter()
        dates = planned_dates(inputs, cfg, AS_OF)
        snaps = supervised_snapshots(inputs, cfg, AS_OF, dates)
        train = snaps[snaps["as_of"] < pd.Timestamp(dates.holdout)].reset_index(drop=True)
        model = make_estimator(job, cfg.params, features=cfg.model_features(), seed=cfg.seed,
                               horizon_days=cfg.data.horizon_days)
        model.fit(train, train[label], as_of=train["as_of"])
        served = refit_for_serving(model, snaps, label) if cfg.serve_refit else model
        print(f"{job}: trained on {len(snaps):,} snapshot rows in "
              f"{time.perf_counter() - started:.0f} s")
        joblib.dump(served, path)
        models[job] = served
    return models


def rows_to_explain(raw: Path, n: int) -> Any:
    from customer_tiering.ingest.clean_data import CleanDataSet
    from customer_tiering.rating.runs import rating_features

    features = rating_features(CleanDataSet.from_dir(raw), AS_OF)
    if len(features) < n:
        raise SystemExit(f"the book rates {len(features):,} customers; --rows asks {n:,}")
    return features.sample(n=n, random_state=0).reset_index(drop=True)


def shape(model: Any) -> str:
    trees = model.booster_.dump_model()["tree_info"]
    leaves = [t["num_leaves"] for t in trees]
    depth = _depth(trees)
    return (f"{len(trees)} trees, {np.mean(leaves):.1f} leaves a tree on average, depth <= "
            f"{depth}, {sum(_categorical(t['tree_structure']) for t in trees)} categorical splits")


def _depth(trees: list[dict[str, Any]]) -> int:
    def walk(node: dict[str, Any]) -> int:
        if "split_index" not in node:
            return 0
        return 1 + max(walk(node["left_child"]), walk(node["right_child"]))

    return max(walk(t["tree_structure"]) for t in trees)


def _categorical(node: dict[str, Any]) -> int:
    if "split_index" not in node:
        return 0
    return (node["decision_type"] == "==") + _categorical(node["left_child"]) + _categorical(
        node["right_child"])


def compare(name: str, model: Any, features: Any, repeats: int) -> dict[str, float]:
    from customer_tiering.models.fast_treeshap import TreeShapTables, treeshap_tables

    booster, rounds = model.booster_, model.best_iteration_
    X = model._prepared(features)
    started = time.perf_counter()
    tables = treeshap_tables(booster, rounds)
    built = time.perf_counter() - started
    assert isinstance(tables, TreeShapTables), tables
    started = time.perf_counter()
    tables.contributions(X[:1])  # loads the compiled kernel (compiles it on the first run)
    first = time.perf_counter() - started
    print(f"\n{name}: {shape(model)}; tables {tables.nbytes / 2**20:.1f} MB, built in "
          f"{built:.2f} s (dump + tabulate), kernel loaded in {first:.2f} s")

    ours_out = tables.contributions(X)
    theirs_out = booster.predict(X, pred_contrib=True, num_iteration=rounds)
    diff = float(np.max(np.abs(ours_out - theirs_out)))
    raw = booster.predict(X, raw_score=True, num_iteration=rounds)
    sums = float(np.max(np.abs(ours_out.sum(axis=1) - raw)))
    print(f"  max |tables - pred_contrib| over {X.shape[0]:,} rows x {X.shape[1] + 1} columns "
          f"(bias included): {diff:.2e}; max |row sum - raw score|: {sums:.2e}")

    result = {"max_diff": diff}
    for label, threads in (("all cores", 0), ("1 thread", 1)):
        times: dict[str, list[float]] = {"pred_contrib": [], "tables": []}
        for _ in range(repeats):
            started = time.perf_counter()
            booster.predict(X, pred_contrib=True, num_iteration=rounds, num_threads=threads)
            times["pred_contrib"].append(time.perf_counter() - started)
            started = time.perf_counter()
            tables.contributions(X, threads=threads or None)
            times["tables"].append(time.perf_counter() - started)
        med = {k: statistics.median(v) for k, v in times.items()}
        for method, secs in med.items():
            print(f"  {label:9} {method:12}: median {secs:6.2f} s = {len(X) / secs:8,.0f} rows/s"
                  f"  (runs {', '.join(f'{s:.2f}' for s in times[method])})")
        ratio = med["pred_contrib"] / med["tables"]
        pairs = [a / b for a, b in zip(times["pred_contrib"], times["tables"], strict=True)]
        print(f"  {label:9} ratio (pred_contrib time / tables time): {ratio:.2f} (ratios of "
              f"the back-to-back pairs {min(pairs):.2f}-{max(pairs):.2f})")
        result[f"ratio {label}"] = ratio

    one: dict[str, list[float]] = {"pred_contrib": [], "tables": []}
    for i in range(200):
        row = X[i:i + 1]
        started = time.perf_counter()
        booster.predict(row, pred_contrib=True, num_iteration=rounds, num_threads=1)
        one["pred_contrib"].append(time.perf_counter() - started)
        started = time.perf_counter()
        tables.contributions(row)
        one["tables"].append(time.perf_counter() - started)
    print("  one customer at a time: " + ", ".join(
        f"{k} median {statistics.median(v) * 1e3:.2f} ms" for k, v in one.items()))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-contributions"))
    parser.add_argument("--training-config", type=Path, default=ROOT / "training" / "config")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    raw = book(args.work, args.customers)
    models = champions(args.work, raw, args.training_config.resolve(), args.customers)
    features = rows_to_explain(raw, args.rows)
    results = {name: compare(name, model, features, args.repeats)
               for name, model in models.items()}
    print("\nsummary: " + "; ".join(
        f"{name}: max diff {r['max_diff']:.1e}, ratio {r['ratio all cores']:.2f} (all cores) / "
        f"{r['ratio 1 thread']:.2f} (1 thread)" for name, r in results.items()))


if __name__ == "__main__":
    main()
