"""The served scorers against every baseline on the real future of the demo (run by hand).

    .venv/bin/python benchmarks/bench_served.py --process cycles --customers 100000 --work /work/bench-served

For one demo process: generate the book (seed 5), load it, ``tiering train all --as-of
2025-12-31`` with the shipped configs (wall time and peak memory of that command, measured by
``/usr/bin/time``), then score the **served** champions at 2025-12-31 (the refits, which learnt
every complete window) and every baseline on the same customers, and judge them on the next 90
days, which nobody saw: the generator's hidden ``truth/future_transactions.parquet``.

Population: the customers who ordered in the year before 2025-12-31 (the training population).
Churn: no positive order line in the 90 days; value: net amount in the 90 days. Metrics: churn ROC
AUC, value top-20% capture, with paired bootstrap intervals (customers resampled, 200 draws) of
the served scorer's margin over the best baseline.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2025, 12, 31)
HORIZON = 90


def _run(cmd: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done.stdout + done.stderr


def _prepare(work: Path, process: str, customers: int, env: dict[str, str]) -> dict[str, float]:
    tiering = str(ROOT / ".venv" / "bin" / "tiering")
    if not (work / "clean" / "transactions.parquet").exists():
        _run([tiering, "demo-data", "--customers", str(customers), "--seed", "5", "--process",
              process, "--out", str(work / "raw")], env)
        _run([tiering, "load", "--transactions", str(work / "raw" / "transactions.parquet"),
              "--customers", str(work / "raw" / "customers.parquet"), "--interactions",
              str(work / "raw" / "interactions.parquet"), "--as-of", str(AS_OF), "--out",
              str(work / "clean")], env)
    out = _run(["/usr/bin/time", "-f", "TIME %e %M", tiering, "train", "all", "--as-of",
                str(AS_OF), "--data", str(work / "clean")], env)
    seconds, kb = re.findall(r"TIME ([\d.]+) (\d+)", out)[-1]
    (work / "train.log").write_text(out, encoding="utf-8")
    return {"train_seconds": float(seconds), "train_peak_gb": int(kb) / 1024**2}


def _future_labels(work: Path, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    future = pd.read_parquet(work / "raw" / "truth" / "future_transactions.parquet",
                             columns=["customer_id", "order_date", "amount"])
    day = pd.to_datetime(future["order_date"])
    window = future[(day > pd.Timestamp(AS_OF))
                    & (day <= pd.Timestamp(AS_OF) + pd.Timedelta(days=HORIZON))]
    bought = set(window.loc[window["amount"] > 0, "customer_id"])
    amount = window.groupby("customer_id")["amount"].sum()
    churned = (~ids.isin(bought)).to_numpy(dtype=float)
    value = ids.map(amount).fillna(0.0).to_numpy(dtype=float)
    return churned, value


def _interval(metric: object, y: np.ndarray, a: np.ndarray, b: np.ndarray,
              draws: int = 200) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    point = metric(y, a) - metric(y, b)  # type: ignore[operator]
    diffs = []
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        diffs.append(metric(y[i], a[i]) - metric(y[i], b[i]))  # type: ignore[operator]
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return float(point), float(lo), float(hi)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--process", choices=("cycles", "poisson"), required=True)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--work", type=Path, required=True)
    args = parser.parse_args()
    work = args.work / args.process
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "TIERING_MLFLOW_URI": f"sqlite:///{work / 'mlflow.db'}"}
    (work / "mlflow.db").unlink(missing_ok=True)
    started = time.perf_counter()
    budget = _prepare(work, args.process, args.customers, env)
    os.environ["TIERING_MLFLOW_URI"] = env["TIERING_MLFLOW_URI"]

    from customer_tiering.core.settings import Settings
    from customer_tiering.features.compute import compute_features
    from customer_tiering.models.baselines import churn_baselines, value_baselines
    from customer_tiering.models.evaluation import capture_at, roc_auc
    from customer_tiering.registry.loading import load_version
    from customer_tiering.registry.tracking import use_store

    settings = Settings(mlflow_uri=env["TIERING_MLFLOW_URI"])
    clean = work / "clean"
    features = compute_features(clean / "transactions.parquet", clean / "customers.parquet",
                                clean / "interactions.parquet", as_of=AS_OF)
    features = features[features["days_since_last_order"] <= 365].reset_index(drop=True)
    churned, value = _future_labels(work, features["customer_id"])
    tx = pd.read_parquet(clean / "transactions.parquet",
                         columns=["customer_id", "order_date", "amount"])
    served = {job: load_version(f"tiering-{job}", settings=settings) for job in ("churn", "value")}
    with use_store(settings) as client:
        kinds = {job: client.get_model_version(f"tiering-{job}", s.version).tags.get(
            "scorer.name", "model") for job, s in served.items()}
    churn_scores = {"served": served["churn"].model.predict_proba(features)[:, 1],
                    **churn_baselines(features, tx, as_of=AS_OF, horizon_days=HORIZON)}
    value_scores = {"served": np.asarray(served["value"].model.predict(features), dtype=float),
                    **value_baselines(features, tx, as_of=AS_OF, horizon_days=HORIZON)}

    def top20(y: np.ndarray, s: np.ndarray) -> float:
        return float(capture_at(y, s, 0.2))

    churn_auc = {k: float(roc_auc(churned, v)) for k, v in churn_scores.items()}
    value_cap = {k: top20(value, v) for k, v in value_scores.items()}
    best_churn = max((k for k in churn_auc if k != "served"), key=churn_auc.__getitem__)
    best_value = max((k for k in value_cap if k != "served"), key=value_cap.__getitem__)
    report = {
        "process": args.process, "customers_rated": len(features),
        "churn_rate_next_90d": float(churned.mean()), **budget,
        "served": kinds, "churn_roc_auc": churn_auc, "value_top20_capture": value_cap,
        "churn_margin_over_best_baseline": dict(zip(
            ("point", "lo", "hi"), _interval(roc_auc, churned, churn_scores["served"],
                                             churn_scores[best_churn]), strict=True)),
        "churn_best_baseline": best_churn,
        "value_margin_over_best_baseline": dict(zip(
            ("point", "lo", "hi"), _interval(top20, value, value_scores["served"],
                                             value_scores[best_value]), strict=True)),
        "value_best_baseline": best_value,
        "seconds_total": time.perf_counter() - started,
    }
    (work / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
