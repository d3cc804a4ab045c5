"""MLflow as people open it: the classic ML view, named runs, and the real UI in Chromium.

The browser test starts the real ``mlflow ui`` on the demo-like store the ``trained`` fixture
built (demo data, the shipped configs made small, ``train_all``), opens the page the project
prints in a new headless Chromium (no stored preferences, so nothing but the address chooses the
view) and checks that it lands on the runs table with the runs named by job, horizon and date,
and that a registered version shows its description and its current alias.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mlflow.tracking import MlflowClient
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from customer_tiering.core.settings import Settings
from customer_tiering.registry.mlflow_ui import (
    EXPERIMENT_TAGS,
    run_name,
    ui_command,
    ui_url,
)
from customer_tiering.registry.tracking import DEFAULT_EXPERIMENT, job_run
from customer_tiering.registry.versions import champion_version
from tests.support.rating_env import TrainedEnv

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
MLFLOW = Path(sys.executable).with_name("mlflow")
KIND = "mlflow.experimentKind"


# --- names, links and tags ---------------------------------------------------------------------


def test_run_names_carry_job_horizon_and_date() -> None:
    from datetime import date

    assert run_name("churn", date(2025, 12, 31), 90) == "churn-h90-2025-12-31"
    assert run_name("value", "2025-12-31", [60]) == "value-h60-2025-12-31"
    assert run_name("all", "2025-12-31", [90, 60, 90]) == "all-h60-h90-2025-12-31"
    assert run_name("segments", "2025-12-31") == "segments-2025-12-31"


def test_links_open_the_classic_ml_view() -> None:
    assert ui_url("http://127.0.0.1:5000/", "1") == (
        "http://127.0.0.1:5000/#/experiments/1/runs?workflowType=machine_learning")
    assert ui_url("http://h:5001", "3", "abc") == (
        "http://h:5001/#/experiments/3/runs/abc?workflowType=machine_learning")
    settings = Settings(mlflow_ui_url="http://127.0.0.1:5001")
    assert ui_command(settings, "1") == (
        f"mlflow ui --backend-store-uri {settings.mlflow_uri} --port 5001, then open "
        "http://127.0.0.1:5001/#/experiments/1/runs?workflowType=machine_learning")


def test_the_bare_address_of_tiering_mlflow_ui_redirects_to_the_runs_table() -> None:
    from customer_tiering.registry.mlflow_app import landing_page

    assert landing_page("7") == "/?view=runs#/experiments/7/runs?workflowType=machine_learning"
    assert landing_page(None) == "/?view=runs#/experiments?workflowType=machine_learning"


def test_the_experiment_is_tagged_for_the_classic_ml_view_new_or_old(
    mlflow_settings: Settings
) -> None:
    client = MlflowClient(mlflow_settings.mlflow_uri, mlflow_settings.mlflow_uri)
    # made before the tags existed: a plain experiment with MLflow's default artifact root
    old = client.create_experiment(DEFAULT_EXPERIMENT)
    assert KIND not in client.get_experiment(old).tags
    # a run of an earlier train_job, tagged with the alias it had then (stale after a promote)
    earlier = client.create_run(old, tags={"alias": "champion", "champion_version": "3",
                                           "job": "churn"})
    common = {"settings": mlflow_settings, "config": {}, "as_of": "2025-12-31",
              "dataset_fingerprint": "v1:x"}
    with job_run("churn", horizon_days=90, **common) as run:  # type: ignore[arg-type]
        pass
    with job_run("value", experiment="another", **common):  # type: ignore[arg-type]
        pass
    for name in (DEFAULT_EXPERIMENT, "another"):
        experiment = client.get_experiment_by_name(name)
        assert experiment is not None
        assert {k: experiment.tags.get(k) for k in EXPERIMENT_TAGS} == EXPERIMENT_TAGS
    assert not {"alias", "champion_version"} & set(
        client.get_run(earlier.info.run_id).data.tags)
    assert client.get_run(earlier.info.run_id).data.tags["job"] == "churn"
    stored = client.get_run(run.info.run_id)
    assert stored.info.run_name == "churn-h90-2025-12-31"
    assert stored.data.tags["horizon_days"] == "90"
    # the old experiment now keeps its artifacts beside the store, like a new one
    assert stored.info.artifact_uri.startswith(
        (Path(mlflow_settings.mlflow_uri.removeprefix("sqlite:///")).parent / "artifacts")
        .as_uri())


# --- the real UI in Chromium --------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def mlflow_ui(trained: TrainedEnv, tmp_path: Path) -> Iterator[str]:
    """``mlflow ui`` on the trained store, on a free port; its address."""
    port = _free_port()
    log = tmp_path / "mlflow-ui.log"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(MLFLOW), "ui", "--backend-store-uri", trained.mlflow_uri, "--host", "127.0.0.1",
             "--port", str(port), "--workers", "1"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    yield from _served(server, f"http://127.0.0.1:{port}", log)


@pytest.fixture
def tiering_mlflow_ui(trained: TrainedEnv, tmp_path: Path) -> Iterator[str]:
    """``tiering mlflow-ui`` on the trained store, on a free port; its address."""
    port = _free_port()
    log = tmp_path / "tiering-mlflow-ui.log"
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true",
           "TIERING_MLFLOW_URI": trained.mlflow_uri}
    command = [sys.executable, "-c", "from customer_tiering.cli import app; app()",
               "mlflow-ui", "--port", str(port)]
    with log.open("w") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
    yield from _served(server, f"http://127.0.0.1:{port}", log)


def _served(server: subprocess.Popen[bytes], url: str, log: Path) -> Iterator[str]:
    try:
        deadline = time.monotonic() + 600  # a bound against hanging, not a speed requirement
        while True:
            assert server.poll() is None, log.read_text()[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    """A new headless Chromium: a fresh profile, so no view the UI remembers; local hosts only."""
    assert Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists(), (
        "Debian's chromium and chromium-driver are needed (make test installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,900",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver: webdriver.Chrome, folder: Path, name: str) -> None:
    path = folder / f"{name}.png"
    driver.save_screenshot(str(path))
    extra = os.environ.get("TIERING_SCREENSHOT_DIR")
    if extra:
        Path(extra).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, Path(extra) / path.name)


def _text(driver: webdriver.Chrome) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


@pytest.mark.slow
@pytest.mark.xdist_group("rating")  # shares the trained store with the rating and page tests
def test_a_new_mlflow_ui_session_opens_on_the_runs_table(
    trained: TrainedEnv, mlflow_ui: str, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    client = MlflowClient(trained.mlflow_uri, trained.mlflow_uri)
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    assert experiment is not None
    assert experiment.tags[KIND] == "custom_model_development"
    wait = WebDriverWait(browser, 120)

    browser.get(ui_url(mlflow_ui, experiment.experiment_id))  # the page tiering train prints
    wait.until(lambda d: "all-h90-2025-12-31" in _text(d))
    _shot(browser, tmp_path, "mlflow-runs")
    assert f"/experiments/{experiment.experiment_id}/runs" in browser.current_url
    assert "traces" not in browser.current_url and "overview" not in browser.current_url
    assert "workflowType=machine_learning" in browser.current_url
    page = _text(browser)
    assert "Runs" in page and "Run Name" in page and "matching run" in page

    # a registered version shows what it predicts, how it was gated, and its current alias
    version = champion_version(client, "tiering-churn")
    assert version is not None
    # the link on the models page: its training run, in the same view
    run = client.get_run(str(client.get_model_version("tiering-churn", version).run_id))
    browser.get(ui_url(mlflow_ui, experiment.experiment_id, run.info.run_id))
    wait.until(lambda d: "churn-h90-2025-12-31" in _text(d))
    assert "workflowType=machine_learning" in browser.current_url
    browser.get(f"{mlflow_ui}/#/models/tiering-churn/versions/{version}?workflowType="
                "machine_learning")
    wait.until(lambda d: "Predicts the probability" in _text(d))
    _shot(browser, tmp_path, "mlflow-version")
    page = _text(browser)
    assert "champion" in page
    assert "Gate" in page and "As of 2025-12-31" in page


@pytest.mark.slow
@pytest.mark.xdist_group("rating")  # shares the trained store with the rating and page tests
def test_tiering_mlflow_ui_opens_a_new_browser_on_the_runs_table_from_its_bare_address(
    trained: TrainedEnv, tiering_mlflow_ui: str, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    client = MlflowClient(trained.mlflow_uri, trained.mlflow_uri)
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    assert experiment is not None
    wait = WebDriverWait(browser, 120)
    browser.get(f"{tiering_mlflow_ui}/")  # what a person types: no view, no experiment
    wait.until(lambda d: "all-h90-2025-12-31" in _text(d))
    _shot(browser, tmp_path, "mlflow-bare-address")
    assert f"/experiments/{experiment.experiment_id}/runs" in browser.current_url
    assert "workflowType=machine_learning" in browser.current_url
    assert "Run Name" in _text(browser)
    # the UI's own pages are MLflow's, unchanged: the API answers and the models page opens
    answer = httpx.get(f"{tiering_mlflow_ui}/ajax-api/2.0/mlflow/experiments/get",
                       params={"experiment_id": experiment.experiment_id}, timeout=30)
    assert answer.status_code == 200
    assert answer.json()["experiment"]["name"] == DEFAULT_EXPERIMENT
