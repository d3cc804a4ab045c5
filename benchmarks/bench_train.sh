#!/usr/bin/env bash
# `tiering train all` with the shipped configs (8 monthly snapshots + the holdout): wall time and
# peak memory (targets: 100k customers under 5 minutes and 4 GB; 1M under 15 minutes and 12 GB),
# seconds per stage from the runs' `seconds.*` metrics, the fit sample and the holdout metrics.
#   bash benchmarks/bench_train.sh [CUSTOMERS] [WORKDIR] [RAW]
# RAW: a `tiering demo-data` folder to load instead of generating one (e.g. the shared bench
# books); an already loaded WORKDIR/clean is reused. PYTHON and TIERING override the venv's.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
work=${2:-/tmp/bench-train}
raw=${3:-$work/raw}
py=${PYTHON:-.venv/bin/python}
tiering=${TIERING:-.venv/bin/tiering}
mkdir -p "$work"
if [ ! -f "$work/clean/transactions.parquet" ]; then
  [ -f "$raw/transactions.parquet" ] || "$tiering" demo-data --customers "$n" --seed 5 --out "$raw" > /dev/null
  "$tiering" load --transactions "$raw/transactions.parquet" \
    --customers "$raw/customers.parquet" --interactions "$raw/interactions.parquet" \
    --as-of 2025-12-31 --out "$work/clean" > /dev/null
fi
rm -rf "$work/mlflow" && mkdir -p "$work/mlflow"
export TIERING_MLFLOW_URI="sqlite:///$work/mlflow/mlflow.db"
/usr/bin/time -f "train all: %e s wall, %M KB peak RSS" "$tiering" train all \
  --as-of 2025-12-31 --data "$work/clean" > "$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
tail -n 1 "$work/train.log"
"$py" - <<PY
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri="$TIERING_MLFLOW_URI", registry_uri="$TIERING_MLFLOW_URI")
exp = c.get_experiment_by_name("customer-tiering")
for r in sorted(c.search_runs([exp.experiment_id]), key=lambda r: r.info.start_time):
    m, p = r.data.metrics, r.data.params
    stages = {k: round(v, 1) for k, v in m.items() if k.startswith("seconds.")}
    print(r.data.tags.get("job"), stages)
    if "fit_sample.fraction" in p:
        print("  fit sample:", {k.split(".", 1)[1]: v for k, v in p.items()
                                if k.startswith("fit_sample.")})
    if "holdout_customers" in p:
        print("  holdout", p.get("holdout_as_of"), p["holdout_customers"], "customers; serves",
              p.get("serves"))
    holdout = {k[len("holdout_"):]: round(v, 4) for k, v in m.items() if k.startswith("holdout_")}
    for metric in sorted({k.split(".", 1)[0] for k in holdout}):
        print(f"  {metric}: " + ", ".join(f"{k.split('.', 1)[1]} {v}" for k, v in holdout.items()
                                          if k.startswith(metric + ".")))
    if r.data.tags.get("job") == "segments":
        print("  ", {k: round(v, 4) for k, v in m.items() if not k.startswith(("seconds", "k_"))})
PY
