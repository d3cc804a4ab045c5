"""What each feature group adds to the churn and value models, on several book shapes (by hand).

    .venv/bin/python benchmarks/bench_feature_groups.py --data NAME=CLEAN_DIR [NAME=CLEAN_DIR ...]

For each clean data set (``tiering load`` output), with the shipped churn and value configs and
their snapshot plan (reduced to what the book affords, as ``tiering train`` does): the model is
fitted with the features known before the real-books work (``base``), then with each new group
added alone, then with all of them (the shipped set). Each is scored on the training job's
holdout; the gain over ``base`` comes with a paired bootstrap interval (customers resampled,
200 draws). Groups:

* ``btyd``: ``repeat_purchase_days``, ``days_first_to_last_purchase``,
  ``days_since_first_purchase``, ``mean_repeat_purchase_amount``;
* ``rhythm``: ``last_gap_days``, ``recency_to_mean_gap``.
"""

from __future__ import annotations

import argparse
import json
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2025, 12, 31)
GROUPS = {
    "btyd": ["repeat_purchase_days", "days_first_to_last_purchase", "days_since_first_purchase",
             "mean_repeat_purchase_amount"],
    "rhythm": ["last_gap_days", "recency_to_mean_gap"],
}


def _bootstrap(metric: object, y: np.ndarray, a: np.ndarray, b: np.ndarray, draws: int = 200
               ) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    diffs = []
    for _ in range(draws):
        i = rng.integers(0, len(y), len(y))
        diffs.append(metric(y[i], a[i]) - metric(y[i], b[i]))  # type: ignore[operator]
    lo, hi = np.quantile(diffs, [0.025, 0.975])
    return float(metric(y, a) - metric(y, b)), float(lo), float(hi)  # type: ignore[operator]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", required=True, help="NAME=CLEAN_DIR")
    args = parser.parse_args()

    from customer_tiering.core.config_io import load_yaml_model
    from customer_tiering.ingest.clean_data import CleanDataSet
    from customer_tiering.models.evaluation import capture_at, roc_auc
    from customer_tiering.models.spec import TrainingConfig, make_estimator
    from customer_tiering.training.fitting import planned_dates, supervised_snapshots

    new = {f for group in GROUPS.values() for f in group}
    report: dict[str, dict[str, object]] = {}
    for item in args.data:
        name, folder = item.split("=", 1)
        inputs = CleanDataSet.from_dir(folder)
        for job, label in (("churn", "churned"), ("value", "future_amount")):
            cfg = load_yaml_model(ROOT / "training" / "config" / f"{job}.yaml", TrainingConfig)
            snaps = supervised_snapshots(inputs, cfg, AS_OF)
            holdout = planned_dates(inputs, cfg, AS_OF).holdout
            train = snaps[snaps["as_of"] < np.datetime64(holdout)]
            hold = snaps[snaps["as_of"] == np.datetime64(holdout)]
            shipped = cfg.model_features()
            sets = {"base": [f for f in shipped if f not in new]}
            for group, members in GROUPS.items():
                sets[f"base+{group}"] = sets["base"] + members
            sets["all (shipped)"] = shipped
            y = hold[label].to_numpy(dtype=float)

            def metric(yy: np.ndarray, s: np.ndarray, job: str = job) -> float:
                return float(roc_auc(yy, s) if job == "churn" else capture_at(yy, s, 0.2))

            scores = {}
            for set_name, features in sets.items():
                model = make_estimator(job, cfg.params, features=features, seed=cfg.seed,
                                       horizon_days=cfg.data.horizon_days)
                model.fit(train, train[label], as_of=train["as_of"])
                scores[set_name] = (model.predict_proba(hold)[:, 1] if job == "churn"
                                    else np.asarray(model.predict(hold), dtype=float))
            rows = {}
            for set_name, s in scores.items():
                point, lo, hi = _bootstrap(metric, y, s, scores["base"])
                rows[set_name] = {"metric": metric(y, s), "gain": point, "lo": lo, "hi": hi}
            report[f"{name}/{job}"] = {"holdout": str(holdout), "customers": len(hold),
                                       "metric": "roc_auc" if job == "churn" else "top20_capture",
                                       "rows": rows}
            print(json.dumps({f"{name}/{job}": report[f"{name}/{job}"]}, indent=1), flush=True)


if __name__ == "__main__":
    main()
