"""Tracking: hashes, fingerprints and runs, against a real temporary SQLite MLflow store."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from pydantic import BaseModel
from sklearn.linear_model import LogisticRegression

from customer_tiering.core.errors import TieringError
from customer_tiering.core.settings import Settings
from customer_tiering.registry.tracking import (
    artifact_location,
    config_hash,
    dataset_fingerprint,
    files_fingerprint,
    flatten_config,
    job_run,
    use_store,
)
from customer_tiering.registry.versions import log_and_register
from customer_tiering.training.run_reports import (
    ModelCard,
    log_comparison,
    log_figure,
    log_metrics_vs_baselines,
    log_model_card,
)


class _Model(BaseModel):
    num_leaves: int = 15
    learning_rate: float = 0.05


class _Config(BaseModel):
    version: int = 1
    horizon_days: int = 90
    windows: list[int] = [90, 180]
    model: _Model = _Model()


def _frame(n: int = 50, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(n)],
            "days_since_last_order": rng.integers(0, 300, n).astype("float64"),
            "order_count_90d": rng.integers(0, 9, n).astype("float64"),
        }
    )


# --- config hash -------------------------------------------------------------------------------


def test_config_hash_is_sha256_of_canonical_json() -> None:
    expected = hashlib.sha256(b'{"a":1,"b":{"c":"\xe5\xae\xa2"}}').hexdigest()
    assert config_hash({"b": {"c": "客"}, "a": 1}) == expected


def test_same_config_same_hash_and_a_changed_field_changes_it() -> None:
    base = config_hash(_Config())
    assert config_hash(_Config()) == base
    assert config_hash(_Config.model_validate({"model": {"num_leaves": 15}})) == base
    assert config_hash(_Config(model=_Model(num_leaves=31))) != base
    assert config_hash(_Config(windows=[90, 365])) != base
    # The validated model and its plain dump describe the same config.
    assert config_hash(_Config().model_dump()) == base


def test_flatten_config_gives_dotted_keys_and_keeps_lists_whole() -> None:
    assert flatten_config(_Config()) == {
        "version": "1",
        "horizon_days": "90",
        "windows": "[90, 180]",
        "model.num_leaves": "15",
        "model.learning_rate": "0.05",
    }


# --- dataset fingerprint -----------------------------------------------------------------------


def test_fingerprint_is_stable_under_row_and_column_reordering() -> None:
    frame = _frame()
    shuffled = frame.sample(frac=1.0, random_state=3).reset_index(drop=True)
    reordered = shuffled[list(reversed(frame.columns))]
    assert dataset_fingerprint(reordered) == dataset_fingerprint(frame)
    tables = {"features": frame, "other": frame.head(5)}
    assert dataset_fingerprint(dict(reversed(tables.items()))) == dataset_fingerprint(tables)


def test_fingerprint_changes_when_one_value_changes() -> None:
    frame = _frame()
    changed = frame.copy()
    changed.loc[17, "order_count_90d"] += 1
    assert dataset_fingerprint(changed) != dataset_fingerprint(frame)


def test_fingerprint_counts_duplicate_rows_and_names() -> None:
    frame = _frame(10)
    doubled = pd.concat([frame, frame.head(1)], ignore_index=True)
    assert dataset_fingerprint(doubled) != dataset_fingerprint(frame)
    assert dataset_fingerprint({"a": frame}) != dataset_fingerprint({"b": frame})
    renamed = frame.rename(columns={"order_count_90d": "order_count_180d"})
    assert dataset_fingerprint(renamed) != dataset_fingerprint(frame)


def test_fingerprint_of_files_hashes_their_bytes_as_the_rating_does(tmp_path: Path) -> None:
    from customer_tiering.rating.runs import clean_data_and_fingerprint

    frame = _frame()
    clean = tmp_path / "clean"
    clean.mkdir()
    path = clean / "transactions.parquet"
    frame.to_parquet(path)
    fingerprint = dataset_fingerprint({"transactions": path})
    assert fingerprint.startswith("files-v1:")
    assert fingerprint == files_fingerprint({"transactions": str(path)})
    assert fingerprint == clean_data_and_fingerprint(clean)[1]
    path.write_bytes(path.read_bytes() + b"\0")
    assert dataset_fingerprint({"transactions": path}) != fingerprint


# --- store and runs ----------------------------------------------------------------------------


def test_artifacts_of_a_sqlite_store_go_beside_the_database(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/m/mlflow.db"
    assert artifact_location(uri) == (tmp_path / "m" / "artifacts").as_uri()
    assert artifact_location("http://tracking:5000") is None
    assert artifact_location("postgresql://u@h/mlflow") is None


def test_default_store_keeps_artifacts_under_models_spelt_relative_like_the_store() -> None:
    default = Settings().mlflow_uri
    assert default == "sqlite:///models/mlflow.db"
    # relative like the store URI: both resolve against the working directory, wherever it is
    assert artifact_location(default) == "models/artifacts"
    assert artifact_location("sqlite:///./a/../models/mlflow.db") == "models/artifacts"
    assert artifact_location("sqlite:///mlflow.db") == "artifacts"


def test_use_store_restores_the_previous_uris(
    mlflow_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    before = (mlflow.get_tracking_uri(), mlflow.get_registry_uri())
    with use_store(mlflow_settings):
        assert mlflow.get_tracking_uri() == mlflow_settings.mlflow_uri
        assert mlflow.get_registry_uri() == mlflow_settings.mlflow_uri
    assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == before
    # Nothing stays exported for child processes either.
    assert "MLFLOW_TRACKING_URI" not in os.environ
    assert "MLFLOW_REGISTRY_URI" not in os.environ

    elsewhere = "sqlite:///elsewhere.db"
    mlflow.set_tracking_uri(elsewhere)
    mlflow.set_registry_uri(elsewhere)
    try:
        with use_store(mlflow_settings):
            pass
        assert (mlflow.get_tracking_uri(), mlflow.get_registry_uri()) == (elsewhere, elsewhere)
    finally:
        mlflow.set_tracking_uri(None)  # type: ignore[arg-type]
        mlflow.set_registry_uri(None)  # type: ignore[arg-type]
        os.environ.pop("MLFLOW_REGISTRY_URI", None)


def _client(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)


def _artifact_paths(client: MlflowClient, run_id: str, path: str | None = None) -> set[str]:
    out: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        out |= _artifact_paths(client, run_id, item.path) if item.is_dir else {item.path}
    return out


def test_a_job_run_holds_params_tags_metrics_and_artifacts(mlflow_settings: Settings) -> None:
    frame = _frame()
    config = _Config()
    fingerprint = dataset_fingerprint(frame)
    with job_run(
        "churn",
        settings=mlflow_settings,
        config=config,
        as_of="2024-06-30",
        dataset_fingerprint=fingerprint,
    ) as run:
        table = log_metrics_vs_baselines(
            {"roc_auc": 0.81, "brier": 0.14},
            {"days_since_last_order_rule": {"roc_auc": 0.74}, "rfm_score": {"roc_auc": 0.77}},
        )
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        log_figure(fig, "calibration")
        card = log_model_card(
            ModelCard(
                model_name="tiering-churn",
                job="churn",
                as_of="2024-06-30",
                data_window="2023-07-01 to 2024-06-30",
                features=["days_since_last_order", "order_count_90d"],
                metrics=table,
                config_hash=config_hash(config),
                dataset_fingerprint=fingerprint,
            )
        )
    client = _client(mlflow_settings)
    stored = client.get_run(run.info.run_id)
    assert stored.info.status == "FINISHED"
    assert stored.info.run_name == "churn-2024-06-30"  # no horizon given
    assert stored.data.params == {
        "version": "1",
        "horizon_days": "90",
        "windows": "[90, 180]",
        "model.num_leaves": "15",
        "model.learning_rate": "0.05",
        "as_of": "2024-06-30",
    }
    tags = stored.data.tags
    assert tags["job"] == "churn"
    assert tags["as_of"] == "2024-06-30"
    assert tags["config_hash"] == config_hash(config)
    assert tags["dataset_fingerprint"] == fingerprint
    assert tags["version.mlflow"] == mlflow.__version__
    assert tags["version.pandas"] == pd.__version__
    assert {"version.lightgbm", "version.scikit-learn", "version.shap"} <= set(tags)
    assert stored.data.metrics == {
        "holdout_roc_auc.model": 0.81,
        "holdout_brier.model": 0.14,
        "holdout_roc_auc.days_since_last_order_rule": 0.74,
        "holdout_roc_auc.rfm_score": 0.77,
    }
    assert _artifact_paths(client, run.info.run_id) == {
        "config.json",
        "metrics/holdout.csv",
        "metrics/holdout.md",
        "figures/calibration.png",
        "model_card.md",
    }
    assert "| roc_auc | 0.8100 | 0.7400 | 0.7700 |" in card
    assert f"`{fingerprint}`" in card
    # Artifacts live beside the store, not in ./mlruns.
    location = artifact_location(mlflow_settings.mlflow_uri)
    assert location is not None
    assert stored.info.artifact_uri.startswith(location)


def test_a_comparison_table_is_logged_as_model_beside_baselines(
    mlflow_settings: Settings,
) -> None:
    # The shape evaluation.compare returns: one row per scorer, one column per metric.
    table = pd.DataFrame(
        {"roc_auc": [0.8, 0.7], "brier": [0.1, float("nan")]},
        index=pd.Index(["model", "rule"], name="scorer"),
    )
    with job_run(
        "churn", settings=mlflow_settings, config={}, as_of="2024-06-30", dataset_fingerprint="x"
    ) as run:
        logged = log_comparison(table)
        with pytest.raises(TieringError, match="no row 'churn_model'"):
            log_comparison(table, model_row="churn_model")
    assert list(logged.columns) == ["model", "rule"]
    assert _client(mlflow_settings).get_run(run.info.run_id).data.metrics == {
        "holdout_roc_auc.model": 0.8,
        "holdout_brier.model": 0.1,
        "holdout_roc_auc.rule": 0.7,
    }


def test_jobs_of_all_are_nested_under_the_parent_run(mlflow_settings: Settings) -> None:
    common = {"settings": mlflow_settings, "as_of": "2024-06-30", "dataset_fingerprint": "v1:x"}
    with job_run("all", config={"jobs": ["segments", "churn"]}, **common) as parent:  # type: ignore[arg-type]
        for job in ("segments", "churn"):
            # A run id and the run itself are both accepted as parent.
            who = parent.info.run_id if job == "segments" else parent
            with job_run(job, config={"k": 5}, parent=who, **common):  # type: ignore[arg-type]
                pass
    client = _client(mlflow_settings)
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert sorted(r.data.tags["job"] for r in children) == ["churn", "segments"]


def test_a_job_that_raises_leaves_a_failed_run(mlflow_settings: Settings) -> None:
    with (
        pytest.raises(RuntimeError, match="boom"),
        job_run(
            "value",
            settings=mlflow_settings,
            config={},
            as_of="2024-06-30",
            dataset_fingerprint="v1:x",
        ) as run,
    ):
        raise RuntimeError("boom")
    assert _client(mlflow_settings).get_run(run.info.run_id).info.status == "FAILED"


def test_mlflow_writes_nothing_into_the_working_directory(
    mlflow_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    frame = _frame()
    X = frame[["days_since_last_order", "order_count_90d"]]
    model = LogisticRegression().fit(X, (X["days_since_last_order"] > 150).astype(int))
    with job_run(
        "churn",
        settings=mlflow_settings,
        config=_Config(),
        as_of="2024-06-30",
        dataset_fingerprint=dataset_fingerprint(frame),
    ):
        log_metrics_vs_baselines({"roc_auc": 0.9}, {"rule": {"roc_auc": 0.8}})
        log_and_register(model, "tiering-churn", X_example=X, predict_fn="predict_proba")
    assert os.listdir(cwd) == []
