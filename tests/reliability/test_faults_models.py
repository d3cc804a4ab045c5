"""The model store fails: missing when the server starts, or a champion's artifact damaged.

What the code promises (``api/state.py``, ``registry/loading.py``): a server keeps the last good
model set when a new champion cannot be loaded, and says why on ``/health/ready`` and in its log;
with no good set at all it is alive but not ready. A rating never falls back to another version
on its own (the rating records which versions graded it, and a person decides on a rollback):
it stops before writing anything, naming the artifact that cannot be loaded and the way back.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import mlflow
import pytest

from customer_tiering.core.settings import Settings
from customer_tiering.rating.runs import run_periodic_rating
from customer_tiering.registry.tracking import MissingModelStoreError, use_store
from customer_tiering.registry.versions import promote
from customer_tiering.store.keys import create_key
from customer_tiering.store.tier_store import TierStore
from tests.api.conftest import free_port, serve
from tests.support.faults import TIERING, assert_no_partial_rating, cli_env, one_line, start_rating
from tests.support.rating_env import AS_OF, TrainedEnv

pytestmark = pytest.mark.xdist_group("rating")
CHURN = "tiering-churn"
WHAT_IF = {"customer_id": "x", "days_since_last_order": 40, "order_count_365d": 6}


def _own_registry(trained: TrainedEnv, tmp_path: Path) -> Settings:
    """The trained champions in a registry of this test's own (aliases are moved here; the
    artifacts stay shared and untouched)."""
    target = tmp_path / "mlflow" / "mlflow.db"
    target.parent.mkdir()
    shutil.copyfile(trained.mlflow_uri.removeprefix("sqlite:///"), target)
    return trained.settings(f"sqlite:///{tmp_path / 'tiering.db'}").model_copy(
        update={"mlflow_uri": f"sqlite:///{target}", "model_poll_seconds": 0.0})


def _crown_a_truncated_copy(settings: Settings, tmp_path: Path) -> tuple[str, Path]:
    """Register a copy of the churn champion whose model file lost its second half (a disk or
    a copy that failed midway) and make it champion; its version and its folder."""
    folder = tmp_path / "damaged-churn"
    with use_store(settings) as client:
        good = client.get_model_version_by_alias(CHURN, "champion")
        mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{CHURN}/{good.version}",
                                            dst_path=str(folder))
        model_file = folder / "model.pkl"
        model_file.write_bytes(model_file.read_bytes()[: model_file.stat().st_size // 2])
        made = client.create_model_version(CHURN, source=folder.as_uri(), run_id=good.run_id,
                                           tags={"config_hash": good.tags["config_hash"]})
        promote(client, CHURN, made.version, reason="test: a damaged artifact")
    return str(made.version), folder


@pytest.mark.slow  # a real `tiering` process: imports and model loading
def test_a_rating_with_a_corrupt_champion_artifact_names_it_and_stores_nothing(
        trained: TrainedEnv, tmp_path: Path) -> None:
    settings = _own_registry(trained, tmp_path)
    version, folder = _crown_a_truncated_copy(settings, tmp_path)
    store_url = settings.tier_store_url()
    child = start_rating(cli_env(trained, store_url, TIERING_MLFLOW_URI=settings.mlflow_uri),
                         AS_OF.isoformat(), trained.clean_dir)
    _, err = child.communicate(timeout=300)
    assert child.returncode == 2, err
    assert "Traceback" not in err, err
    message = one_line(err)
    assert message.startswith(f"error: model '{CHURN}' version {version} (champion)"), err
    assert str(folder) in message and "truncated" in message
    assert f"tiering rollback {CHURN}" in message
    TierStore.open(store_url).close()  # the rating stopped before it opened the store
    assert assert_no_partial_rating(store_url) == {}


def _keys(settings: Settings) -> dict[str, str]:
    store = TierStore.open(settings.tier_store_url())
    try:
        return {"X-API-Key": create_key(store, "admin", "ops")}
    finally:
        store.close()


def test_a_corrupt_new_champion_is_refused_and_the_last_good_set_keeps_serving(
        trained: TrainedEnv, tmp_path: Path) -> None:
    settings = _own_registry(trained, tmp_path)
    server = serve(settings)
    url = next(server)
    try:
        client = httpx.Client(base_url=url, headers=_keys(settings), timeout=120)
        good = client.get("/health/ready").json()["models"]
        first = client.post("/v1/score", json=WHAT_IF).json()

        version, folder = _crown_a_truncated_copy(settings, tmp_path)
        reloaded = client.post("/v1/admin/models/reload").json()
        assert f"model '{CHURN}' version {version}" in reloaded["last_error"]
        assert str(folder) in reloaded["last_error"]
        ready = client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["status"] == "degraded" and ready.json()["models"] == good
        assert client.post("/v1/score", json=WHAT_IF).json() == first
        client.close()
    finally:
        server.close()


def test_a_server_starting_with_a_corrupt_champion_is_live_not_ready_and_names_it(
        trained: TrainedEnv, tmp_path: Path) -> None:
    settings = _own_registry(trained, tmp_path)
    version, folder = _crown_a_truncated_copy(settings, tmp_path)
    server = serve(settings)
    url = next(server)
    try:
        assert httpx.get(f"{url}/health/live").status_code == 200
        ready = httpx.get(f"{url}/health/ready")
        assert ready.status_code == 503 and ready.json()["models"] == {}
        error = ready.json()["model_error"]
        assert f"model '{CHURN}' version {version}" in error and str(folder) in error
    finally:
        server.close()


def test_a_rating_without_its_mlflow_store_names_the_missing_store_and_creates_none(
        trained: TrainedEnv, tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted" / "mlflow.db"
    settings = trained.settings(f"sqlite:///{tmp_path / 'tiering.db'}").model_copy(
        update={"mlflow_uri": f"sqlite:///{missing}"})
    with pytest.raises(MissingModelStoreError, match=f"no file {missing}"):
        run_periodic_rating(as_of=AS_OF, settings=settings, data_dir=trained.clean_dir)
    assert not missing.parent.exists()


@pytest.mark.slow  # a real `tiering` process: imports and model loading
def test_a_server_started_without_its_mlflow_store_is_live_not_ready_and_says_what_is_missing(
        trained: TrainedEnv, tmp_path: Path) -> None:
    missing = tmp_path / "not-mounted" / "mlflow.db"
    env = cli_env(trained, f"sqlite:///{tmp_path / 'tiering.db'}",
                  TIERING_MLFLOW_URI=f"sqlite:///{missing}", TIERING_MODEL_POLL_SECONDS="0")
    port = free_port()
    server = subprocess.Popen([str(TIERING), "serve", "--port", str(port), "--log-level",
                               "warning"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                live = httpx.get(f"{base}/health/live", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None, server.communicate()[1]
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.3)
        assert live.status_code == 200
        ready = httpx.get(f"{base}/health/ready", timeout=10)
        assert ready.status_code == 503 and ready.json()["status"] == "not ready"
        assert f"no file {missing}" in ready.json()["model_error"]
    finally:
        server.send_signal(signal.SIGTERM)
        _, log = server.communicate(timeout=60)
    assert "Traceback" not in log, log
    said = [line for line in log.splitlines() if f"MLflow store sqlite:///{missing} does not "
            "exist" in line]
    assert said, log
    assert not missing.exists() and not missing.parent.exists()  # nothing was made in its place
