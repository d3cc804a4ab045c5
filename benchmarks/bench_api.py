"""API benchmark (issue 7) with wrk on loopback, side by side in one run:

* reading a grade (``GET /v1/customers/{id}``, random customers): p99 and requests/s at 2
  connections (targets: p99 under 10 ms, at least 1,000 requests/s);
* what-if scoring with explanation (``POST /v1/score``) against ``mlflow models serve`` serving
  the same churn champion without explanation (``POST /invocations``), both at 2 connections
  (target: ours at least 3x).

    .venv/bin/python benchmarks/bench_api.py --work /work/bench-rating [--seconds 15] [--runs 3]
        [--workers 1]

``--work`` is a folder left by ``benchmarks/bench_rating.py`` (a rated tier store and an MLflow
store with champions). Both servers run with the same number of worker processes
(``--workers``). Every what-if request posts one of 200 different customers (the champion's own
serving example with its numbers scaled at random, the same bodies for both servers), so nothing
can be answered from a cache. Runs alternate between the two servers; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, timeout: float = 180) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not come up")


def wrk(url: str, script: Path, seconds: int, connections: int = 2) -> dict[str, float]:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                          str(script), url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        found = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        assert found, out
        value, unit = float(found.group(1)), found.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50"), "p99": ms("99"),
            "non2xx": float(errors.group(1)) if errors else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", type=Path, default=Path("/work/bench-rating"))
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    work = args.work.resolve()
    env = {**os.environ, "TIERING_MLFLOW_URI": f"sqlite:///{work / 'mlflow' / 'mlflow.db'}",
           "TIERING_DATABASE_URL": f"sqlite:///{work / 'tiering.db'}",
           "TIERING_DATA_DIR": str(work / "data"), "TIERING_MODEL_POLL_SECONDS": "0",
           "TIERING_TRAINING_CONFIG_DIR": str(ROOT / "training" / "config" / "large"),
           # the benchmark measures throughput: one key's cost budget would cap it at 20 a second
           "TIERING_RATE_LIMIT_BURST": "0"}
    key = subprocess.run([str(BIN / "tiering"), "keys", "create", "--role", "viewer", "--name",
                          "bench"], env=env, capture_output=True, text=True, check=True
                         ).stdout.strip()
    ids = [r[0] for r in sqlite3.connect(work / "tiering.db").execute(
        "SELECT customer_id FROM grades WHERE rating_id = (SELECT max(id) FROM ratings "
        "WHERE kind = 'periodic') ORDER BY random() LIMIT 5000")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    read_lua = tmp / "read.lua"
    read_lua.write_text(
        "local ids = {" + ",".join(f'"{i}"' for i in ids) + "}\n"
        f'wrk.headers["X-API-Key"] = "{key}"\n'
        "math.randomseed(7)\n"
        "request = function() return wrk.format('GET', '/v1/customers/' .. "
        "ids[math.random(#ids)]) end\n", encoding="utf-8")
    # The same customers for both servers: the champion's own serving example, numbers scaled.
    os.environ["MLFLOW_TRACKING_URI"] = env["TIERING_MLFLOW_URI"]
    import mlflow
    import numpy as np

    from customer_tiering.api.schemas import Indicators

    folder = Path(mlflow.artifacts.download_artifacts(artifact_uri="models:/tiering-churn@champion"))
    example = json.loads((folder / "serving_input_example.json").read_text(encoding="utf-8"))
    split = example["dataframe_split"]
    rng = np.random.default_rng(11)
    counts = ("order_count", "distinct_products", "complaint_count", "open_complaint")
    ours_bodies, mlflow_bodies = [], []
    for i in range(200):
        row = list(split["data"][i % len(split["data"])])
        for j, column in enumerate(split["columns"]):
            if isinstance(row[j], float) and column not in ("loyalty", "prospects", "nps",
                                                            "channel_coverage", "yoy_growth"):
                scaled = row[j] * float(rng.lognormal(0.0, 0.3))
                row[j] = float(round(scaled)) if column.startswith(counts) else scaled
        customer = {c: v for c, v in zip(split["columns"], row, strict=True)  # NaN: missing
                    if c in Indicators.model_fields and not (isinstance(v, float) and v != v)}
        customer["customer_id"] = f"W{i}"
        ours_bodies.append(json.dumps(customer, ensure_ascii=False))
        mlflow_bodies.append(json.dumps({"dataframe_split": {"columns": split["columns"],
                                                             "data": [row]}}, ensure_ascii=False))

    def body_script(bodies: list[str], headers: str) -> str:
        return ('wrk.method = "POST"\n' + headers + 'wrk.headers["Content-Type"] = "application/json"\n'
                "local bodies = {" + ",".join(f"[==[{b}]==]" for b in bodies) + "}\n"
                "math.randomseed(7)\n"
                "request = function() return wrk.format(nil, nil, nil, "
                "bodies[math.random(#bodies)]) end\n")

    score_lua = tmp / "score.lua"
    score_lua.write_text(body_script(ours_bodies, f'wrk.headers["X-API-Key"] = "{key}"\n'),
                         encoding="utf-8")
    mlflow_lua = tmp / "mlflow.lua"
    mlflow_lua.write_text(body_script(mlflow_bodies, ""), encoding="utf-8")

    ours_port, mlflow_port = free_port(), free_port()
    ours = subprocess.Popen([str(BIN / "tiering"), "serve", "--port", str(ours_port),
                             "--log-level", "warning", "--workers", str(args.workers)],
                            env=env, cwd=ROOT, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs = subprocess.Popen([str(BIN / "mlflow"), "models", "serve", "-m",
                               "models:/tiering-churn@champion", "--env-manager", "local",
                               "-p", str(mlflow_port), "-h", "127.0.0.1",
                               "--workers", str(args.workers)],
                              env={**env, "MLFLOW_TRACKING_URI": env["TIERING_MLFLOW_URI"],
                                   # mlflow execs `uvicorn` by name: the venv must be on PATH
                                   "PATH": f"{BIN}:{env.get('PATH', '')}"},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        wait_up(f"http://127.0.0.1:{ours_port}/health/live")
        wait_up(f"http://127.0.0.1:{mlflow_port}/ping")
        base = f"http://127.0.0.1:{ours_port}"
        results: dict[str, list[dict[str, float]]] = {"read": [], "score": [], "mlflow": []}
        # warm up every target the same way (first requests load lazily; the first seconds
        # after a start are slower on both servers)
        wrk(base, read_lua, 3)
        wrk(f"{base}/v1/score?explain=true", score_lua, 3)
        wrk(f"http://127.0.0.1:{mlflow_port}/invocations", mlflow_lua, 3)
        for _ in range(args.runs):
            results["read"].append(wrk(base, read_lua, args.seconds))
            results["score"].append(wrk(f"{base}/v1/score?explain=true", score_lua, args.seconds))
            results["mlflow"].append(wrk(f"http://127.0.0.1:{mlflow_port}/invocations",
                                         mlflow_lua, args.seconds))
        for name, runs in results.items():
            med = {k: statistics.median(r[k] for r in runs) for k in ("rps", "p50", "p99")}
            bad = sum(r["non2xx"] for r in runs)
            print(f"{name:>6}: median {med['rps']:,.0f} req/s, p50 {med['p50']:.2f} ms, "
                  f"p99 {med['p99']:.2f} ms, non-2xx {bad:.0f}  (runs: "
                  + ", ".join(f"{r['rps']:,.0f} req/s p99 {r['p99']:.1f} ms" for r in runs) + ")")
        ratio = (statistics.median(r["rps"] for r in results["score"])
                 / statistics.median(r["rps"] for r in results["mlflow"]))
        print(f"workers per server: {args.workers}; what-if with explanation / mlflow models "
              f"serve (no explanation): {ratio:.1f}x (target >= 3x)")
    finally:
        os.killpg(ours.pid, signal.SIGTERM)
        os.killpg(theirs.pid, signal.SIGTERM)
        ours.wait(timeout=30)


if __name__ == "__main__":
    main()
