"""A rating submitted to a real Spark standalone cluster (one master, one worker, on this machine)
stores what the embedded rating stores.

The master and the worker are started with the ``spark-class`` script pyspark ships, on free
ports, and stopped at the end. The rating runs as ``tiering rate --engine spark --spark-master
spark://127.0.0.1:PORT`` in a process of its own, so the champions travel to the worker's
executors by broadcast (serialised, no shared driver memory) and the rows come back as staged
Parquet.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.store.tier_store import TierStore
from tests.support.engine_compare import assert_same_rating
from tests.support.faults import TIERING, cli_env
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("spark"), pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def _start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([str(_spark_home() / "bin" / "spark-class"), *args], env=env,
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(log: Path, marker: str, process: subprocess.Popen[bytes],
              timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marker in log.read_text(errors="replace"):
            return
        assert process.poll() is None, log.read_text(errors="replace")
        time.sleep(0.5)
    raise AssertionError(f"{marker!r} not in {log}:\n{log.read_text(errors='replace')}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)


@pytest.fixture
def standalone_cluster(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``spark://127.0.0.1:PORT`` of a running master with one worker; the worker's folder."""
    env = {**os.environ, "SPARK_HOME": str(_spark_home()), "SPARK_LOCAL_IP": "127.0.0.1",
           "SPARK_LOG_DIR": str(tmp_path / "logs"), "SPARK_NO_DAEMONIZE": "1"}
    port = _free_port()
    url = f"spark://127.0.0.1:{port}"
    work = tmp_path / "worker"
    master = _start(["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                     "--port", str(port), "--webui-port", str(_free_port())],
                    tmp_path / "master.log", env)
    worker = None
    try:
        _wait_for(tmp_path / "master.log", "I have been elected leader", master)
        worker = _start(["org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1",
                         "--cores", "2", "--memory", "2g", "--work-dir", str(work),
                         "--webui-port", str(_free_port())], tmp_path / "worker.log", env)
        _wait_for(tmp_path / "worker.log", "Successfully registered with master", worker)
        yield url, work
    finally:
        if worker is not None:
            _stop(worker)
        _stop(master)


def test_a_rating_on_a_standalone_cluster_stores_the_embedded_rating(
        standalone_cluster: tuple[str, Path], trained: TrainedEnv, tmp_path: Path) -> None:
    url, work = standalone_cluster
    embedded, on_cluster = f"sqlite:///{tmp_path / 'e.db'}", f"sqlite:///{tmp_path / 'c.db'}"
    want = run_periodic_rating(as_of=AS_OF, settings=trained.settings(embedded),
                               data_dir=trained.clean_dir).record
    env = cli_env(trained, on_cluster, SPARK_LOCAL_IP="127.0.0.1",
                  TIERING_SPARK_CONF="spark.executor.memory=1g, spark.driver.memory=1g, "
                                     "spark.driver.host=127.0.0.1")
    done = subprocess.run([str(TIERING), "rate", "--engine", "spark", "--spark-master", url,
                           "--as-of", AS_OF.isoformat(), "--data", str(trained.clean_dir)],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = TierStore.open(embedded), TierStore.open(on_cluster)
    try:
        got = b.latest_rating()
        assert got is not None
        assert_same_rating(b, got, a, want)
    finally:
        a.close()
        b.close()
    # the executors ran in the worker (their logs are in its folder), not in the driver
    assert list(work.glob("app-*/*/stderr")), sorted(p.name for p in work.rglob("*"))
