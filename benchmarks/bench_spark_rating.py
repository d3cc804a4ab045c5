"""Spark rating benchmark (issue 21): ``tiering rate --engine spark --spark-master local[2]`` beside
the embedded ``tiering rate`` on the same files, in the same run.

    .venv/bin/python benchmarks/bench_spark_rating.py --train-data DIR --rate-data DIR [--work DIR]
        [--skip-train] [--spark-conf "spark.driver.memory=6g,..."]

Steps:

1. ``tiering train all`` on ``--train-data`` with the large-book configs (``training/config/large``)
   into a fresh MLflow store under ``--work`` (skipped with ``--skip-train``); a version the gate
   leaves as challenger is promoted by hand, with a reason.
2. The embedded ``tiering rate --as-of 2025-12-31`` into a fresh SQLite store.
3. ``tiering rate --engine spark --spark-master local[2]`` on the same files into another fresh
   SQLite store.

Each command's process tree is sampled every 0.5 s (``psutil``): peak RSS of the whole tree, and
per role: the driver's Python, the JVM (in ``local[N]`` the driver and the executors' JVM side),
and the executors' Python workers. Wall time and the command's own "seconds by stage" are printed,
then the two stored ratings are compared (the same key, grade counts, and every customer's grade
and total).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TIERING = Path(sys.executable).with_name("tiering")
AS_OF = "2025-12-31"
DEFAULT_SPARK_CONF = ("spark.driver.memory=6g,spark.sql.shuffle.partitions=64,"
                      "spark.sql.execution.arrow.maxRecordsPerBatch=20000")


def _role(proc: Any) -> str:
    try:
        name, cmd = proc.name(), " ".join(proc.cmdline())
    except Exception:
        return "gone"
    if name.startswith("java"):
        return "jvm"
    if "pyspark.daemon" in cmd or "pyspark/daemon" in cmd or "pyspark.worker" in cmd:
        return "python_workers"
    return "driver_python"


def timed(cmd: list[str], env: dict[str, str], log: Path) -> dict[str, Any]:
    """Run ``cmd``; wall time, peak RSS of its process tree (all and by role), its output."""
    import psutil

    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
        peaks: dict[str, int] = {"total": 0}
        stop = threading.Event()

        def sample() -> None:
            root = psutil.Process(proc.pid)
            while not stop.is_set():
                try:
                    tree = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    return
                by_role: dict[str, int] = {}
                for p in tree:
                    try:
                        rss = p.memory_info().rss
                    except psutil.Error:
                        continue
                    role = _role(p)
                    by_role[role] = by_role.get(role, 0) + rss
                peaks["total"] = max(peaks["total"], sum(by_role.values()))
                for role, rss in by_role.items():
                    peaks[role] = max(peaks.get(role, 0), rss)
                stop.wait(0.5)

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
        code = proc.wait()
        stop.set()
        thread.join()
    wall = time.perf_counter() - started
    text = log.read_text(encoding="utf-8")
    if code != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({code}); see {log}\n{text[-3000:]}")
    found = re.search(r"seconds by stage: (.*)", text)
    stages = dict(re.findall(r"(\w+) ([\d.]+)", found.group(1))) if found else {}
    return {"wall": wall, "peaks": peaks, "stages": stages, "output": text}


def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def compare(embedded_url: str, spark_url: str) -> str:
    """Same key and counts; every customer's grade equal and total within 1e-9 (relative)."""
    import numpy as np

    from customer_tiering.store.tier_store import TierStore

    a, b = TierStore.open(embedded_url), TierStore.open(spark_url)
    try:
        ra, rb = a.latest_rating(), b.latest_rating()
        assert ra is not None and rb is not None
        ga = a.grades(ra.id, columns=["customer_id", "grade", "total"])
        gb = b.grades(rb.id, columns=["customer_id", "grade", "total"])
        same_ids = ga["customer_id"].tolist() == gb["customer_id"].tolist()
        same_grades = same_ids and ga["grade"].tolist() == gb["grade"].tolist()
        worst = float(np.max(np.abs(ga["total"].to_numpy() - gb["total"].to_numpy())
                             / np.maximum(np.abs(ga["total"].to_numpy()), 1e-300)))
        return (f"rating key equal: {ra.rating_key == rb.rating_key}; counts equal: "
                f"{ra.counts == rb.counts}; customers {len(ga):,} vs {len(gb):,}; every grade "
                f"equal: {same_grades}; largest relative total difference {worst:.1e}")
    finally:
        a.close()
        b.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train-data", type=Path, required=True)
    parser.add_argument("--rate-data", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench-spark-rating"))
    parser.add_argument("--skip-train", action="store_true")
    parser.add_argument("--training-config", type=Path,
                        default=ROOT / "training" / "config" / "large")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--spark-conf", default=DEFAULT_SPARK_CONF)
    args = parser.parse_args()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "COLUMNS": "400",  # Rich: one line for "seconds by stage"
           "TIERING_MLFLOW_URI": f"sqlite:///{work / 'mlflow' / 'mlflow.db'}",
           "TIERING_DATA_DIR": str(work / "data"),
           "TIERING_TRAINING_CONFIG_DIR": str(args.training_config.resolve())}
    if not args.skip_train:
        import shutil

        shutil.rmtree(work / "mlflow", ignore_errors=True)
        (work / "mlflow").mkdir()
        run = timed([str(TIERING), "train", "all", "--as-of", AS_OF, "--data",
                     str(args.train_data)], env, work / "train.log")
        print(f"train all on {args.train_data}: {run['wall']:.0f} s")
        for name, version, alias in re.findall(r"(tiering-\w+) version (\d+): (\w+)",
                                               run["output"]):
            print(f"  {name} v{version}: {alias}")
            if alias != "champion":
                timed([str(TIERING), "promote", name, version, "--reason",
                       "benchmark: rate with this version"], env, work / "promote.log")
    results = {}
    urls = {}
    for engine in ("embedded", "spark"):
        db = work / f"{engine}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        urls[engine] = f"sqlite:///{db}"
        cmd = [str(TIERING), "rate", "--as-of", AS_OF, "--data", str(args.rate_data)]
        extra = {"TIERING_DATABASE_URL": urls[engine]}
        if engine == "spark":
            cmd += ["--engine", "spark", "--spark-master", args.spark_master]
            extra["TIERING_SPARK_CONF"] = args.spark_conf
        results[engine] = timed(cmd, {**env, **extra}, work / f"rate-{engine}.log")
        r = results[engine]
        roles = ", ".join(f"{k} {_gb(v)}" for k, v in sorted(r["peaks"].items()) if k != "total")
        print(f"{engine}: {r['wall']:.1f} s wall; peak RSS of the process tree "
              f"{_gb(r['peaks']['total'])} ({roles}); stages (s): "
              + ", ".join(f"{k} {v}" for k, v in r["stages"].items()), flush=True)
    e, s = results["embedded"], results["spark"]
    print(f"ratio spark / embedded wall time: {s['wall'] / e['wall']:.2f}")
    print(compare(urls["embedded"], urls["spark"]))


if __name__ == "__main__":
    main()
