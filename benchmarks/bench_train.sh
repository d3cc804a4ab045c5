#!/usr/bin/env bash
# `tiering train all` on 100k demo customers with 8 monthly snapshots: wall time and peak memory
# (target: under 5 minutes and 4 GB), and seconds per stage from the runs' `seconds.*` metrics.
#   bash benchmarks/bench_train.sh [CUSTOMERS] [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
work=${2:-/tmp/bench-train}
mkdir -p "$work"
.venv/bin/tiering demo-data --customers "$n" --seed 5 --out "$work/raw" > /dev/null
.venv/bin/tiering load --transactions "$work/raw/transactions.parquet" \
  --customers "$work/raw/customers.parquet" --interactions "$work/raw/interactions.parquet" \
  --as-of 2025-12-31 --out "$work/clean" > /dev/null
rm -rf "$work/mlflow" && mkdir -p "$work/mlflow"
export TIERING_MLFLOW_URI="sqlite:///$work/mlflow/mlflow.db"
/usr/bin/time -f "train all: %e s wall, %M KB peak RSS" .venv/bin/tiering train all \
  --as-of 2025-12-31 --data "$work/clean" > "$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
tail -n 1 "$work/train.log"
.venv/bin/python - <<PY
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri="$TIERING_MLFLOW_URI", registry_uri="$TIERING_MLFLOW_URI")
exp = c.get_experiment_by_name("customer-tiering")
for r in sorted(c.search_runs([exp.experiment_id]), key=lambda r: r.info.start_time):
    stages = {k: round(v, 1) for k, v in r.data.metrics.items() if k.startswith("seconds.")}
    print(r.data.tags.get("job"), r.data.tags.get("alias", ""), stages)
PY
