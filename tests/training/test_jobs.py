"""Training jobs against a real temporary MLflow store on small demo data."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from customer_tiering.cli import app
from customer_tiering.core.config_io import load_yaml_model
from customer_tiering.core.errors import ConfigError
from customer_tiering.core.settings import Settings
from customer_tiering.demo.generator import generate_demo_data
from customer_tiering.features.compute import build_snapshots, compute_features
from customer_tiering.ingest.loading import load_dataset, write_dataset
from customer_tiering.models.spec import TrainingConfig, make_estimator, plan_dates
from customer_tiering.registry.loading import load_version
from customer_tiering.registry.versions import champion_version, promote, rollback
from customer_tiering.training.jobs import train_all, train_job

AS_OF = date(2025, 12, 31)
CONFIG_DIR = Path(__file__).resolve().parents[2] / "training" / "config"
pytestmark = pytest.mark.xdist_group("train")


@pytest.fixture(scope="module")
def clean_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("train-data")
    generate_demo_data(base / "raw", customers=1_500, seed=11)
    dataset = load_dataset(base / "raw" / "transactions.parquet", base / "raw" / "customers.parquet",
                           base / "raw" / "interactions.parquet", as_of=AS_OF)
    return write_dataset(dataset, base / "clean")


def small(job: str, **changes: object) -> TrainingConfig:
    cfg = load_yaml_model(CONFIG_DIR / f"{job}.yaml", TrainingConfig)
    params = dict(cfg.params)
    if job != "segments":
        params.update(n_estimators=80, learning_rate=0.1)
    else:
        params.update(n_clusters=4, n_init=3)
    return TrainingConfig.model_validate({**cfg.model_dump(), "params": params, **changes})


def mlflow_model(settings: Settings, name: str, version: str) -> Any:
    """A registered version, loaded as the estimator it was logged as."""
    import mlflow

    from customer_tiering.registry.tracking import use_store

    with use_store(settings):
        return mlflow.sklearn.load_model(f"models:/{name}/{version}")


def client_for(settings: Settings) -> MlflowClient:
    return MlflowClient(tracking_uri=settings.mlflow_uri, registry_uri=settings.mlflow_uri)


def test_shipped_training_configs_load() -> None:
    for job in ("segments", "churn", "value"):
        cfg = load_yaml_model(CONFIG_DIR / f"{job}.yaml", TrainingConfig)
        assert cfg.job == job


def test_a_misspelt_hyperparameter_names_the_file_and_field(tmp_path: Path) -> None:
    text = (CONFIG_DIR / "churn.yaml").read_text(encoding="utf-8").replace(
        "  max_depth: 5", "  max_dept: 5")
    path = tmp_path / "churn.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_yaml_model(path, TrainingConfig)
    assert err.value.field == "params.max_dept"
    assert "max_dept: 5" in text.splitlines()[err.value.line - 1]


def test_a_plan_whose_purge_leaves_no_training_date_names_the_field(tmp_path: Path) -> None:
    text = (CONFIG_DIR / "churn.yaml").read_text(encoding="utf-8").replace(
        "  snapshots: 8 ", "  snapshots: 3 ")
    path = tmp_path / "churn.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="at least 4 snapshots") as err:
        load_yaml_model(path, TrainingConfig)
    assert err.value.field == "data.snapshots"


def test_the_label_horizon_is_set_by_the_plan_not_the_params() -> None:
    with pytest.raises(ValueError, match=r"data\.horizon_days"):
        small("value", params={"label_horizon_days": 30})
    model = make_estimator("churn", {}, horizon_days=60)
    assert model.label_horizon_days == 60


def test_holdout_comes_after_every_training_label_window() -> None:
    cfg = small("churn")
    train, holdout = plan_dates(AS_OF, cfg.data)
    assert holdout == date(2025, 10, 2)
    assert len(train) == cfg.data.snapshots and train == sorted(train)
    # the latest training labels end on or before the holdout date: nothing about it is seen
    assert (pd.Timestamp(train[-1]) + pd.Timedelta(days=cfg.data.horizon_days)) <= pd.Timestamp(
        holdout)


def test_churn_run_holds_params_metrics_artifacts_and_the_registered_model(
    clean_data: Path, mlflow_settings: Settings
) -> None:
    result = train_job("churn", small("churn"), data_dir=clean_data, as_of=AS_OF,
                       settings=mlflow_settings)
    client = client_for(mlflow_settings)
    run = client.get_run(result.run_id)
    assert run.info.run_name == "churn-h90-2025-12-31"
    assert run.data.tags["horizon_days"] == "90"
    assert run.data.params["as_of"] == "2025-12-31"
    assert run.data.params["holdout_as_of"] == "2025-10-02"
    assert run.data.params["params.n_estimators"] == "80"
    for key in ("holdout_roc_auc.model", "holdout_roc_auc.bgnbd", "holdout_brier.model",
                "holdout_roc_auc.days_since_last_order", "holdout_roc_auc.rfm_score"):
        assert key in run.data.metrics, key
    assert run.data.metrics["holdout_roc_auc.model"] == pytest.approx(
        result.metrics.loc["model", "roc_auc"])
    assert run.data.metrics["holdout_roc_auc.model"] > 0.7
    assert {"seconds.snapshots", "seconds.fit", "seconds.holdout_and_baselines"} <= set(
        run.data.metrics)
    assert 1 <= run.data.metrics["boosting_rounds"] <= 80
    artifacts = {a.path for a in client.list_artifacts(result.run_id)}
    assert {"model_card.md", "config.json", "figures", "metrics"} <= artifacts
    card = Path(client.download_artifacts(result.run_id, "model_card.md")).read_text("utf-8")
    rounds = int(run.data.metrics["boosting_rounds"])
    assert (f"early stopping chose {rounds} rounds on the validation snapshot 2025-07-04"
            in card) and "refit on every training snapshot" in card
    figures = {a.path for a in client.list_artifacts(result.run_id, "figures")}
    assert figures == {"figures/calibration_curve.png", "figures/shap_summary.png"}
    tables = {a.path for a in client.list_artifacts(result.run_id, "metrics")}
    assert {"metrics/holdout.csv", "metrics/calibration_table.csv"} <= tables
    version = client.get_model_version("tiering-churn", result.version)
    assert version.tags["config_hash"] == run.data.tags["config_hash"]
    # no champion before: the best scorer on the holdout serves, the candidate or a baseline
    table = result.metrics["roc_auc"]
    assert result.serves == table.idxmax()
    assert (result.alias == "champion") == (result.serves == "model")
    champion = client.get_model_version_by_alias("tiering-churn", "champion")
    assert str(champion.version) == result.champion_version
    assert run.data.tags["registered.version"] == result.version
    assert champion.tags["scorer.kind"] == ("model" if result.serves == "model" else "baseline")
    # descriptions: what it predicts, on what data, how it was gated
    assert "no order with a positive amount" in client.get_registered_model(
        "tiering-churn").description
    described = client.get_model_version("tiering-churn", result.version).description
    holdout = result.metrics["roc_auc"]
    assert ("Predicts the probability that a customer places no order with a positive amount "
            "in the 90 days") in described
    assert "As of 2025-12-31" in described and run.data.tags["dataset_fingerprint"] in described
    holdout_customers = int(run.data.params["holdout_customers"])
    assert f"Holdout 2025-10-02 ({holdout_customers:,} customers" in described
    assert f"| this run's model | {holdout['model']:.4f} |" in described
    assert f"| baseline bgnbd | {holdout['bgnbd']:.4f} |" in described
    assert "- no champion before this run" in described
    passed = run.data.tags["gate.passed"] == "true"
    assert ("roc_auc (higher is better, margin 0.005): "
            + ("passed" if passed else "not passed")) in described
    assert f"registered it:** `{result.alias}`" in described
    if result.serves != "model":  # a baseline serves: its own version says so
        baseline = client.get_model_version("tiering-churn", result.champion_version)
        assert f"the baseline `{result.serves}`" in baseline.description


def test_the_served_version_is_a_refit_that_learnt_the_holdout(clean_data: Path,
                                                               mlflow_settings: Settings) -> None:
    cfg = small("churn")
    result = train_job("churn", cfg, data_dir=clean_data, as_of=AS_OF, settings=mlflow_settings)
    client = client_for(mlflow_settings)
    run = client.get_run(result.run_id)
    train_dates, holdout = plan_dates(AS_OF, cfg.data)
    assert run.data.params["serves"] == result.serves
    assert run.data.params["served_training_dates"].split(",")[-1] == str(holdout)
    # the gate's numbers are the pre-refit fit's: the candidate never saw the holdout
    assert run.data.metrics["holdout_roc_auc.model"] == pytest.approx(
        result.metrics.loc["model", "roc_auc"])
    version = client.get_model_version("tiering-churn", result.version)
    assert version.tags["served.refit"] == "true"
    assert version.tags["gate.holdout_as_of"] == str(holdout)
    served = load_version("tiering-churn", settings=mlflow_settings,
                          alias=result.alias).model if result.serves == "model" else None
    registered = mlflow_model(mlflow_settings, "tiering-churn", result.version)
    learnt = [str(pd.Timestamp(d).date()) for d in registered.training_dates_]
    assert learnt == [*(str(d) for d in train_dates), str(holdout)]
    assert registered.validation_dates_[-1] == np.datetime64(str(holdout))
    assert registered.fixed_rounds == int(run.data.metrics["boosting_rounds"])
    if served is not None:
        assert served.training_dates_[-1] == registered.training_dates_[-1]
    card = Path(client.download_artifacts(result.run_id, "model_card.md")).read_text("utf-8")
    assert f"the registered model is a refit on {len(train_dates) + 1} snapshot dates" in card


def test_alias_moves_only_when_the_gate_passes(clean_data: Path, mlflow_settings: Settings
                                               ) -> None:
    searched = small("segments", params={"n_clusters": None, "k_range": [2, 4], "n_init": 2})
    first = train_job("segments", searched, data_dir=clean_data, as_of=AS_OF,
                      settings=mlflow_settings)
    assert first.alias == "champion"  # nothing to beat yet: segments have no baseline
    logged = client_for(mlflow_settings).get_run(first.run_id).data.metrics
    assert {"k_search.silhouette.k2", "k_search.silhouette.k3", "k_search.silhouette.k4"} <= set(
        logged)
    second = train_job("segments", searched, data_dir=clean_data, as_of=AS_OF,
                       settings=mlflow_settings)
    # the same fit again is not strictly better than the champion: it stays a challenger
    assert second.alias == "challenger"
    client = client_for(mlflow_settings)
    assert str(client.get_model_version_by_alias("tiering-segments", "champion").version) == "1"
    _the_alias_is_the_registrys_after_promote_and_rollback(client, first, second)
    impossible = small("churn", gate={"metric": "roc_auc", "margin": 1.0})
    churn = train_job("churn", impossible, data_dir=clean_data, as_of=AS_OF,
                      settings=mlflow_settings)
    assert any("does not beat" in r for r in churn.reasons)
    # the gate failed, yet something serves: the best scorer of the run (nothing to replace)
    assert churn.champion_version is not None
    served = client.get_model_version_by_alias("tiering-churn", "champion")
    assert str(served.version) == churn.champion_version
    # a second run that cannot beat that champion by the margin leaves it serving
    again = train_job("churn", impossible, data_dir=clean_data, as_of=AS_OF,
                      settings=mlflow_settings)
    assert again.alias == "challenger" and again.serves == "champion"
    assert str(client.get_model_version_by_alias("tiering-churn", "champion").version) == (
        churn.champion_version)


def _the_alias_is_the_registrys_after_promote_and_rollback(
        client: MlflowClient, first: Any, second: Any) -> None:
    """Runs record no alias (it would go stale); descriptions say theirs is history."""
    name = "tiering-segments"
    for result in (first, second):
        run = client.get_run(result.run_id)
        assert run.info.run_name == "segments-h90-2025-12-31"
        assert not {"alias", "champion_version"} & set(run.data.tags)
        assert run.data.tags["registered.version"] == result.version
    described = client.get_model_version(name, second.version).description
    assert "Predicts the segment of each customer" in described
    assert "registered it:** `challenger`" in described
    assert "the registry's aliases are the current ones" in described
    promote(client, name, second.version, reason="test: by hand")
    assert champion_version(client, name) == second.version
    assert client.get_model_version(name, second.version).aliases == ["champion"]
    assert rollback(client, name) == first.version
    assert champion_version(client, name) == first.version
    assert client.get_model_version(name, second.version).aliases == []
    for result in (first, second):  # still no run tag claiming an alias
        assert "alias" not in client.get_run(result.run_id).data.tags


def test_training_in_a_copied_store_compares_with_its_champion_without_the_original(
    clean_data: Path, _mlflow_template_db: Path, tmp_path: Path
) -> None:
    original, copy = tmp_path / "original", tmp_path / "copy"
    (original / "models").mkdir(parents=True)
    shutil.copyfile(_mlflow_template_db, original / "models" / "mlflow.db")
    cfg = small("segments")

    def settings(root: Path) -> Settings:
        return Settings(mlflow_uri=f"sqlite:///{root / 'models' / 'mlflow.db'}",
                        data_dir=tmp_path / "data")

    first = train_job("segments", cfg, data_dir=clean_data, as_of=AS_OF,
                      settings=settings(original))
    shutil.copytree(original / "models", copy / "models")
    shutil.rmtree(original)  # the champion re-scored below can only come from the copy
    second = train_job("segments", cfg, data_dir=clean_data, as_of=AS_OF, settings=settings(copy))
    assert not original.exists()
    assert (second.version, second.metrics.index.tolist()) == ("2", ["model", "champion"])
    client = client_for(settings(copy))
    assert client.get_run(second.run_id).info.artifact_uri.startswith(
        (copy / "models" / "artifacts").as_uri())
    assert champion_version(client, "tiering-segments") == first.version


def test_rollback_restores_the_previous_champion_and_reload_predicts_the_same(
    clean_data: Path, mlflow_settings: Settings
) -> None:
    cfg = small("value", gate={"metric": "capture_top20", "margin": 0.0})
    first = train_job("value", cfg, data_dir=clean_data, as_of=AS_OF, settings=mlflow_settings)
    second = train_job("value", cfg, data_dir=clean_data, as_of=AS_OF, settings=mlflow_settings)
    client = client_for(mlflow_settings)
    if first.alias != "champion":
        promote(client, "tiering-value", first.version, reason="first")
    assert second.alias == "challenger"  # identical metrics are not strictly better
    promote(client, "tiering-value", second.version, reason="test")
    assert rollback(client, "tiering-value") == first.version
    assert str(client.get_model_version_by_alias("tiering-value", "champion").version) == first.version
    # reproducible: same data, config and seed give identical metrics
    pd.testing.assert_frame_equal(first.metrics, second.metrics.drop(index="champion"))
    # the first version learnt this holdout (a serving refit): it is not re-scored there, its
    # own run's number on the same holdout stands in for it
    assert second.metrics.loc["champion", "capture_top20"] == pytest.approx(
        first.metrics.loc["model", "capture_top20"])
    card = Path(client.download_artifacts(second.run_id, "model_card.md")).read_text("utf-8")
    assert f"champion version {first.version} learnt this holdout" in card
    # the reloaded champion predicts exactly what the same refit in memory predicts
    reloaded = load_version("tiering-value", settings=mlflow_settings).model
    frame = compute_features(clean_data / "transactions.parquet", clean_data / "customers.parquet",
                             clean_data / "interactions.parquet", as_of=AS_OF)
    train_dates, holdout = plan_dates(AS_OF, cfg.data)
    snaps = build_snapshots(clean_data / "transactions.parquet", clean_data / "customers.parquet",
                            clean_data / "interactions.parquet",
                            as_of_dates=[*train_dates, holdout])
    snaps = snaps[snaps["days_since_last_order"] <= 365]
    in_memory = make_estimator("value", cfg.params, features=cfg.model_features(), seed=cfg.seed,
                               horizon_days=cfg.data.horizon_days)
    in_memory.set_params(fixed_rounds=reloaded.best_iteration_)
    in_memory.fit(snaps, snaps["future_amount"], as_of=snaps["as_of"])
    np.testing.assert_array_equal(reloaded.predict(frame), in_memory.predict(frame))


def test_train_all_nests_one_run_per_job_under_a_parent(clean_data: Path,
                                                        mlflow_settings: Settings) -> None:
    configs = {job: small(job) for job in ("segments", "churn", "value")}
    results = train_all(configs, data_dir=clean_data, as_of=AS_OF, settings=mlflow_settings)
    assert [r.job for r in results] == ["segments", "churn", "value"]
    client = client_for(mlflow_settings)
    parents = {client.get_run(r.run_id).data.tags["mlflow.parentRunId"] for r in results}
    assert len(parents) == 1
    parent = client.get_run(parents.pop())
    assert parent.data.tags["job"] == "all"
    assert parent.info.run_name == "all-h90-2025-12-31"
    assert [client.get_run(r.run_id).info.run_name for r in results] == [
        "segments-h90-2025-12-31", "churn-h90-2025-12-31", "value-h90-2025-12-31"]
    # churn and value share one snapshot plan: built once, by the parent
    assert "seconds.shared_snapshots.churn" in parent.data.metrics
    assert "seconds.shared_snapshots.value" not in parent.data.metrics
    assert parent.data.tags["churn.version"] == results[1].version  # the alias is the registry's


def test_train_command_prints_metrics_and_the_alias(clean_data: Path, mlflow_settings: Settings,
                                                    monkeypatch: pytest.MonkeyPatch,
                                                    tmp_path: Path) -> None:
    monkeypatch.setenv("TIERING_MLFLOW_URI", mlflow_settings.mlflow_uri)
    config = tmp_path / "value.yaml"
    config.write_text(small("value").model_dump_json(), encoding="utf-8")
    result = CliRunner().invoke(app, ["train", "value", "--as-of", "2025-12-31", "--data",
                                      str(clean_data), "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "tiering-value version 1" in result.output
    assert "capture_top20" in result.output and "bgnbd_gamma_gamma" in result.output
    # where to look: the store's UI command and a page that opens on the runs table
    assert f"mlflow ui --backend-store-uri {mlflow_settings.mlflow_uri}" in result.output
    assert "/runs?workflowType=machine_learning" in result.output
    bad = CliRunner().invoke(app, ["train", "everything", "--as-of", "2025-12-31"])
    assert bad.exit_code == 2 and "use segments, churn, value or all" in bad.output
