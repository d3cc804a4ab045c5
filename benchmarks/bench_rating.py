"""Rating benchmark (issue 6): a periodic rating of 1M customers end to end, explanations included,
against 15 minutes and 8 GB; and explanation throughput against bare LightGBM
``predict(pred_contrib=True)`` on the same champion models, side by side in the same run.

    .venv/bin/python benchmarks/bench_rating.py --train-data DIR --rate-data DIR [--work DIR]
        [--training-config training/config/large] [--mlflow STORE.db]

``--train-data``: a clean data set to train the champions on (e.g. 100k demo customers loaded
with ``tiering load``); ``--rate-data``: the data set to rate (e.g. 1M demo customers as generated
by ``tiering demo-data``, already valid). Steps:

1. ``tiering train all`` on the training data (shipped configs), into a fresh MLflow store under
   ``--work``; a model the gate leaves as challenger is promoted by hand, recorded with a reason.
2. ``tiering rate`` on the rating data into a fresh SQLite tier store, timed with
   ``/usr/bin/time`` (wall time and peak RSS of the whole command).
3. On a sample of the rated customers, alternating, ``--repeats`` times each: bare
   ``booster.predict(pred_contrib=True)`` of the churn and value boosters, and our explanation
   (contributions, blend, apportioning, top features, JSON rows, reason lines). Medians and ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIERING = Path(sys.executable).with_name("tiering")
AS_OF = "2025-12-31"


def run(cmd: list[str], env: dict[str, str], log: Path) -> str:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False, cwd=ROOT)
    log.write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed; see {log}\n{proc.stderr[-3000:]}")
    return proc.stdout + proc.stderr


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-data", type=Path, default=None)
    parser.add_argument("--rate-data", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-rating"))
    parser.add_argument("--sample", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--training-config", type=Path, default=ROOT / "training" / "config",
                        help="training config folder (default: the shipped configs; "
                             "training/config/large for the additive ones)")
    parser.add_argument("--mlflow", type=Path, default=None,
                        help="an MLflow store (mlflow.db) trained with --training-config to rate "
                             "with (e.g. bench_train.sh's); implies --skip-train")
    args = parser.parse_args()
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    store = args.mlflow.resolve() if args.mlflow else work / "mlflow" / "mlflow.db"
    args.skip_train = args.skip_train or args.mlflow is not None
    if not args.skip_train and args.train_data is None:
        parser.error("--train-data is needed to train the champions (or give --mlflow)")
    env = {**os.environ, "TIERING_MLFLOW_URI": f"sqlite:///{store}",
           "TIERING_DATABASE_URL": f"sqlite:///{work / 'tiering.db'}",
           "TIERING_DATA_DIR": str(work / "data"),
           "TIERING_TRAINING_CONFIG_DIR": str(args.training_config.resolve())}
    if not args.skip_train:
        import shutil

        shutil.rmtree(work / "mlflow", ignore_errors=True)
        (work / "mlflow").mkdir()
        started = time.perf_counter()
        out = run([str(TIERING), "train", "all", "--as-of", AS_OF, "--data", str(args.train_data)],
                  env, work / "train.log")
        print(f"train all on {args.train_data}: {time.perf_counter() - started:.0f} s")
        for name, version, alias in re.findall(r"(tiering-\w+) version (\d+): (\w+)", out):
            print(f"  {name} v{version}: {alias}")
            if alias != "champion":
                run([str(TIERING), "promote", name, version, "--reason",
                     "benchmark: measure rating speed with this version"], env, work / "promote.log")
    else:  # a given store: its churn and value models serve, as a trained store's would
        promote_models(env, work)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work / 'tiering.db'}{suffix}").unlink(missing_ok=True)
    out = run(["/usr/bin/time", "-f", "@@TIME %e s wall, %M KB peak RSS", str(TIERING), "rate",
               "--as-of", AS_OF, "--data", str(args.rate_data), "--lang", "en"], env,
              work / "rate.log")
    timing = re.search(r"@@TIME ([\d.]+) s wall, (\d+) KB", out)
    assert timing is not None, out[-2000:]
    stages = re.search(r"seconds by stage: (.*?)\n\s*(?:rating|\S+ \d+ with)", out, re.S)
    customers = re.search(r"rating \d+: periodic, as of [\d-]+, ([\d,]+)", out)
    print(f"tiering rate, {customers.group(1) if customers else '?'} customers: "
          f"{float(timing.group(1)):.0f} s wall ({float(timing.group(1)) / 60:.1f} min), "
          f"{int(timing.group(2)) / 1024 / 1024:.2f} GB peak RSS")
    print(f"  stages: {' '.join(stages.group(1).split()) if stages else '?'}")
    explain_vs_pred_contrib(env, args.rate_data, args.sample, args.repeats)


def promote_models(env: dict[str, str], work: Path) -> None:
    """Promote each LightGBM model's latest version where a baseline or an older version serves."""
    from mlflow.tracking import MlflowClient

    uri = env["TIERING_MLFLOW_URI"]
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name in ("tiering-churn", "tiering-value"):
        versions = [v for v in client.search_model_versions(f"name = '{name}'")
                    if v.tags.get("scorer.kind") == "model"]
        latest = max(versions, key=lambda v: int(v.version))
        champion = client.get_model_version_by_alias(name, "champion")
        print(f"  {name}: champion v{champion.version}, latest model v{latest.version}")
        if champion.version != latest.version:
            run([str(TIERING), "promote", name, str(latest.version), "--reason",
                 "benchmark: rate with the LightGBM model"], env, work / "promote.log")


def explain_vs_pred_contrib(env: dict[str, str], data: Path, sample: int, repeats: int) -> None:
    os.environ.update(env)
    import numpy as np

    from customer_tiering.core.settings import Settings
    from customer_tiering.ingest.clean_data import CleanDataSet
    from customer_tiering.rating.champions import load_champions, load_serving_configs
    from customer_tiering.rating.runs import rating_features
    from customer_tiering.scoring.blend import blend
    from customer_tiering.scoring.explain import explanation_records, reason_lines, reference_means
    from customer_tiering.scoring.scorecard import score

    settings = Settings()
    configs = load_serving_configs(settings.config_dir)
    models = load_champions(settings, configs)
    features = rating_features(CleanDataSet.from_dir(data), date.fromisoformat(AS_OF))
    features = features.sample(n=min(sample, len(features)), random_state=0).reset_index(drop=True)

    def bare() -> None:
        for model in (models.churn, models.value):
            X = model._prepared(features)
            model.booster_.predict(X, pred_contrib=True, num_iteration=model.best_iteration_)

    def ours() -> None:
        churn = models.churn.calibrated_contributions(features)
        value = models.value.contributions(features)
        blended = blend(score(features, configs.rules.card), configs.blend,
                        churn_contributions=churn, value_contributions=value,
                        segment=models.segments.predict_names(features),
                        horizon_days=models.horizon_days)
        explanation_records(blended, features)
        reason_lines(blended, reference_means(blended))

    times: dict[str, list[float]] = {"bare pred_contrib": [], "our explanation": []}
    for _ in range(repeats):
        for name, fn in (("bare pred_contrib", bare), ("our explanation", ours)):
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    n = len(features)
    medians = {k: statistics.median(v) for k, v in times.items()}
    for name, secs in medians.items():
        print(f"{name} (churn + value, {n:,} customers): median {secs:.2f} s = {n / secs:,.0f} "
              f"customers/s  (runs: {', '.join(f'{s:.2f}' for s in times[name])})")
    ratio = medians["bare pred_contrib"] / medians["our explanation"]
    print(f"explanation throughput / bare pred_contrib throughput: {ratio:.2f} (target >= 0.50)")
    shapes = {name: {"trees": m.best_iteration_, "max_depth": m.max_depth,
                     "num_leaves": m.num_leaves, "additive": m.additive}
              for name, m in (("churn", models.churn), ("value", models.value))}
    print("model shapes: " + json.dumps(shapes))
    _ = np


if __name__ == "__main__":
    main()
