"""A copied MLflow store folder is self-contained: training there writes and reads under the copy.

Real SQLite stores in temporary folders; a "training" here is a job run that logs and registers a
small model, which opens the experiment the way ``tiering train`` does. Work on the relative
default URI runs in a new process in the folder, as a person's ``tiering train`` would: MLflow
keeps one database engine per URI text for the life of a process, so one process cannot stand for
two folders that share the text ``sqlite:///models/mlflow.db``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.registry.loading import load_version
from customer_tiering.registry.tracking import DEFAULT_EXPERIMENT, job_run, use_store
from customer_tiering.registry.versions import log_and_register

NAME = "tiering-churn"
ROOT = Path(__file__).resolve().parents[2]
DEFAULT_URI = "sqlite:///models/mlflow.db"


def _store(folder: Path, template: Path) -> None:
    """An empty, migrated MLflow database at ``folder/models/mlflow.db``."""
    (folder / "models").mkdir(parents=True)
    shutil.copyfile(template, folder / "models" / "mlflow.db")


def _train(settings: Settings) -> tuple[str, str]:
    """One job run that registers a version; ``(run id, version)``."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"days_since_last_order": rng.integers(0, 300, 40).astype(float),
                      "order_count_90d": rng.integers(0, 9, 40).astype(float)})
    model = LogisticRegression().fit(X, (X["days_since_last_order"] > 150).astype(int))
    with job_run("churn", settings=settings, config={"k": 1}, as_of="2025-12-31",
                 dataset_fingerprint="v1:x", horizon_days=90) as run:
        registered = log_and_register(model, NAME, X_example=X, predict_fn="predict_proba")
    return run.info.run_id, registered.version


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _recorded(settings: Settings, run_id: str | None, version: str) -> tuple[str, str, str]:
    """Where the store says the experiment's, a run's and a version's artifacts are."""
    client = MlflowClient(settings.mlflow_uri, settings.mlflow_uri)
    experiment = client.get_experiment_by_name(DEFAULT_EXPERIMENT)
    assert experiment is not None
    run_id = run_id or client.get_model_version(NAME, version).run_id
    storage = client.get_model_version_download_uri(NAME, version)
    return experiment.artifact_location, client.get_run(run_id).info.artifact_uri, storage


def _predicts(settings: Settings, version: str) -> np.ndarray:
    with use_store(settings):
        model = mlflow.sklearn.load_model(f"models:/{NAME}/{version}")
    return np.asarray(model.predict_proba(pd.DataFrame(
        {"days_since_last_order": [10.0, 280.0], "order_count_90d": [3.0, 0.0]}))[:, 1])


def _in_folder(folder: Path, load: str | None = None) -> dict[str, object]:
    """Train once in ``folder`` with the default relative URI, in a new process; what it saw.

    ``load``: a version to load and score afterwards (``"new"``: the one trained). Returns the
    run id, the version, the recorded locations (:func:`_recorded`) of both, and the scores.
    """
    code = (
        "import json\n"
        "from customer_tiering.core.settings import Settings\n"
        "from tests.registry.test_store_paths import _predicts, _recorded, _train\n"
        f"s = Settings(mlflow_uri={DEFAULT_URI!r}, data_dir='data')\n"
        "run, version = _train(s)\n"
        f"load = version if {load!r} == 'new' else {load!r}\n"
        "out = {'run': run, 'version': version, 'recorded': _recorded(s, run, version)}\n"
        "if load:\n"
        "    out['old'] = _recorded(s, None, load)\n"
        "    out['scores'] = _predicts(s, load).tolist()\n"
        "print(json.dumps(out))\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT / "src"), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    done = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, text=True,
                          capture_output=True, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_copied_default_store_trains_and_loads_under_the_copy(
    _mlflow_template_db: Path, tmp_path: Path
) -> None:
    original, copy = tmp_path / "original", tmp_path / "copy"
    _store(original, _mlflow_template_db)
    first = _in_folder(original, load="new")
    # relative like the store URI, for the experiment and everything derived from it
    location, run_uri, storage = first["recorded"]  # type: ignore[misc]
    assert location == "models/artifacts"
    assert run_uri == f"models/artifacts/{first['run']}/artifacts"
    assert storage.startswith("models/artifacts/models/")

    shutil.copytree(original / "models", copy / "models")
    shutil.rmtree(original)  # anything that writes or reads the original now fails or shows
    second = _in_folder(copy, load=str(first["version"]))
    assert not original.exists()
    assert (copy / "models" / "artifacts" / str(second["run"]) / "artifacts" / "config.json"
            ).is_file()
    np.testing.assert_array_equal(second["scores"], first["scores"])

    # opened by an absolute URI from another folder: a message saying what to do, not MLflow's
    # "No such artifact"; one training with that URI records the paths for it
    absolute = Settings(mlflow_uri=f"sqlite:///{copy / 'models' / 'mlflow.db'}",
                        data_dir=tmp_path / "data")
    MlflowClient(absolute.mlflow_uri, absolute.mlflow_uri).set_registered_model_alias(
        NAME, "champion", str(first["version"]))
    with pytest.raises(TieringError, match="run from the folder that holds the store's models/"):
        load_version(NAME, settings=absolute)
    _train(absolute)
    np.testing.assert_array_equal(
        load_version(NAME, settings=absolute).model.predict_proba(pd.DataFrame(
            {"days_since_last_order": [10.0, 280.0], "order_count_90d": [3.0, 0.0]}))[:, 1],
        first["scores"])


def test_a_store_with_absolute_paths_is_reanchored_when_training_opens_it(
    _mlflow_template_db: Path, tmp_path: Path
) -> None:
    # A store made with an absolute URI records absolute paths (as every store did before).
    original, copy, again = tmp_path / "original", tmp_path / "copy", tmp_path / "again"
    _store(original, _mlflow_template_db)
    absolute = Settings(mlflow_uri=f"sqlite:///{original / 'models' / 'mlflow.db'}",
                        data_dir=tmp_path / "data")
    first_run, first = _train(absolute)
    assert _recorded(absolute, first_run, first)[0] == (original / "models" / "artifacts").as_uri()
    expected = _predicts(absolute, first)
    before = _files(original / "models" / "artifacts")

    # copied and opened by its own absolute URI: re-anchored on the copy
    shutil.copytree(original / "models", copy / "models")
    moved = Settings(mlflow_uri=f"sqlite:///{copy / 'models' / 'mlflow.db'}",
                     data_dir=tmp_path / "data")
    second_run, second = _train(moved)
    where = (copy / "models" / "artifacts").as_uri()
    for recorded in (*_recorded(moved, first_run, first), *_recorded(moved, second_run, second)):
        assert recorded.startswith(where), recorded
    assert _files(original / "models" / "artifacts") == before

    # copied again and opened from its root with the default relative URI: relative from now on
    shutil.copytree(copy / "models", again / "models")
    shutil.rmtree(original)
    shutil.rmtree(copy)
    third = _in_folder(again, load=first)
    assert third["old"][0] == "models/artifacts"  # type: ignore[index]
    for recorded in (*third["old"][1:], *third["recorded"][1:]):  # type: ignore[index]
        assert recorded.startswith("models/artifacts/"), recorded
    np.testing.assert_array_equal(third["scores"], expected)


def test_a_database_copied_without_its_artifacts_is_refused(
    _mlflow_template_db: Path, tmp_path: Path
) -> None:
    original, copy = tmp_path / "original", tmp_path / "copy"
    _store(original, _mlflow_template_db)
    _train(Settings(mlflow_uri=f"sqlite:///{original / 'models' / 'mlflow.db'}",
                    data_dir=tmp_path / "data"))
    before = _files(original / "models" / "artifacts")
    (copy / "models").mkdir(parents=True)
    shutil.copyfile(original / "models" / "mlflow.db", copy / "models" / "mlflow.db")
    lone = Settings(mlflow_uri=f"sqlite:///{copy / 'models' / 'mlflow.db'}",
                    data_dir=tmp_path / "data")
    with pytest.raises(TieringError, match=r"copy the artifacts folder along with mlflow\.db"):
        _train(lone)
    assert _files(original / "models" / "artifacts") == before
